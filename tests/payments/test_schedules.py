import pytest
from django_celery_beat.models import PeriodicTask

from sons.celery import app

pytestmark = pytest.mark.django_db


def test_the_sweep_runs_daily_and_after_each_cut_off_and_the_journal_is_checked_nightly():
    tasks = {t.name: t for t in PeriodicTask.objects.select_related("crontab")}
    daily = tasks["Balayage des échéances (quotidien)"]
    cutoffs = tasks["Balayage juste après les heures limites (12 h et 14 h)"]
    journal = tasks["Vérification du chaînage du journal (nuit)"]
    assert (daily.task, daily.crontab.hour, daily.crontab.minute) == (
        "payments.sweep_deadlines",
        "0",
        "5",
    )
    assert (cutoffs.crontab.hour, cutoffs.crontab.minute) == ("12,14", "1")
    assert str(cutoffs.crontab.timezone) == "Europe/Paris"
    assert journal.task == "core.verify_journal"
    app.loader.import_default_modules()
    for task in tasks.values():
        assert task.task in app.tasks, task.task  # every scheduled name is a registered task
