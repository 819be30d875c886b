"""Which calendar version applies at an instant: `deadlines_in_force` and its expression
`deadline_in_force_at` (the one place that chooses), judged on the Paris day of the act."""

import datetime as dt

import pytest
from django.db.models import OuterRef

from catalogue.catalogue import load_catalogue
from catalogue.deadlines import PARIS, DeadlineKind, parse_paris
from catalogue.models import CalendarVersion, Dispositif
from catalogue.selectors import (
    announced_deadlines,
    calendar_history,
    calendars_in_force,
    deadline_for,
    deadline_in_force_at,
    deadlines_in_force,
    judged_day,
    read_calendar,
)
from tests.factories import CalendarVersionFactory, DeadlineFactory, DispositifFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
FOUNDING_AT = parse_paris("2023-03-23T14:00")
MOVED_AT = parse_paris("2023-07-26T14:00")


def _calendar(*, published_on=None, in_force_on=None, founding_published_on=None):
    """A dispositif whose founding calendar sets the end of réalisation, and a modification
    moving it (published, applied from another day, or only announced)."""
    dispositif = DispositifFactory()
    founding = CalendarVersionFactory(
        dispositif=dispositif, founding=True, published_on=founding_published_on
    )
    DeadlineFactory(version=founding, kind=DeadlineKind.REALISATION, at=FOUNDING_AT)
    moved = CalendarVersionFactory(
        dispositif=dispositif, published_on=published_on, in_force_on=in_force_on
    )
    DeadlineFactory(version=moved, kind=DeadlineKind.REALISATION, at=MOVED_AT)
    return dispositif


def _realisation(dispositif, at):
    applied = deadline_for(dispositif=dispositif, kind=DeadlineKind.REALISATION, at=at)
    return applied.at if applied is not None else None


def test_the_newest_version_published_at_or_before_the_act_applies():
    dispositif = _calendar(published_on=dt.date(2023, 3, 10))
    assert _realisation(dispositif, parse_paris("2023-03-09T23:59:59.999999")) == FOUNDING_AT
    assert _realisation(dispositif, parse_paris("2023-03-10T00:00")) == MOVED_AT


def test_the_day_of_publication_is_the_paris_day_whatever_the_zone_of_the_act():
    dispositif = _calendar(published_on=dt.date(2023, 3, 10))
    # 23:30 UTC on the 9th is 00:30 on the 10th in Paris: the modification applies.
    assert _realisation(dispositif, dt.datetime(2023, 3, 9, 23, 30, tzinfo=UTC)) == MOVED_AT
    assert _realisation(dispositif, dt.datetime(2023, 3, 9, 22, 59, 59, tzinfo=UTC)) == FOUNDING_AT


def test_on_the_daylight_saving_day_the_version_applies_from_paris_midnight():
    # 26 March 2023 starts at 23:00 UTC on the 25th (CET); 29 October 2023 at 22:00 UTC (CEST).
    spring = _calendar(published_on=dt.date(2023, 3, 26))
    assert _realisation(spring, dt.datetime(2023, 3, 25, 22, 59, 59, tzinfo=UTC)) == FOUNDING_AT
    assert _realisation(spring, dt.datetime(2023, 3, 25, 23, 0, tzinfo=UTC)) == MOVED_AT
    autumn = _calendar(published_on=dt.date(2023, 10, 29))
    assert _realisation(autumn, dt.datetime(2023, 10, 28, 21, 59, 59, tzinfo=UTC)) == FOUNDING_AT
    assert _realisation(autumn, dt.datetime(2023, 10, 28, 22, 0, tzinfo=UTC)) == MOVED_AT


def test_the_day_it_applies_from_prevails_over_the_publication():
    dispositif = _calendar(published_on=dt.date(2023, 3, 10), in_force_on=dt.date(2023, 3, 11))
    assert _realisation(dispositif, parse_paris("2023-03-10T12:00")) == FOUNDING_AT
    assert _realisation(dispositif, parse_paris("2023-03-11T00:00")) == MOVED_AT


def test_an_announced_modification_never_applies():
    dispositif = _calendar()
    assert _realisation(dispositif, parse_paris("2030-01-01T00:00")) == FOUNDING_AT


def test_no_version_in_force_yet_gives_none_then_each_in_turn():
    dispositif = _calendar(
        founding_published_on=dt.date(2030, 1, 1), published_on=dt.date(2031, 1, 1)
    )
    assert _realisation(dispositif, parse_paris("2029-12-31T23:59:59")) is None
    assert deadlines_in_force(dispositif=dispositif, at=parse_paris("2029-12-31T23:59")) == {}
    assert _realisation(dispositif, parse_paris("2030-01-01T00:00")) == FOUNDING_AT
    assert _realisation(dispositif, parse_paris("2031-01-01T00:00")) == MOVED_AT


def test_a_correction_applies_at_once():
    """Nothing kept between two reads: an administrator's correction is the next answer."""
    dispositif = _calendar(published_on=dt.date(2023, 3, 10))
    at = parse_paris("2023-03-10T12:00")
    assert _realisation(dispositif, at) == MOVED_AT
    CalendarVersion.objects.filter(dispositif=dispositif, founding=False).update(
        published_on=dt.date(2023, 3, 11)
    )
    assert _realisation(dispositif, at) == FOUNDING_AT


