"""Readers of the catalogue: deadlines in force, calendar history, tariffs, published list."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    BooleanField,
    DateTimeField,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Window,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce, RowNumber
from django.utils.translation import gettext_lazy as _

from core.clock import require_aware
from core.errors import RuleViolation

from .deadlines import (
    NOT_PUBLISHED,
    PARIS,
    DeadlineKind,
    format_deadline,
    is_in_time,
)
from .models import (
    CalendarVersion,
    Deadline,
    Dispositif,
    Referencing,
    ReferencingStatus,
    Solution,
    SolutionVersion,
    Tariff,
    Vendor,
)
from .models.dispositif import Prestation
from .rules import Amount, compute_amount


@dataclass(frozen=True)
class AppliedDeadline:
    """A deadline as judged at an instant, with the calendar version it came from."""

    kind: str
    at: dt.datetime
    version: CalendarVersion
    hour_sourced: bool = True

    @property
    def shown(self) -> str:
        """« 14/12/2023 à 14:00 » or « 30/11/2022 (fin de journée) » (`format_deadline`)."""
        return format_deadline(self.at, hour_sourced=self.hour_sourced)

    def as_snapshot(self) -> dict[str, Any]:
        """What the journal keeps to justify a decision taken against this deadline."""
        return {
            "kind": self.kind,
            "deadline_at": self.at.astimezone(PARIS).isoformat(),
            "hour_sourced": self.hour_sourced,
            "calendar_version_id": self.version.pk,
            "legal_reference": self.version.legal_reference,
            "published_on": self.version.published_on.isoformat()
            if self.version.published_on
            else None,
        }


def shown_deadline(deadline: AppliedDeadline | None) -> str:
    """A deadline as every screen writes it, « non publiée » when none is in force."""
    return deadline.shown if deadline is not None else str(NOT_PUBLISHED)


def judged_day(at: dt.datetime) -> dt.date:
    """The Paris day of an act at `at`: a calendar version applies from 0:00 Paris of its day
    (`CalendarVersion.in_force_from`), so it is in force at `at` exactly when that day is on or
    before this one (a day starts before `at` exactly when it is not after `at`'s own day)."""
    return require_aware(at).astimezone(PARIS).date()


def _announced(prefix: str = "") -> Q:
    """A version announced (« arrêté à paraître »), not applied: no founding calendar, and
    neither published nor applied from a known day (`CalendarVersion.is_pending`). `prefix`
    leads from the rows judged to their version."""
    return Q(
        **{
            f"{prefix}founding": False,
            f"{prefix}published_on__isnull": True,
            f"{prefix}in_force_on__isnull": True,
        }
    )


def _applies_on(deadlines: QuerySet[Deadline], day: dt.date | Any) -> tuple[QuerySet, Q]:
    """`deadlines` with the day their version applies from, and the condition that their
    version applies on Paris day `day`: the newest version applied on or before that day; a
    founding calendar with no date applies from the start; an announced modification never."""
    aliased = deadlines.alias(
        applies_from=Coalesce("version__in_force_on", "version__published_on")
    )
    applies = ~_announced("version__") & (Q(applies_from__isnull=True) | Q(applies_from__lte=day))
    return aliased, applies


def _in_force_first() -> list:
    """The order of the deadlines a version applies (`_applies_on`), the one in force first:
    the newest version applied, a founding calendar with no date behind any dated one; between
    versions applied from the same day, CalendarVersion's own order decides."""
    return [
        F("applies_from").desc(nulls_last=True),
        "-version__founding",
        F("version__published_on").asc(nulls_last=True),
        "at",
        "pk",
    ]


def _in_force_on(deadlines: QuerySet[Deadline], day: dt.date | Any) -> QuerySet[Deadline]:
    """Those of `deadlines` whose calendar version is in force on Paris day `day` (a date, or
    an expression giving one), the one in force first (`_applies_on`, `_in_force_first`). The
    first row of one dispositif and kind is the deadline in force: the one place that says
    which version applies."""
    aliased, applies = _applies_on(deadlines, day)
    return aliased.filter(applies).order_by(*_in_force_first())


def deadline_in_force_at(*, kind: str, day: dt.date | Any, dispositif: Any = None) -> Subquery:
    """The instant of the deadline of `kind` in force on Paris day `day` (`judged_day`) for the
    outer row's dispositif (`OuterRef("dispositif")` unless given), NULL when none is published:
    `deadlines_in_force` as an expression, for a query judging many rows or several facts at
    once."""
    if dispositif is None:
        dispositif = OuterRef("dispositif")
    rows = Deadline.objects.filter(version__dispositif=dispositif, kind=kind)
    return Subquery(_in_force_on(rows, day).values("at")[:1], output_field=DateTimeField())


@functools.lru_cache(maxsize=256)
def _deadline_rows(
    dispositif_id: int, kinds: tuple[str, ...] | None, day: dt.date
) -> QuerySet[Deadline]:
    """The deadlines of a dispositif (of `kinds`, or all) in force on `day` first
    (`_in_force_on`), with their versions, built once per dispositif, kinds and day: building
    the query costs as much as running it. Never evaluated itself: each read runs a copy of it
    (`.all()`, as a view's `queryset`), so a correction of the calendar applies at once."""
    rows = Deadline.objects.filter(version__dispositif_id=dispositif_id)
    if kinds is not None:
        rows = rows.filter(kind__in=kinds)
    return _in_force_on(rows, day).select_related("version")


def deadlines_in_force(
    *, dispositif: Dispositif, at: dt.datetime, kinds: Iterable[str] | None = None
) -> dict[str, AppliedDeadline]:
    """The deadlines of `kinds` (every kind when None) that apply to `dispositif` for an act
    done at instant `at`, by kind, in one query; a kind no version in force at `at` sets is
    absent (its date is not public yet)."""
    rows = _deadline_rows(
        dispositif.pk, tuple(kinds) if kinds is not None else None, judged_day(at)
    )
    return _first_of_each_kind(rows.all()).get(dispositif.pk, {})


def calendars_in_force(
    *, dispositifs: Iterable[Dispositif], at: dt.datetime, kinds: Iterable[str] | None = None
) -> dict[int, dict[str, AppliedDeadline]]:
    """`deadlines_in_force` of each of `dispositifs`, by dispositif id (an empty dict for one
    with none in force), in one query whatever their number."""
    ids = [dispositif.pk for dispositif in dispositifs]
    rows = Deadline.objects.filter(version__dispositif_id__in=ids)
    if kinds is not None:
        rows = rows.filter(kind__in=list(kinds))
    found = _first_of_each_kind(_in_force_on(rows, judged_day(at)).select_related("version"))
    return {pk: found.get(pk, {}) for pk in ids}


def _first_of_each_kind(rows: Iterable[Deadline]) -> dict[int, dict[str, AppliedDeadline]]:
    """Deadlines read in the order `_in_force_on` gives (each dispositif's rows in force first,
    whatever other dispositifs' rows lie between them): the first of each dispositif and kind
    is the one in force. By dispositif id, then kind, in the order of the kinds."""
    first: dict[int, dict[str, Deadline]] = {}
    for row in rows:
        first.setdefault(row.version.dispositif_id, {}).setdefault(row.kind, row)
    return {
        pk: {kind: _applied(found[kind]) for kind in DeadlineKind.values if kind in found}
        for pk, found in first.items()
    }


def deadline_for(*, dispositif: Dispositif, kind: str, at: dt.datetime) -> AppliedDeadline | None:
    """Which deadline of kind `kind` applies to `dispositif` for an act done at instant `at`.

    None when no calendar version in force at `at` sets that kind (the date is not public yet).
    """
    return deadlines_in_force(dispositif=dispositif, at=at, kinds=[kind]).get(kind)


def _applied(row: Deadline) -> AppliedDeadline:
    return AppliedDeadline(
        kind=row.kind, at=row.at, version=row.version, hour_sourced=row.hour_sourced
    )


def passed_deadlines(
    *, dispositifs: QuerySet[Dispositif], kind: str, at: dt.datetime
) -> list[tuple[Dispositif, AppliedDeadline]]:
    """The dispositifs whose deadline of kind `kind`, as in force at `at`, has passed by `at`
    (their deadlines read in one query, so that callers can then select their rows
    set-based)."""
    passed = []
    for dispositif, deadline in _deadline_of_each(dispositifs, kind, at):
        if deadline is not None and is_past(deadline.at, at):
            passed.append((dispositif, deadline))
    return passed


def upcoming_deadlines(
    *, dispositifs: QuerySet[Dispositif], kind: str, at: dt.datetime, within: dt.timedelta
) -> list[tuple[Dispositif, AppliedDeadline]]:
    """The dispositifs whose deadline of kind `kind`, as in force at `at`, is still ahead of
    `at` but no further than `within` (their deadlines read in one query, like
    `passed_deadlines`)."""
    return [
        (dispositif, deadline)
        for dispositif, deadline in _deadline_of_each(dispositifs, kind, at)
        if is_upcoming(deadline, at=at, within=within)
    ]


def is_upcoming(deadline: AppliedDeadline | None, *, at: dt.datetime, within: dt.timedelta) -> bool:
    """A deadline in force is still ahead of `at` (`is_in_time`) but no further than
    `within`: what `upcoming_deadlines` keeps, read on a calendar already in hand."""
    return deadline is not None and is_in_time(at, deadline.at) and deadline.at <= at + within


def _deadline_of_each(
    dispositifs: QuerySet[Dispositif], kind: str, at: dt.datetime
) -> list[tuple[Dispositif, AppliedDeadline | None]]:
    """Each of `dispositifs` (once) and its deadline of kind `kind` in force at `at`."""
    listed = list(dispositifs.distinct())
    calendars = calendars_in_force(dispositifs=listed, at=at, kinds=[kind])
    return [(dispositif, calendars[dispositif.pk].get(kind)) for dispositif in listed]


def calendar_in_force(*, dispositif: Dispositif, at: dt.datetime) -> dict[str, AppliedDeadline]:
    """Every deadline kind known for the dispositif, as in force at `at`."""
    return deadlines_in_force(dispositif=dispositif, at=at)


def announced_deadlines(*, dispositif: Dispositif) -> dict[str, Deadline]:
    """The deadlines of announced versions (« arrêté à paraître ») not applied yet, by kind:
    shown as announced beside the calendar in force, never enforced."""
    rows = Deadline.objects.filter(_announced("version__"), version__dispositif=dispositif)
    return {d.kind: d for d in rows.select_related("version").order_by("version_id")}


@dataclass(frozen=True)
class DispositifCalendar:
    """A dispositif's calendar as a page shows it at an instant: `calendar_in_force` and
    `announced_deadlines`, from one read of its versions and deadlines, which stay on the
    dispositif for `calendar_history` (`read_calendar`)."""

    in_force: dict[str, AppliedDeadline]
    announced: dict[str, Deadline]


@functools.lru_cache(maxsize=256)
def _calendar_rows(day: dt.date) -> QuerySet[Deadline]:
    """Deadlines (history order: by instant) each judged on Paris day `day` by the rule of
    `_in_force_on`, `in_force_rank` 1 and `applies_on_day` for the one in force of its
    dispositif and kind, and by the rule of `announced_deadlines` (`is_announced`). Built once
    per day, as `_deadline_rows`, and never evaluated itself: each read runs a copy of it."""
    aliased, applies = _applies_on(Deadline.objects.order_by("at", "pk"), day)
    return aliased.annotate(
        applies_on_day=ExpressionWrapper(applies, output_field=BooleanField()),
        # 1 for the first deadline of its dispositif and kind among those applying (or not).
        in_force_rank=Window(
            RowNumber(),
            partition_by=[F("version__dispositif_id"), F("kind"), F("applies_on_day")],
            order_by=_in_force_first(),
        ),
        is_announced=ExpressionWrapper(_announced("version__"), output_field=BooleanField()),
    )


def read_calendar(*, dispositif: Dispositif, at: dt.datetime) -> DispositifCalendar:
    """The dispositif's calendar in force at `at` and its announced deadlines, from one read of
    its versions and their deadlines (two queries), kept on `dispositif` so that
    `calendar_history` reads them from there. Each deadline is judged in the same query by the
    rule of `_in_force_on` (which version applies, the one in force first) and of
    `announced_deadlines` (`_calendar_rows`), so the three agree with the readers that query
    them one by one."""
    deadlines = _calendar_rows(judged_day(at)).all()
    # Read afresh and judged at `at`, whatever was kept on the dispositif before.
    getattr(dispositif, "_prefetched_objects_cache", {}).pop("calendar_versions", None)
    prefetch_related_objects(
        [dispositif],
        Prefetch(
            "calendar_versions",
            queryset=CalendarVersion.objects.prefetch_related(
                Prefetch("deadlines", queryset=deadlines)
            ),
        ),
    )
    in_force: dict[str, Deadline] = {}
    announced: dict[str, Deadline] = {}
    for version in sorted(dispositif.calendar_versions.all(), key=lambda v: v.pk):
        for row in version.deadlines.all():
            if row.applies_on_day and row.in_force_rank == 1:
                in_force[row.kind] = row
            if row.is_announced:
                announced[row.kind] = row  # by version_id, as `announced_deadlines`
    return DispositifCalendar(
        in_force={
            kind: _applied(in_force[kind]) for kind in DeadlineKind.values if kind in in_force
        },
        announced=announced,
    )


def calendar_history(*, dispositif: Dispositif) -> QuerySet[CalendarVersion]:
    """Every published version, oldest first, with the deadlines it set or moved (those
    `read_calendar` kept on the dispositif, when it read them for the same page)."""
    read = getattr(dispositif, "_prefetched_objects_cache", {}).get("calendar_versions")
    if read is not None and all(
        "deadlines" in getattr(version, "_prefetched_objects_cache", {}) for version in read
    ):
        return read
    return dispositif.calendar_versions.prefetch_related(
        # Deadlines of the same instant in the order they were entered.
        Prefetch("deadlines", queryset=Deadline.objects.order_by("at", "pk"))
    )


def price(
    *, dispositif: Dispositif, characteristics: Mapping[str, object], prestation: str = "main"
) -> tuple[Tariff, Amount]:
    """The tariff that applies and the amount (HT and TTC, cents) it gives for a client."""
    tariff = (
        Tariff.objects.filter(dispositif=dispositif, prestation=prestation)
        .prefetch_related("tiers", "terms")
        .first()
    )
    if tariff is None:
        raise RuleViolation(
            "tariff_missing",
            _("Aucun barème n'est connu pour la %(prestation)s du dispositif %(code)s."),
            prestation=str(Prestation(prestation).label).lower(),
            code=dispositif.code,
        )
    return tariff, compute_amount(tariff.spec(), characteristics)


def published_referencings() -> QuerySet[Referencing]:
    """Referenced solution versions, as the public list shows them."""
    return (
        Referencing.objects.filter(status=ReferencingStatus.REFERENCED)
        .select_related("dispositif", "solution_version__solution__editor", "vendor")
        .order_by(
            "dispositif__vague",
            "dispositif__couloir",
            "dispositif__code",
            "solution_version__solution__name",
            "solution_version__version",
        )
    )


def vendor_may_distribute(*, vendor: Vendor, solution: Solution, at: dt.datetime) -> bool:
    """The éditeur of the solution, or a distributeur under a mandate valid on that day."""
    if vendor.pk == solution.editor_id:
        return True
    if vendor.kind != Vendor.Kind.DISTRIBUTEUR:
        return False
    day = at.astimezone(PARIS).date()
    return any(m.covers(day) for m in vendor.mandates_received.filter(editor_id=solution.editor_id))


def is_past(deadline_at: dt.datetime | None, at: dt.datetime) -> bool:
    """A deadline is published (`deadline_at`, None when none is) and an act at `at` is no
    longer in time for it (`is_in_time`)."""
    return deadline_at is not None and not is_in_time(at, deadline_at)


def no_longer_in_time(deadline: AppliedDeadline | None, at: dt.datetime) -> AppliedDeadline | None:
    """`deadline` when an act at `at` is no longer in time for it; None when it is in time or
    there is no deadline (none published)."""
    if deadline is None or not is_past(deadline.at, at):
        return None
    return deadline


def deadline_passed(
    *, dispositif: Dispositif, kind: str, at: dt.datetime
) -> AppliedDeadline | None:
    """The deadline of kind `kind` in force at `at` when an act at `at` is no longer in time
    for it; None when it is in time or no deadline of that kind is published."""
    return no_longer_in_time(deadline_for(dispositif=dispositif, kind=kind, at=at), at)


def referencing_in_force(
    *, solution_version: SolutionVersion, dispositif: Dispositif, at: dt.datetime
) -> Referencing | None:
    """The referencing that makes the version orderable under the dispositif at instant `at`."""
    candidates = Referencing.objects.filter(
        solution_version=solution_version,
        dispositif=dispositif,
        status__in=[ReferencingStatus.REFERENCED, ReferencingStatus.WITHDRAWN],
    )
    return next((r for r in candidates if r.in_force_at(at)), None)
