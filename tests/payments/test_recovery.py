"""Recovery: what was received minus what was offset, opened on a default or a missed deadline."""

import datetime as dt
import io

import pytest
from django.utils import timezone
from pypdf import PdfReader

from core.errors import RuleViolation, TransitionRefused
from payments.models import ClaimKind, ClaimStatus, PaymentClaim, RecoveryCause, RecoveryStatus
from payments.services import claims, recovery
from sons.models import OrderStatus
from sons.services import orders
from tests.payments.factories import open_dispositif, signed_now
from tests.sons.factories import lgc_dispositif, referenced, signed_order

pytestmark = pytest.mark.django_db


def paid_avance(order, user):
    claim = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=user)
    # The agency's side (filing, feedback) has its own tests; here only the paid sum matters.
    PaymentClaim.objects.filter(pk=claim.pk).update(
        status=ClaimStatus.PAID, paid_amount_cents=claim.amount_ttc_cents
    )
    return claim


def test_a_default_after_a_paid_avance_opens_a_recovery_of_the_avance(admin_user):
    order = signed_now(admin_user)
    paid_avance(order, admin_user)
    order = orders.declare_default(order=order, actor=admin_user, reason="Éditeur en liquidation")
    assert [(o.pk, cause) for o, cause in recovery.recoveries_due(at=timezone.now())] == [
        (order.pk, RecoveryCause.DEFAULT)
    ]
    opened = recovery.open_recovery(
        order=order, cause=RecoveryCause.DEFAULT, reason="Défaillance déclarée", actor=admin_user
    )
    assert (opened.received_cents, opened.offset_cents, opened.amount_cents) == (54000, 0, 54000)
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_RECOVERY
    assert recovery.recoveries_due(at=timezone.now()) == []
    with pytest.raises(RuleViolation) as exc:
        recovery.open_recovery(
            order=order, cause=RecoveryCause.CONTROL, reason="Encore", actor=admin_user
        )
    assert exc.value.code == "recovery_already_open"


def test_the_offset_avance_is_deducted(admin_user):
    order = signed_now(admin_user)
    paid_avance(order, admin_user)
    compensation = claims.remove_from_solde_perimeter(
        order=order, actor=admin_user, reason="Client retiré"
    )
    PaymentClaim.objects.filter(pk=compensation.pk).update(status=ClaimStatus.SUBMITTED)
    with pytest.raises(RuleViolation) as exc:
        recovery.open_recovery(
            order=order, cause=RecoveryCause.CONTROL, reason="Contrôle", actor=admin_user
        )
    assert exc.value.code == "nothing_to_recover"


def test_nothing_received_nothing_to_recover(admin_user):
    order = signed_now(admin_user)
    with pytest.raises(RuleViolation) as exc:
        recovery.open_recovery(
            order=order, cause=RecoveryCause.CONTROL, reason="Contrôle", actor=admin_user
        )
    assert exc.value.code == "nothing_to_recover"
    assert order.status == OrderStatus.SIGNED


def test_a_missed_realisation_is_a_cause_only_once_the_deadline_passed(admin_user):
    order = signed_order(
        referencing=referenced(dispositif=lgc_dispositif(), actor=admin_user), actor=admin_user
    )
    paid_avance(order, admin_user)
    from catalogue.deadlines import PARIS

    before = dt.datetime(2023, 9, 20, 13, 59, tzinfo=PARIS)
    after = dt.datetime(2023, 9, 20, 14, 0, tzinfo=PARIS)
    assert not recovery.realisation_missed(order, before)
    assert recovery.realisation_missed(order, after)
    assert [c for _o, c in recovery.recoveries_due(at=after)] == [RecoveryCause.REALISATION]
    with pytest.raises(RuleViolation) as exc:
        recovery.open_recovery(
            order=order, cause=RecoveryCause.REALISATION, reason="x", actor=admin_user, at=before
        )
    assert exc.value.code == "realisation_not_missed"
    opened = recovery.open_recovery(
        order=order,
        cause=RecoveryCause.REALISATION,
        reason="Prestation non achevée",
        actor=admin_user,
        at=after,
    )
    assert opened.amount_cents == 54000


def test_notice_settlement_and_its_refusals(admin_user, django_capture_on_commit_callbacks):
    order = signed_now(admin_user, dispositif=open_dispositif())
    paid_avance(order, admin_user)
    order = orders.declare_default(order=order, actor=admin_user, reason="Abandon du produit")
    opened = recovery.open_recovery(
        order=order, cause=RecoveryCause.DEFAULT, reason="Défaillance", actor=admin_user
    )
    with pytest.raises(TransitionRefused):
        recovery.settle_recovery(recovery=opened, settled_cents=54000, actor=admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        notified = recovery.notify_recovery(recovery=opened, actor=admin_user)
    assert notified.status == RecoveryStatus.NOTIFIED
    notified.refresh_from_db()
    assert len(notified.notice_sha256) == 64
    with notified.notice_pdf.open("rb") as handle:
        text = " ".join(PdfReader(io.BytesIO(handle.read())).pages[0].extract_text().split())
    assert "Avis de mise en recouvrement" in text
    assert order.reference in text
    assert "540,00" in text
    with pytest.raises(RuleViolation) as exc:
        recovery.settle_recovery(recovery=notified, settled_cents=53999, actor=admin_user)
    assert exc.value.code == "recovery_amount_mismatch"
    settled = recovery.settle_recovery(recovery=notified, settled_cents=54000, actor=admin_user)
    assert settled.status == RecoveryStatus.SETTLED
