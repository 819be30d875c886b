"""A deadline whose source gives a day and no hour runs to the end of that day: 24:00 Paris,
the next day's 00:00 instant (SONS.md « Calendar and deadlines », principle of art. 642 of the
Code de procédure civile). Pure functions, including the daylight-saving days."""

import datetime as dt

import pytest

from catalogue.deadlines import (
    PARIS,
    deadline_day,
    end_of_day_paris,
    format_deadline,
    is_in_time,
    parse_deadline,
)


def paris(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


def test_a_day_in_the_data_is_an_unsourced_end_of_day():
    at, sourced = parse_deadline("2022-11-30")
    assert (at, sourced) == (paris(2022, 12, 1, 0, 0), False)
    at, sourced = parse_deadline("2023-12-14T14:00")
    assert (at, sourced) == (paris(2023, 12, 14, 14, 0), True)


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2022, 11, 30),  # vague 1 orders and avances (seed 003)
        dt.date(2023, 3, 25),  # the eve of the spring change (26/03/2023 02:00 -> 03:00)
        dt.date(2023, 3, 26),  # a 23-hour day
        dt.date(2023, 10, 29),  # a 25-hour day (03:00 -> 02:00)
    ],
)
def test_23_59_59_is_in_time_and_midnight_is_not(day):
    deadline = end_of_day_paris(day)
    assert is_in_time(dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=PARIS), deadline)
    assert is_in_time(dt.datetime.combine(day, dt.time(23, 59, 59, 999999), tzinfo=PARIS), deadline)
    next_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=PARIS)
    assert not is_in_time(next_midnight, deadline)
    assert deadline_day(deadline, hour_sourced=False) == day
    assert format_deadline(deadline, hour_sourced=False) == f"{day:%d/%m/%Y} (fin de journée)"


def test_the_daylight_saving_days_end_at_the_right_utc_instant():
    # 26/03/2023 lasts 23 hours: its end is 22:00 UTC (CEST); 29/10/2023 lasts 25 hours: its
    # end is 23:00 UTC (CET).
    assert end_of_day_paris(dt.date(2023, 3, 26)) == dt.datetime(2023, 3, 26, 22, tzinfo=dt.UTC)
    assert end_of_day_paris(dt.date(2023, 10, 29)) == dt.datetime(2023, 10, 29, 23, tzinfo=dt.UTC)
    # An act at 23:30 Paris on the 25-hour day, written in UTC, is still in time.
    assert is_in_time(
        dt.datetime(2023, 10, 29, 22, 30, tzinfo=dt.UTC), end_of_day_paris(dt.date(2023, 10, 29))
    )


def test_a_sourced_14h_deadline_is_unchanged():
    """SONS.md: solde by 14/12/2023 14:00 (seed 003): 13:59:59 in time, 14:00:00 late."""
    deadline = paris(2023, 12, 14, 14, 0)
    assert is_in_time(paris(2023, 12, 14, 13, 59, 59), deadline)
    assert not is_in_time(paris(2023, 12, 14, 14, 0, 0), deadline)
    assert format_deadline(deadline, hour_sourced=True) == "14/12/2023 à 14:00"
    assert format_deadline(deadline) == "14/12/2023 à 14:00"
    assert format_deadline(deadline, seconds=True) == "14/12/2023 à 14:00:00"


def test_one_way_of_writing_every_deadline():
    assert format_deadline(None) == "non publiée"
    # A caller holding only the instant: 00:00 Paris is the end of the day before.
    assert format_deadline(paris(2022, 12, 1, 0, 0)) == "30/11/2022 (fin de journée)"
    assert format_deadline(paris(2022, 12, 1, 0, 0), seconds=True) == "30/11/2022 (fin de journée)"
    # Written in UTC, the same instant reads the same.
    assert format_deadline(dt.datetime(2022, 11, 30, 23, tzinfo=dt.UTC)) == (
        "30/11/2022 (fin de journée)"
    )


def test_a_sentence_names_the_paris_time_once_end_of_day_or_not():
    """A deadline without an hour ends the day (SONS.md, calendar): the sentences that name the
    time zone say « fin de journée, heure de Paris » once, never « (fin de journée) (heure de
    Paris) »."""
    end_of_day = dt.datetime(2022, 12, 1, 0, 0, tzinfo=PARIS)
    assert format_deadline(end_of_day, zone=True) == "30/11/2022 (fin de journée, heure de Paris)"
    two_pm = dt.datetime(2023, 12, 14, 14, 0, tzinfo=PARIS)
    assert format_deadline(two_pm, zone=True) == "14/12/2023 à 14:00 (heure de Paris)"
    assert format_deadline(None, zone=True) == "non publiée"
