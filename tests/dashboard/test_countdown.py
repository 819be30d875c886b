"""Countdowns: Paris calendar days, hours under two days, passed at the cut-off instant."""

import datetime as dt

import pytest

from dashboard.countdown import countdown
from tests.sons.factories import at_paris

CUTOFF = at_paris(2023, 12, 14, 14, 0)


@pytest.mark.parametrize(
    ("now", "label", "passed"),
    [
        (at_paris(2023, 12, 2, 9, 0), "J-12", False),
        (at_paris(2023, 12, 12, 14, 0), "J-2", False),  # 48 h exactly: days only
        (at_paris(2023, 12, 12, 14, 1), "J-2 · 47 h", False),
        (at_paris(2023, 12, 13, 23, 0), "J-1 · 15 h", False),
        (at_paris(2023, 12, 14, 13, 0), "J-0 · 1 h", False),
        (at_paris(2023, 12, 14, 13, 59, 59), "J-0 · < 1 h", False),
        (at_paris(2023, 12, 14, 14, 0), "Échue", True),
        (at_paris(2023, 12, 20, 8, 0), "Échue", True),
    ],
)
def test_countdown_labels(now, label, passed):
    result = countdown(CUTOFF, now)
    assert (result.label, result.passed) == (label, passed)


def test_days_are_paris_calendar_days_even_late_at_night_utc():
    # 23:30 UTC on the 1st is already the 2nd in Paris: 12 days left, not 13.
    now = dt.datetime(2023, 12, 1, 23, 30, tzinfo=dt.UTC)
    assert countdown(CUTOFF, now).label == "J-12"


def test_hours_are_real_hours_across_the_daylight_saving_change():
    # From Saturday 25/03/2023 12:00 (CET) to Monday 27/03 10:00 (CEST): 45 hours, not 46.
    result = countdown(at_paris(2023, 3, 27, 10, 0), at_paris(2023, 3, 25, 12, 0))
    assert result.label == "J-2 · 45 h"


def test_texts_for_screen_readers():
    assert countdown(CUTOFF, at_paris(2023, 12, 2, 9)).text == "dans 12 jours"
    assert countdown(CUTOFF, at_paris(2023, 12, 13, 23)).text == "dans 15 heures"
    assert countdown(CUTOFF, at_paris(2023, 12, 17, 9)).text == "échue depuis 3 jours"
    assert countdown(CUTOFF, at_paris(2023, 12, 14, 15)).text == "échue aujourd'hui"


def test_naive_instants_are_refused():
    with pytest.raises(ValueError):
        countdown(CUTOFF, dt.datetime(2023, 12, 1, 12))  # noqa: DTZ001 - naive on purpose
