import pytest
from django_celery_beat.models import PeriodicTask

pytestmark = pytest.mark.django_db


def test_reminders_go_every_morning_and_digests_after_them():
    tasks = {t.task: t.crontab for t in PeriodicTask.objects.select_related("crontab")}
    due, digests = tasks["reminders.send_due_reminders"], tasks["reminders.send_digests"]
    assert (due.hour, due.minute, str(due.timezone)) == ("6", "30", "Europe/Paris")
    assert (digests.hour, digests.minute) == ("7", "0")
