"""An order that ends with its avance paid (cancelled by its vendor, or set aside by the
administration's decision on a conflict) owes back what was received (SONS.md, life of a
Prestation, steps 3 and 10: « missing the deadlines triggers recovery of the sums received »,
and « never two financings for one client »)."""

import datetime as dt

import pytest

from core.models import JournalEntry
from payments.models import ClaimKind, ClaimStatus, PaymentClaim, Recovery, RecoveryCause
from payments.models.recovery import RecoveryStatus
from payments.services import claims
from payments.sweep import sweep
from sons.models import ClientConflict, Decision, OrderStatus
from sons.services.conflicts import decide_conflict, respond_to_conflict
from sons.services.orders import cancel_order
from tests.factories import SolutionVersionFactory
from tests.payments.factories import signed_now
from tests.sons.factories import ClientFactory, at_paris, lgc_dispositif, referenced, signed_order

pytestmark = pytest.mark.django_db


def paid_avance(order, user, at=None):
    claim = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=user, at=at)
    # The agency's side (filing, feedback) has its own tests; here only the paid sum matters.
    PaymentClaim.objects.filter(pk=claim.pk).update(
        status=ClaimStatus.PAID, paid_amount_cents=claim.amount_ttc_cents
    )
    return claim


def with_contact(order):
    order.vendor.contact_email = f"editeur-{order.vendor.pk}@editeur.invalid"
    order.vendor.save()


def test_a_cancelled_order_whose_avance_was_paid_opens_one_recovery_and_tells_the_vendor(
    admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    order = signed_now(admin_user)
    with_contact(order)
    avance = paid_avance(order, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order=order, actor=admin_user, sworn_statement="Le client renonce.")
    recovery = Recovery.objects.get(order=order)
    assert recovery.cause == RecoveryCause.CANCELLED
    assert recovery.amount_cents == avance.amount_ttc_cents
    assert recovery.status == RecoveryStatus.NOTIFIED  # the notice goes to the vendor
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_RECOVERY
    assert JournalEntry.objects.for_object(recovery).filter(transition="open").count() == 1
    told = [m for m in mailoutbox if order.vendor.contact_email in m.to]
    assert [m.subject for m in told] == [f"[SONS] Mise en recouvrement – {order.reference}"]
    # Once: the sweep, and the same announcement again, open nothing more.
    assert sweep(dt.datetime.now(dt.UTC))["open_recovery"] == 0
    from payments.services.recovery import recover_ended_orders

    assert recover_ended_orders(order_ids=[order.pk]) == []
    assert Recovery.objects.filter(order=order).count() == 1


def test_a_cancelled_order_without_a_paid_avance_opens_nothing(
    admin_user, django_capture_on_commit_callbacks
):
    order = signed_now(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order=order, actor=admin_user, sworn_statement="Le client renonce.")
    assert not Recovery.objects.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_the_sweep_recovers_a_cancelled_order_it_finds_with_a_paid_avance(admin_user):
    order = signed_now(admin_user)
    paid_avance(order, admin_user)
    # Cancelled without the after-commit announcement (e.g. a worker lost): the sweep's rule
    # (payments.selectors.due_for_recovery) finds it.
    cancel_order(order=order, actor=admin_user, sworn_statement="Le client renonce.")
    assert sweep(dt.datetime.now(dt.UTC))["open_recovery"] == 1
    assert Recovery.objects.get(order=order).cause == RecoveryCause.CANCELLED


def test_step3_an_order_set_aside_by_the_decision_after_its_avance_was_paid_is_recovered(
    admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    dispositif = lgc_dispositif()
    first = referenced(dispositif=dispositif, actor=admin_user)
    second = referenced(dispositif=dispositif, actor=admin_user, version=SolutionVersionFactory())
    client = ClientFactory()
    paid_first = signed_order(
        referencing=first, actor=admin_user, client=client, at=at_paris(2022, 10, 3, 9, 0)
    )
    avance = paid_avance(paid_first, admin_user, at=at_paris(2022, 10, 4, 9, 0))
    later = signed_order(
        referencing=second, actor=admin_user, client=client, at=at_paris(2022, 11, 7, 10, 0)
    )
    for order in (paid_first, later):
        with_contact(order)
        respond_to_conflict(
            order=order,
            decision=Decision.KEEP,
            note="Le client a signé chez nous.",
            actor=admin_user,
            at=at_paris(2022, 11, 8, 9, 0),
        )
    sweep(at_paris(2022, 11, 23, 0, 0))
    conflict = ClientConflict.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        decide_conflict(
            conflict=conflict,
            chosen_order=later,
            reason="Le client confirme par écrit son choix du second éditeur.",
            actor=admin_user,
            at=at_paris(2022, 11, 25, 10, 0),
        )
    recovery = Recovery.objects.get()
    assert (recovery.order_id, recovery.cause, recovery.amount_cents) == (
        paid_first.pk,
        RecoveryCause.CANCELLED,
        avance.amount_ttc_cents,
    )
    paid_first.refresh_from_db()
    assert paid_first.status == OrderStatus.IN_RECOVERY
    assert any(
        m.subject == f"[SONS] Mise en recouvrement – {paid_first.reference}"
        and paid_first.vendor.contact_email in m.to
        for m in mailoutbox
    )
    assert not Recovery.objects.filter(order=later).exists()
