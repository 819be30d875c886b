"""Redis killed and restarted (empty) while the deadline sweep runs in a worker.

How the sweep is dispatched: django-celery-beat publishes one message, `payments.sweep_deadlines`
(schedules made by payments/migrations/0002_schedules.py: 00:05, 12:01, 14:01 Paris time), and
one worker runs it: `payments.sweep.sweep` selects what is due and moves it in chunks of 1,000
rows, each chunk in one database transaction with its journal entries. Nothing of the sweep goes
through Redis but that one message (and its result), so a Redis lost mid-sweep loses at most the
message: the moves already committed stay, the rest are made by the next run, which selects only
what is still due. A run cannot be published while Redis is down: `send_task` fails at once with
a connection error, having written nothing, and is simply run again.

The one dispatcher that does fan out through Redis is `api.dispatch_events` (every minute): it
reads the journal past its cursor and publishes one `api.deliver_webhook` per delivery. It is
tested the same way: Redis lost while it publishes, nothing lost, nothing sent twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from api.events import dispatch_journal_events
from api.models import EventCursor, WebhookDelivery, WebhookSubscription
from api.webhooks import new_secret
from core.journal import Change, record_transitions, verify_chain
from core.models import JournalEntry
from payments.models import ClaimKind, ClaimStatus, PaymentClaim, Recovery
from payments.services import claims
from payments.sweep import SWEEPER, plan
from sons.models import ClientConflict, ConflictStatus, Decision, OrderStatus, PurchaseOrder
from sons.services import orders
from sons.services.conflicts import respond_to_conflict
from tests.factories import SolutionVersionFactory
from tests.faults.conftest import (
    WAIT,
    needs_redis_server,
    postgres_only,
    wait_for,
    worker_environment,
)
from tests.sons.factories import ClientFactory, at_paris, lgc_dispositif, referenced, signed_order

pytestmark = [postgres_only, needs_redis_server, pytest.mark.django_db(transaction=True)]

UNDATED = 40  # signed orders without a firm date: flagged by the sweep's second step


def sweeper_moves() -> Counter:
    """How many journal entries the sweep wrote for each (object, transition)."""
    return Counter(
        JournalEntry.objects.filter(actor_label=SWEEPER).values_list(
            "content_type__model", "object_id", "transition"
        )
    )


def waiting_on_a_lock() -> bool:
    """Another session of the test database waits for a row lock (the sweep, on ours)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # read afresh inside our transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


def due_world(user) -> dict:
    """Orders due to be flagged, an expired conflict with a silent vendor, a defaulted order whose
    avance was paid (a recovery to open) and an avance never filed (a missed deadline)."""
    dispositif = lgc_dispositif()
    first = referenced(dispositif=dispositif, actor=user)
    second = referenced(dispositif=dispositif, actor=user, version=SolutionVersionFactory())
    for _ in range(UNDATED):
        signed_order(referencing=first, actor=user)
    client = ClientFactory()
    keeper = signed_order(referencing=first, actor=user, client=client)
    silent = signed_order(
        referencing=second, actor=user, client=client, at=at_paris(2022, 11, 7, 10)
    )
    respond_to_conflict(
        order=keeper, decision=Decision.KEEP, actor=user, at=at_paris(2022, 11, 8, 9)
    )
    defaulted = signed_order(referencing=first, actor=user)
    avance = claims.open_claim(order=defaulted, kind=ClaimKind.AVANCE, actor=user)
    PaymentClaim.objects.filter(pk=avance.pk).update(
        status=ClaimStatus.PAID, paid_amount_cents=avance.amount_ttc_cents
    )
    orders.declare_default(order=defaulted, actor=user, reason="Abandon")
    late = signed_order(referencing=first, actor=user)
    forgotten = claims.open_claim(order=late, kind=ClaimKind.AVANCE, actor=user)
    return {"silent": silent, "defaulted": defaulted, "forgotten": forgotten}


