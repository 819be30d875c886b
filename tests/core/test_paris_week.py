"""The Monday of the Paris week in SQL (`core.clock.ParisMonday`), from which the dashboard's
tally keeps its weeks (and a VA decision its week): the same day as Python's reading of the
instant (`core.clock.paris_monday`), around midnight and across the changes of daylight-saving
time, on either database."""

import datetime as dt

import pytest
from django.db import connection
from django.db.models import DateField, DateTimeField, Value
from django.db.models.sql import Query
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import ParisMonday, paris_monday, paris_week_bounds
from sons.models import PurchaseOrder


def in_sql(value, field) -> dt.date:
    """SELECT ParisMonday(value) on the test database."""
    query = Query(PurchaseOrder)
    expression = ParisMonday(Value(value, output_field=field)).resolve_expression(query)
    sql, params = query.get_compiler(connection=connection).compile(expression)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        found = cursor.fetchone()[0]
    return dt.date.fromisoformat(found) if isinstance(found, str) else found


# Hypothesis takes naive bounds and gives instants in the zones drawn from `timezones`.
INSTANTS = st.datetimes(
    min_value=dt.datetime(2021, 1, 1),  # noqa: DTZ001
    max_value=dt.datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(dt.UTC),
)


@pytest.mark.django_db
@settings(max_examples=150, deadline=None)
@given(INSTANTS)
def test_an_instant_falls_in_its_paris_week(instant):
    assert in_sql(instant, DateTimeField()) == paris_monday(instant)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("utc", "monday"),
    [
        # Sunday 23:30 in Paris (winter, UTC+1) is still the week of the Monday before…
        (dt.datetime(2023, 1, 15, 22, 30, tzinfo=dt.UTC), dt.date(2023, 1, 9)),
        # …and Monday 00:30 in Paris, a Sunday in UTC, starts the next one.
        (dt.datetime(2023, 1, 15, 23, 30, tzinfo=dt.UTC), dt.date(2023, 1, 16)),
        # Summer (UTC+2): Monday 00:30 in Paris is Sunday 22:30 UTC.
        (dt.datetime(2023, 7, 16, 22, 30, tzinfo=dt.UTC), dt.date(2023, 7, 17)),
        (dt.datetime(2023, 7, 16, 21, 30, tzinfo=dt.UTC), dt.date(2023, 7, 10)),
        # The night the clocks go forward (Sunday 26/03/2023, 02:00 → 03:00).
        (dt.datetime(2023, 3, 26, 1, 30, tzinfo=dt.UTC), dt.date(2023, 3, 20)),
        (dt.datetime(2023, 3, 26, 22, 0, tzinfo=dt.UTC), dt.date(2023, 3, 27)),
    ],
)
def test_the_week_turns_at_midnight_in_paris(utc, monday):
    assert in_sql(utc, DateTimeField()) == monday


@pytest.mark.django_db
@settings(max_examples=50, deadline=None)
@given(st.dates(min_value=dt.date(2021, 1, 1), max_value=dt.date(2027, 12, 31)))
def test_a_day_falls_in_its_week(day):
    assert in_sql(day, DateField()) == paris_monday(day)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("monday", "hours"),
    [
        (dt.date(2023, 3, 13), 168),
        (dt.date(2023, 3, 20), 167),  # summer time from Sunday 26/03 at 02:00
        (dt.date(2023, 10, 23), 169),  # winter time from Sunday 29/10 at 03:00
    ],
)
def test_a_week_starts_and_ends_at_midnight_in_paris(monday, hours):
    """The bounds of the week the dashboard's tally reads afresh are those of ParisMonday."""
    start, end = paris_week_bounds(monday)
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=hours)
    assert in_sql(start, DateTimeField()) == monday
    assert in_sql(end - dt.timedelta(microseconds=1), DateTimeField()) == monday
    assert in_sql(end, DateTimeField()) == monday + dt.timedelta(days=7)
