"""The deadline sweep at scale (measured by bench/sweep.py): its bulk paths cost the same number
of queries for 5 due objects as for 50, and leave what the one-by-one services leave."""

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import JournalEntry
from payments.models import ClaimStatus, PaymentClaim, Recovery, RecoveryCause
from payments.sweep import RECOVERY_REASON, SWEEPER, WITHDRAWN_BY_SWEEP, sweep
from sons.models import ClientConflict, ConflictStatus, OrderStatus
from tests.sons.factories import at_paris

pytestmark = pytest.mark.django_db

AFTER_EVERYTHING = at_paris(2023, 12, 20, 12)  # after réalisation (20/09) and soldes (14/12)


def due_objects(world, count):
    """`count` undelivered orders with an avance: paid for one in two (a recovery is due),
    left in draft for the others (flagged late); a conflict for one in five."""
    made = []
    for n in range(count):
        order = world.order(vendor="ab"[n % 2])
        avance = world.avance(order)
        if n % 2:
            world.pay(avance, submitted_at=at_paris(2022, 9, 20), paid_on=dt.date(2022, 10, 3))
        made.append(order)
    conflicts = [world.conflict() for _ in range(max(count // 5, 1))]
    return made, conflicts


def swept(at):
    # Each measure starts from the same cold content-type cache: what an earlier test left
    # warm must not make the first measure one lookup dearer than the second.
    ContentType.objects.clear_cache()
    with CaptureQueriesContext(connection) as captured:
        counts = sweep(at)
    return counts, len(captured)


def test_the_sweep_costs_the_same_queries_for_5_and_50_due_objects(world):
    due_objects(world, 5)
    small, small_queries = swept(AFTER_EVERYTHING)
    due_objects(world, 50)
    large, large_queries = swept(AFTER_EVERYTHING)
    assert small["open_recovery"] == 2 and large["open_recovery"] == 25
    assert small["flag_firm_date"] == 7 and large["flag_firm_date"] == 70  # conflicts too
    assert small["expire_conflict"] == 1 and large["expire_conflict"] == 10
    assert large_queries == small_queries


def test_recoveries_opened_in_bulk_are_those_the_service_opens(world):
    orders, _conflicts = due_objects(world, 4)
    counts = sweep(AFTER_EVERYTHING)
    assert counts["open_recovery"] == 2
    for order in orders[1::2]:
        opened = Recovery.objects.get(order=order)
        assert (opened.cause, opened.status) == (RecoveryCause.REALISATION, "open")
        assert (opened.received_cents, opened.offset_cents, opened.amount_cents) == (
            54000,
            0,
            54000,
        )
        assert (opened.opened_at, opened.reason) == (AFTER_EVERYTHING, RECOVERY_REASON)
        entry = JournalEntry.objects.for_object(opened).get()
        assert (entry.transition, entry.actor_label) == ("open", SWEEPER)
        assert entry.snapshot == {
            "received_cents": 54000,
            "offset_cents": 0,
            "cause": RecoveryCause.REALISATION,
        }
        assert entry.object_repr == f"Recouvrement {order.reference}"
        order.refresh_from_db()
        assert order.status == OrderStatus.IN_RECOVERY
        moved = JournalEntry.objects.for_object(order).last()
        assert (moved.transition, moved.reason) == ("start_recovery", RECOVERY_REASON)
    # The others' draft avances were marked late instead.
    late = PaymentClaim.objects.filter(order__in=orders[0::2], status=ClaimStatus.DRAFT)
    assert all(c.deadline_missed_at == AFTER_EVERYTHING for c in late)


def test_flags_are_journaled_with_the_order_they_concern(world):
    orders, _conflicts = due_objects(world, 2)
    sweep(AFTER_EVERYTHING)
    entry = JournalEntry.objects.filter(transition="flag_missing_firm_date").first()
    order = next(o for o in orders if str(o.pk) == entry.object_id)
    assert entry.object_repr == f"{order.reference} – {order.client.legal_name}"


def test_the_silent_vendor_is_withdrawn_with_the_sweep_statement(world, admin_user):
    from sons.services.conflicts import respond_to_conflict

    keeper, silent = world.conflict()
    respond_to_conflict(order=keeper, decision="keep", actor=admin_user, at=at_paris(2022, 11, 8))
    sweep(AFTER_EVERYTHING)
    silent.refresh_from_db()
    keeper.refresh_from_db()
    assert (silent.status, silent.sworn_statement) == (OrderStatus.CANCELLED, WITHDRAWN_BY_SWEEP)
    assert keeper.status == OrderStatus.SIGNED
    entry = JournalEntry.objects.for_object(silent).last()
    assert (entry.transition, entry.reason) == ("cancel", WITHDRAWN_BY_SWEEP)
    assert ClientConflict.objects.get().status == ConflictStatus.EXPIRED
