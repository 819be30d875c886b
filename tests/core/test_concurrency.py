"""Concurrent writers on PostgreSQL: row locks serialise transitions and journal appends.

SQLite serialises whole-database writes, so these run where concurrency is real.
"""

import threading

import pytest
from django.db import connection, connections

from catalogue import services
from catalogue.models import ReferencingStatus
from core.errors import TransitionRefused
from core.journal import verify_chain
from core.models import JournalEntry
from tests.factories import draft_referencing

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL's row locks"
)


def _run_in_threads(target, count: int) -> list:
    barrier = threading.Barrier(count)
    outcomes: list = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        try:
            barrier.wait()
            result = target(index)
        except Exception as exc:  # the outcome is what the test asserts on
            result = exc
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_same_transition_twice_at_once_moves_the_object_once(django_user_model):
    user = django_user_model.objects.create_user("agent")
    ref = draft_referencing(actor=user)
    outcomes = _run_in_threads(
        lambda i: services.submit_referencing(referencing=ref, actor=user), 4
    )
    moved = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, TransitionRefused)]
    assert len(moved) == 1
    assert len(refused) == 3
    ref.refresh_from_db()
    assert ref.status == ReferencingStatus.SUBMITTED
    assert JournalEntry.objects.for_object(ref).filter(transition="submit").count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_unbroken_chain(django_user_model):
    user = django_user_model.objects.create_user("agent")
    drafts = [draft_referencing(actor=user) for _ in range(8)]
    outcomes = _run_in_threads(
        lambda i: services.submit_referencing(referencing=drafts[i], actor=user), 8
    )
    assert not [o for o in outcomes if isinstance(o, Exception)]
    checked, broken = verify_chain()
    assert broken is None
    assert checked == 16  # 8 creations + 8 submissions
