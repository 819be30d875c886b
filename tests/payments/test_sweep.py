"""The deadline sweep: due moves at the boundary instants, idempotent, explainable, concurrent."""

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections

from catalogue.deadlines import PARIS
from core.models import JournalEntry
from payments.models import ClaimKind, ClaimStatus, PaymentClaim, Recovery
from payments.services import claims
from payments.sweep import SWEEPER, plan, sweep
from sons.models import ClientConflict, ConflictStatus, Decision, OrderStatus, PurchaseOrder
from sons.services import orders
from sons.services.conflicts import respond_to_conflict
from tests.factories import SolutionVersionFactory
from tests.sons.factories import ClientFactory, at_paris, lgc_dispositif, referenced, signed_order

FIRM_DATE_END = at_paris(2023, 6, 15, 14, 0)
SECOND = dt.timedelta(seconds=1)


def sweeper_entries():
    return JournalEntry.objects.filter(actor_label=SWEEPER).count()


@pytest.fixture
def conditional(admin_user):
    from catalogue import services as ref_services
    from sons.services.orders import create_order, sign_order

    dispositif = lgc_dispositif(conditional_window_amount=4, conditional_window_unit="months")
    version = SolutionVersionFactory()
    ref_services.create_referencing(
        solution_version=version,
        dispositif=dispositif,
        vendor=version.solution.editor,
        actor=admin_user,
        at=at_paris(2022, 3, 1, 9),
    )
    order = create_order(
        vendor=version.solution.editor,
        client=ClientFactory(),
        dispositif=dispositif,
        solution_version=version,
        installation_scenario="Poste unique",
        actor=admin_user,
    )
    return sign_order(
        order=order,
        signatory_name="Dr X",
        signatory_role="Médecin",
        method="cps",
        actor=admin_user,
        at=at_paris(2022, 3, 15, 10),
    )


@pytest.mark.django_db
def test_a_conditional_order_lapses_exactly_when_its_window_closes(conditional):
    until = conditional.conditional_until
    assert sweep(until - SECOND)["lapse"] == 0
    assert sweep(until)["lapse"] == 1
    conditional.refresh_from_db()
    assert conditional.status == OrderStatus.LAPSED
    entry = JournalEntry.objects.for_object(conditional).last()
    assert (entry.transition, entry.actor_label) == ("lapse", SWEEPER)
    assert sweep(until + SECOND)["lapse"] == 0  # idempotent


@pytest.mark.django_db
def test_undelivered_orders_without_firm_date_are_flagged_after_the_deadline(admin_user):
    order = signed_order(
        referencing=referenced(dispositif=lgc_dispositif(), actor=admin_user), actor=admin_user
    )
    assert sweep(FIRM_DATE_END - SECOND)["flag_firm_date"] == 0
    assert sweep(FIRM_DATE_END)["flag_firm_date"] == 1
    order.refresh_from_db()
    assert order.firm_date_flagged_at == FIRM_DATE_END
    entries = sweeper_entries()
    assert sweep(FIRM_DATE_END + SECOND)["flag_firm_date"] == 0
    assert sweeper_entries() == entries


@pytest.mark.django_db
def test_the_vendor_who_did_not_answer_loses_the_client(admin_user):
    dispositif = lgc_dispositif()
    first = referenced(dispositif=dispositif, actor=admin_user)
    second = referenced(dispositif=dispositif, actor=admin_user, version=SolutionVersionFactory())
    client = ClientFactory()
    keeper = signed_order(referencing=first, actor=admin_user, client=client)
    silent = signed_order(
        referencing=second, actor=admin_user, client=client, at=at_paris(2022, 11, 7, 10)
    )
    conflict = ClientConflict.objects.get()
    respond_to_conflict(
        order=keeper, decision=Decision.KEEP, actor=admin_user, at=at_paris(2022, 11, 8, 9)
    )
    assert sweep(conflict.respond_by - SECOND)["expire_conflict"] == 0
    assert sweep(conflict.respond_by)["expire_conflict"] == 1
    conflict.refresh_from_db()
    silent.refresh_from_db()
    keeper.refresh_from_db()
    assert conflict.status == ConflictStatus.EXPIRED
    assert silent.status == OrderStatus.CANCELLED
    assert keeper.status == OrderStatus.SIGNED


@pytest.mark.django_db
def test_recoveries_due_are_opened_and_unfiled_claims_marked(admin_user):
    dispositif = lgc_dispositif()
    ref = referenced(dispositif=dispositif, actor=admin_user)
    defaulted = signed_order(referencing=ref, actor=admin_user)
    avance = claims.open_claim(order=defaulted, kind=ClaimKind.AVANCE, actor=admin_user)
    PaymentClaim.objects.filter(pk=avance.pk).update(
        status=ClaimStatus.PAID, paid_amount_cents=avance.amount_ttc_cents
    )
    orders.declare_default(order=defaulted, actor=admin_user, reason="Abandon")
    late = signed_order(referencing=ref, actor=admin_user)
    forgotten = claims.open_claim(order=late, kind=ClaimKind.AVANCE, actor=admin_user)
    advances_end = at_paris(2022, 11, 30, 14, 0)
    counts = sweep(advances_end)
    assert counts["open_recovery"] == 1
    assert Recovery.objects.get().order_id == defaulted.pk
    assert counts["claim_deadline_missed"] == 1
    forgotten.refresh_from_db()
    assert forgotten.deadline_missed_at == advances_end
    assert sweep(advances_end)["open_recovery"] == 0


@pytest.mark.django_db
def test_dry_run_explains_every_move_and_writes_nothing(conditional, capsys):
    until = conditional.conditional_until.astimezone(PARIS)
    moves = plan(until)
    assert [m.step for m in moves] == ["lapse"]
    before = JournalEntry.objects.count()
    call_command("sweep_deadlines", "--dry-run", "--at", until.strftime("%Y-%m-%dT%H:%M"))
    out = capsys.readouterr().out
    assert "[lapse]" in out and "15/07/2022 à 10:00" in out
    assert "simulation" in out
    assert JournalEntry.objects.count() == before
    conditional.refresh_from_db()
    assert conditional.status == OrderStatus.CONDITIONAL


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks")
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_never_move_an_object_twice(django_user_model):
    user = django_user_model.objects.create_user("agent")
    ref = referenced(dispositif=lgc_dispositif(), actor=user)
    for _ in range(30):
        signed_order(referencing=ref, actor=user)
    barrier = threading.Barrier(2)
    results = []

    def run():
        try:
            barrier.wait()
            results.append(sweep(FIRM_DATE_END)["flag_firm_date"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(results) == 30
    assert JournalEntry.objects.filter(transition="flag_missing_firm_date").count() == 30
    assert PurchaseOrder.objects.filter(firm_date_flagged_at__isnull=True).count() == 0
