"""A reminder writes its deadline in the one wording of every screen (README « Deadlines »,
`catalogue.deadlines.format_deadline`; SONS.md « Calendar and deadlines »: a day without an
hour runs to the end of that day): « 30/11/2022 (fin de journée) », « 14/12/2023 à 14:00 »,
never « (fin de journée) (heure de Paris) »."""

import datetime as dt

import pytest

from catalogue.deadlines import end_of_day_paris
from reminders.mail import body
from reminders.models import Reminder, ReminderKind
from tests.factories import CalendarVersionFactory, DispositifFactory
from tests.sons.factories import at_paris

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", [ReminderKind.VENDOR_DEADLINE, ReminderKind.ADMIN_AT_RISK])
@pytest.mark.parametrize(
    ("deadline_at", "shown"),
    [
        (end_of_day_paris(dt.date(2022, 11, 30)), "30/11/2022 (fin de journée)"),
        (at_paris(2023, 12, 14, 14, 0), "14/12/2023 à 14:00"),
    ],
)
def test_a_reminder_says_its_deadline_once_in_the_one_wording(kind, deadline_at, shown):
    dispositif = DispositifFactory()
    reminder = Reminder(
        key="test",
        kind=kind,
        dispositif=dispositif,
        deadline_kind="realisation",
        deadline_at=deadline_at,
        calendar_version=CalendarVersionFactory(dispositif=dispositif, founding=True),
        threshold_days=7,
        order_ids=[1, 2],
    )
    text = body(reminder)
    assert f"{shown}, selon " in text
    assert ") (heure de Paris)" not in text and "00 (heure de Paris)" not in text
    assert text.count("de Paris") == 1  # « Les dates et heures sont celles de Paris. »