def test_the_expression_gives_what_deadlines_in_force_gives_for_every_dispositif():
    load_catalogue()
    instants = [
        parse_paris(value)
        for value in ("2022-06-01T00:00", "2023-03-09T23:59:59", "2023-03-10T00:00", "2026-12-03")
    ] + [dt.datetime(2023, 5, 1, 21, 59, 59, tzinfo=UTC), dt.datetime(2023, 5, 1, 22, tzinfo=PARIS)]
    checked = 0
    for at in instants:
        annotated = Dispositif.objects.annotate(
            **{
                f"in_force_{kind}": deadline_in_force_at(
                    kind=kind, day=judged_day(at), dispositif=OuterRef("pk")
                )
                for kind in DeadlineKind.values
            }
        )
        for dispositif in annotated:
            applied = deadlines_in_force(dispositif=dispositif, at=at)
            for kind in DeadlineKind.values:
                expected = applied[kind].at if kind in applied else None
                assert getattr(dispositif, f"in_force_{kind}") == expected, (
                    dispositif.code,
                    kind,
                    at,
                )
                checked += expected is not None
    assert checked > 0


def test_the_calendars_of_every_dispositif_read_together_are_each_ones_own():
    """`calendars_in_force` (the dashboard's index, `passed_deadlines`, `upcoming_deadlines`)
    reads every dispositif's deadlines in one query: each gets what it gets alone."""
    load_catalogue()
    dispositifs = list(Dispositif.objects.order_by("code"))
    with_version = _calendar(published_on=dt.date(2023, 3, 10))  # one more, moved, dispositif
    dispositifs.append(with_version)
    compared = 0
    for at in (
        parse_paris("2022-06-01T00:00"),
        parse_paris("2023-03-10T00:00"),
        parse_paris("2026-12-03"),
    ):
        together = calendars_in_force(dispositifs=dispositifs, at=at)
        assert set(together) == {d.pk for d in dispositifs}
        for dispositif in dispositifs:
            alone = deadlines_in_force(dispositif=dispositif, at=at)
            assert together[dispositif.pk] == alone, (dispositif.code, at)
            compared += len(alone)
        kinds = calendars_in_force(dispositifs=dispositifs, at=at, kinds=["realisation"])
        assert all(set(found) <= {"realisation"} for found in kinds.values())
    assert compared > 0
    moved = {
        at: calendars_in_force(dispositifs=dispositifs, at=parse_paris(at))[with_version.pk]
        for at in ("2023-03-09T23:59:59", "2023-03-10T00:00")
    }
    assert [found["realisation"].at for found in moved.values()] == [FOUNDING_AT, MOVED_AT]


def test_one_read_of_the_calendar_gives_what_each_reader_gives(django_assert_num_queries):
    """`read_calendar` (the dashboard's page of a dispositif) judges every deadline of one read
    by the rules of `deadlines_in_force` and `announced_deadlines`, and leaves the versions it
    read for `calendar_history`: each gives what its reader gives alone."""
    load_catalogue()
    moved = _calendar(published_on=dt.date(2023, 3, 10))
    applied_later = _calendar(published_on=dt.date(2023, 3, 10), in_force_on=dt.date(2023, 3, 11))
    announced = _calendar()  # a modification announced, never applied
    not_yet = _calendar(founding_published_on=dt.date(2030, 1, 1), published_on=dt.date(2031, 1, 1))
    extra = [moved, applied_later, announced, not_yet]
    compared = 0
    for at in (
        parse_paris("2022-06-01T00:00"),
        parse_paris("2023-03-09T23:59:59"),
        parse_paris("2023-03-10T00:00"),
        parse_paris("2023-03-11T00:00"),
        dt.datetime(2023, 5, 1, 21, 59, 59, tzinfo=UTC),
        parse_paris("2026-12-03"),
        parse_paris("2031-01-01T00:00"),
    ):
        for dispositif in [*Dispositif.objects.order_by("code"), *extra]:
            read = Dispositif.objects.get(pk=dispositif.pk)
            with django_assert_num_queries(2):
                calendar = read_calendar(dispositif=read, at=at)
                history = [
                    (version.pk, [d.pk for d in version.deadlines.all()])
                    for version in calendar_history(dispositif=read)
                ]
            assert calendar.in_force == deadlines_in_force(dispositif=dispositif, at=at)
            alone = announced_deadlines(dispositif=dispositif)
            assert {k: d.pk for k, d in calendar.announced.items()} == {
                k: d.pk for k, d in alone.items()
            }
            assert history == [
                (version.pk, [d.pk for d in version.deadlines.all()])
                for version in calendar_history(dispositif=dispositif)
            ], (dispositif.code, at)
            compared += len(calendar.in_force) + len(calendar.announced)
    assert compared > 0
    pending = Dispositif.objects.get(pk=announced.pk)
    assert set(read_calendar(dispositif=pending, at=parse_paris("2030-01-01")).announced) == {
        DeadlineKind.REALISATION
    }


def test_the_calendar_read_again_is_judged_at_the_new_instant():
    dispositif = _calendar(published_on=dt.date(2023, 3, 10))
    before = read_calendar(dispositif=dispositif, at=parse_paris("2023-03-09T12:00"))
    after = read_calendar(dispositif=dispositif, at=parse_paris("2023-03-10T12:00"))
    assert before.in_force[DeadlineKind.REALISATION].at == FOUNDING_AT
    assert after.in_force[DeadlineKind.REALISATION].at == MOVED_AT
