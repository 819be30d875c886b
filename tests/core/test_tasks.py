"""Core tasks through a real Celery worker on the configured broker (Redis in CI).

Skipped in the embedded mode (in-memory broker, eager tasks), where the same code runs in-process.
"""

import pytest

from core.models import JournalEntry
from core.tasks import verify_journal_task
from tests.conftest import real_broker
from tests.factories import referencing_in_state
from tests.journal import tamper


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

    tamper(f"UPDATE {JournalEntry._meta.db_table} SET reason = %s WHERE sequence = 1", ["forgé"])
    result = verify_journal_task.delay().get(timeout=30)
    assert result["broken_sequence"] == 1
    assert result["checked"] == 0
