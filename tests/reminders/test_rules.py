"""When a reminder is due: the thresholds at their boundary instants."""

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from reminders.rules import threshold_after, threshold_before
from tests.sons.factories import at_paris

DEADLINE = at_paris(2023, 9, 20, 14, 0)
DAY = dt.timedelta(days=1)
SECOND = dt.timedelta(seconds=1)
BEFORE = [30, 7, 1]


def test_the_thirty_day_reminder_starts_exactly_thirty_days_before():
    assert threshold_before(DEADLINE, DEADLINE - 30 * DAY - SECOND, BEFORE) is None
    assert threshold_before(DEADLINE, DEADLINE - 30 * DAY, BEFORE) == 30
    assert threshold_before(DEADLINE, DEADLINE - 7 * DAY - SECOND, BEFORE) == 30


def test_the_tightest_threshold_reached_wins_and_nothing_after_the_deadline():
    assert threshold_before(DEADLINE, DEADLINE - 5 * DAY, BEFORE) == 7
    assert threshold_before(DEADLINE, DEADLINE - SECOND, BEFORE) == 1
    assert threshold_before(DEADLINE, DEADLINE, BEFORE) is None


def test_days_are_calendar_days_on_the_paris_clock_across_the_daylight_saving_change():
    # 30 days before 20/11 14:00 (CET) is 21/10 at 14:00 too (CEST), not 30 x 24 h before.
    deadline = at_paris(2023, 11, 20, 14, 0)
    assert threshold_before(deadline, at_paris(2023, 10, 21, 13, 59), BEFORE) is None
    assert threshold_before(deadline, at_paris(2023, 10, 21, 14, 0), BEFORE) == 30
    # The same, whatever zone the stored deadline comes back in from the database.
    in_utc = deadline.astimezone(dt.UTC)
    assert threshold_before(in_utc, at_paris(2023, 10, 21, 13, 59), BEFORE) is None
    assert threshold_before(in_utc, at_paris(2023, 10, 21, 14, 0), BEFORE) == 30


def test_a_va_waits_seven_then_fourteen_days():
    issued = at_paris(2023, 3, 1, 9, 30)
    assert threshold_after(issued, issued + 7 * DAY - SECOND, [7, 14]) is None
    assert threshold_after(issued, issued + 7 * DAY, [7, 14]) == 7
    assert threshold_after(issued, issued + 14 * DAY, [7, 14]) == 14
    assert threshold_after(issued, issued + 90 * DAY, [7, 14]) == 14


@given(st.integers(min_value=-40 * 24 * 3600, max_value=40 * 24 * 3600))
def test_the_threshold_is_one_of_the_thresholds_and_tightens_as_the_deadline_nears(offset):
    at = DEADLINE + dt.timedelta(seconds=offset)
    chosen = threshold_before(DEADLINE, at, BEFORE)
    if chosen is None:
        assert at >= DEADLINE or at < DEADLINE - 30 * DAY
    else:
        assert chosen in BEFORE
        assert DEADLINE - chosen * DAY <= at < DEADLINE
        later = threshold_before(DEADLINE, at + 12 * 3600 * dt.timedelta(seconds=1), BEFORE)
        assert later is None or later <= chosen
