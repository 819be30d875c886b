"""Core tasks through a real Celery worker on the configured broker (Redis in CI).

Skipped in the embedded mode (in-memory broker, eager tasks), where the same code runs in-process.
"""

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection

from core.models import JournalEntry
from core.tasks import verify_journal_task
from sons.celery import app
from tests.factories import referencing_in_state

real_broker = pytest.mark.skipif(
    settings.CELERY_BROKER_URL.startswith("memory://") or not settings.CELERY_RESULT_BACKEND,
    reason="needs a real broker and result backend (CELERY_BROKER_URL, CELERY_RESULT_BACKEND)",
)


@pytest.fixture
def worker():
    app.conf.task_always_eager = False
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            yield
    finally:
        app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@real_broker
@pytest.mark.django_db(transaction=True)
def test_journal_verification_on_a_real_worker_finds_a_tampered_entry(worker, django_user_model):
    user = django_user_model.objects.create_user("agent")
    referencing_in_state("submitted", actor=user)

    assert verify_journal_task.delay().get(timeout=30) == {
        "checked": 2,
        "broken_sequence": None,
        "reason": "",
    }

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {JournalEntry._meta.db_table} SET reason = %s WHERE sequence = 1", ["forgé"]
        )
    result = verify_journal_task.delay().get(timeout=30)
    assert result["broken_sequence"] == 1
    assert result["checked"] == 0
