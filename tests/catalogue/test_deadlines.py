"""The deadline rules, without a database: Paris wall-clock, strictness, versions, windows."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalogue.deadlines import (
    PARIS,
    is_in_time,
    paris_instant,
    parse_paris,
    window_end,
)

UTC = dt.UTC


def test_14h_paris_in_winter_is_13h_utc():
    assert paris_instant(dt.date(2023, 12, 14), dt.time(14)) == dt.datetime(
        2023, 12, 14, 13, 0, tzinfo=UTC
    )


def test_14h_paris_in_summer_is_12h_utc():
    assert paris_instant(dt.date(2023, 7, 26), dt.time(14)) == dt.datetime(
        2023, 7, 26, 12, 0, tzinfo=UTC
    )


def test_one_second_before_the_cutoff_is_in_time_and_the_cutoff_itself_is_not():
    deadline = parse_paris("2023-12-14T14:00")
    assert is_in_time(parse_paris("2023-12-14T13:59:59"), deadline)
    assert not is_in_time(parse_paris("2023-12-14T14:00:00"), deadline)
    assert not is_in_time(parse_paris("2023-12-14T14:01:00"), deadline)


def test_an_act_in_another_time_zone_is_judged_on_the_same_instant():
    deadline = parse_paris("2023-12-14T14:00")
    # 13:30 UTC is 14:30 in Paris in December: late, whatever zone the client sent.
    assert not is_in_time(dt.datetime(2023, 12, 14, 13, 30, tzinfo=UTC), deadline)
    # 08:59:59 in New York is 14:59:59 Paris: late too.
    assert not is_in_time(
        dt.datetime(2023, 12, 14, 8, 59, 59, tzinfo=ZoneInfo("America/New_York")), deadline
    )
    assert is_in_time(dt.datetime(2023, 12, 14, 12, 59, 59, tzinfo=UTC), deadline)


def test_on_the_daylight_saving_day_the_cutoff_follows_the_paris_clock():
    # 26 March 2023: clocks jump from 02:00 to 03:00; 14:00 Paris is 12:00 UTC, not 13:00.
    deadline = paris_instant(dt.date(2023, 3, 26), dt.time(14))
    assert deadline == dt.datetime(2023, 3, 26, 12, 0, tzinfo=UTC)
    assert is_in_time(dt.datetime(2023, 3, 26, 11, 59, 59, tzinfo=UTC), deadline)
    assert not is_in_time(dt.datetime(2023, 3, 26, 12, 0, 0, tzinfo=UTC), deadline)
    # 29 October 2023: back from CEST to CET, 14:00 Paris is 13:00 UTC.
    autumn = paris_instant(dt.date(2023, 10, 29), dt.time(14))
    assert autumn == dt.datetime(2023, 10, 29, 13, 0, tzinfo=UTC)


def test_naive_instants_are_refused():
    with pytest.raises(ValueError):
        is_in_time(dt.datetime(2023, 1, 1), parse_paris("2023-12-14T14:00"))  # noqa: DTZ001


def test_window_in_months_counts_calendar_months_in_paris():
    signed = parse_paris("2022-03-15T10:00")
    assert window_end(signed, 4, "months") == parse_paris("2022-07-15T10:00")
    # 31 October + 4 months: end of February.
    assert window_end(parse_paris("2022-10-31T09:00"), 4, "months") == parse_paris(
        "2023-02-28T09:00"
    )


def test_window_in_days_across_a_daylight_saving_change_keeps_the_wall_clock():
    start = parse_paris("2023-03-20T14:00")  # CET
    end = window_end(start, 120, "days")
    assert end == parse_paris("2023-07-18T14:00")  # CEST, same wall-clock time
    assert end.astimezone(UTC) - start.astimezone(UTC) == dt.timedelta(days=120, hours=-1)


@given(
    st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 12, 31)),  # noqa: DTZ001
    st.integers(min_value=-86400 * 3, max_value=86400 * 3),
)
def test_in_time_is_exactly_before_the_deadline(naive, offset_seconds):
    deadline = naive.replace(tzinfo=PARIS)
    act = deadline + dt.timedelta(seconds=offset_seconds)
    assert is_in_time(act, deadline) is (offset_seconds < 0)