def test_redis_restarted_while_the_sweep_runs_loses_and_doubles_nothing(
    redis_server, producer, workers, no_tasks_here, django_user_model
):
    """Killed: our Redis (SIGKILL, nothing persisted) while a worker ran the sweep, held by a row
    lock of the test on one order of an expired conflict, after its first steps had committed
    (the orders flagged for their missing firm date); a sweep published while Redis was down
    failed at once with a connection error. Redis restarted empty, the lock released: the
    running sweep finished its remaining steps; a new run was published to the new Redis.

    Counted: every move the plan listed was made (nothing due afterwards); each (object,
    transition) journaled exactly once by the sweeper (0 doubles); the second run moved nothing
    but what the first had skipped under the lock; the journal's chain unbroken; the sweep task
    delivered once per publication (2 runs, the one lost to the broker never started)."""
    world = due_world(django_user_model.objects.create_user("agent"))
    now = timezone.now()
    due = plan(now)
    steps = Counter(move.step for move in due)
    assert steps["flag_firm_date"] >= UNDATED and steps["expire_conflict"] == 1
    assert steps["open_recovery"] == 1 and steps["claim_deadline_missed"] >= 1
    worker = workers(worker_environment(redis_server))

    with transaction.atomic():
        # The sweep skips a locked order in its flagging step, then waits for it when it cancels
        # the silent vendor's order: a point known to the test, after some chunks committed.
        PurchaseOrder.objects.select_for_update().get(pk=world["silent"].pk)
        producer.send_task("payments.sweep_deadlines")
        wait_for(waiting_on_a_lock, "the sweep to wait for the locked order")
        flagged_before_fault = sweeper_moves()
        assert len(flagged_before_fault) == steps["flag_firm_date"] - 1  # all but the locked one
        redis_server.kill()
        with pytest.raises(BrokerUnreachable):
            producer.send_task("payments.sweep_deadlines")  # beat's next tick, Redis down
        assert sweeper_moves() == flagged_before_fault  # the failed publication wrote nothing
        redis_server.start()  # empty: the running sweep's message is gone with the old one

    wait_for(
        lambda: (
            ClientConflict.objects.filter(status=ConflictStatus.EXPIRED).exists()
            and Recovery.objects.exists()
            and PaymentClaim.objects.filter(deadline_missed_at__isnull=False).exists()
        ),
        "the interrupted sweep to finish its steps",
    )
    second_run = producer.send_task("payments.sweep_deadlines").get(timeout=WAIT)

    moves = sweeper_moves()
    assert max(moves.values()) == 1, [k for k, v in moves.items() if v > 1]
    assert plan(timezone.now()) == []  # nothing due left: nothing lost
    assert sum(second_run.values()) <= 1  # at most the order the first run skipped under lock
    silent = PurchaseOrder.objects.get(pk=world["silent"].pk)
    assert silent.status == OrderStatus.CANCELLED
    assert moves[("clientconflict", str(ClientConflict.objects.get().pk), "expire")] == 1
    assert Recovery.objects.filter(order=world["defaulted"]).count() == 1
    checked, broken = verify_chain()
    assert broken is None and checked >= len(moves)
    assert worker.received("payments.sweep_deadlines") == 2


EVENTS = 6  # claims paid, each a `claim.paid` webhook event


def test_redis_lost_while_webhook_events_are_dispatched_loses_and_doubles_nothing(
    redis_server, producer, workers, webhook_receiver, no_tasks_here, django_user_model
):
    """Killed: our Redis (SIGKILL) while a worker ran `api.dispatch_events`, held by the test's
    lock on the journal cursor until Redis was dead: the dispatch read the journal, recorded one
    delivery per event with the cursor's move, and could publish none of them (each failure
    logged, the task not crashed). Redis restarted empty; 15 minutes later (the deliveries'
    `next_attempt_at` moved back by the test) the next dispatch sent every delivery again.

    Counted: 6 events journaled, 6 deliveries (1 per event, 0 doubles), 6 POSTs received with 6
    distinct event ids, each acknowledged once, every delivery `delivered` after 1 attempt;
    a further dispatch found nothing to send. Before the fix in api/events.py and
    api/webhooks.py the first publication failure crashed the dispatch after the cursor had
    moved: 1 delivery left unsent forever (`next_attempt_at` empty) and 5 events never
    delivered at all."""
    user = django_user_model.objects.create_user("agent")
    referencing = referenced(dispositif=lgc_dispositif(), actor=user)
    paid = [
        claims.open_claim(
            order=signed_order(referencing=referencing, actor=user),
            kind=ClaimKind.AVANCE,
            actor=user,
        )
        for _ in range(EVENTS)
    ]
    receiver = webhook_receiver(hold_first=False)
    WebhookSubscription.objects.create(
        vendor=referencing.solution_version.solution.editor,
        url=receiver.url,
        events=["claim.paid"],
        secret=new_secret(),
    )
    dispatch_journal_events()  # the first reading puts the cursor at the journal's head
    with transaction.atomic():  # the agency paid them: the change and its journal entries
        PaymentClaim.objects.filter(pk__in=[c.pk for c in paid]).update(status=ClaimStatus.PAID)
        record_transitions(
            [Change(c, "pay", c.status, ClaimStatus.PAID, "", {}) for c in paid],
            actor="système:retour ASP",
        )
    worker = workers(worker_environment(redis_server, API_WEBHOOK_ALLOW_LOOPBACK="1"))

    with transaction.atomic():
        EventCursor.objects.select_for_update().get(id=1)
        producer.send_task("api.dispatch_events")
        wait_for(waiting_on_a_lock, "the dispatch to wait for the journal cursor")
        redis_server.kill()
    wait_for(
        lambda: "webhook_events_dispatched count=6" in worker.log(),
        "the dispatch to record its deliveries",
    )
    assert WebhookDelivery.objects.count() == EVENTS
    assert not WebhookDelivery.objects.exclude(state=WebhookDelivery.State.PENDING).exists()
    redis_server.start()

    WebhookDelivery.objects.update(next_attempt_at=F("next_attempt_at") - dt.timedelta(minutes=16))
    producer.send_task("api.dispatch_events").get(timeout=WAIT)
    wait_for(
        lambda: (
            WebhookDelivery.objects.filter(state=WebhookDelivery.State.DELIVERED).count() == EVENTS
        ),
        "every delivery sent again",
    )
    assert producer.send_task("api.dispatch_events").get(timeout=WAIT) == 0

    deliveries = list(WebhookDelivery.objects.all())
    assert sorted(d.payload["claim"] for d in deliveries) == sorted(c.pk for c in paid)
    assert {d.attempts for d in deliveries} == {1}
    assert len(receiver.requests) == EVENTS
    assert {r["id"] for r in receiver.requests} == {str(d.event_id) for d in deliveries}
    assert all(r["acknowledged"] for r in receiver.requests)
    assert worker.received("api.deliver_webhook") == EVENTS  # only the resent messages
