"""An order's deployments, VA, claims, recoveries and filed completion lines carry its dispositif
(sons.models.parts), whichever writer made them: the services (through `save()`), the sweep's
and the « achèvement » filing's set-based inserts.
The dashboard counts them per dispositif by that column alone, so a row that carried another
dispositif would be counted on the wrong page."""

import datetime as dt

import pytest
from django.db.models import F
from django.utils import timezone

from payments.models import ClaimKind, ClaimStatus, FiledCompletion, PaymentClaim, Recovery
from payments.services import claims
from payments.sweep import sweep
from sons.models import Deployment, PurchaseOrder, VaDecision, VerificationAptitude
from sons.services import orders
from sons.services.completion import notify_completions
from sons.services.deployments import schedule_deployment
from tests.payments.factories import (
    accept_by_va,
    deposit_completions,
    open_dispositif,
    signed_now,
)
from tests.sons.factories import at_paris, lgc_dispositif, referenced, signed_order

PARTS = (Deployment, VerificationAptitude, PaymentClaim, Recovery)


def drifted(model) -> list[int]:
    """The rows of `model` whose dispositif is not their order's."""
    return list(
        model.objects.exclude(dispositif=F("order__dispositif")).values_list("pk", flat=True)
    )


@pytest.mark.django_db
def test_every_part_made_by_the_services_carries_its_orders_dispositif(
    admin_user, django_capture_on_commit_callbacks
):
    # Two dispositifs, so that a part taking any dispositif but its order's would show.
    first, second = open_dispositif(), open_dispositif()
    made = []
    for dispositif in (first, second):
        order = signed_now(admin_user, dispositif)
        schedule_deployment(
            order=order,
            firm_date=(timezone.now() + dt.timedelta(days=10)).date(),
            actor=admin_user,
        )
        accept_by_va(order, admin_user, django_capture_on_commit_callbacks)
        claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
        made.append((order, dispositif))
    for model in PARTS[:3]:
        for order, dispositif in made:
            assert model.objects.get(order=order).dispositif_id == dispositif.pk, model
        assert drifted(model) == []
    # The VA's decision carries it too: the VA signed per week are counted from it.
    for order, dispositif in made:
        assert VaDecision.objects.get(va__order=order).dispositif_id == dispositif.pk
    assert not VaDecision.objects.exclude(dispositif=F("va__dispositif")).exists()


@pytest.mark.django_db
def test_recoveries_opened_by_the_sweep_carry_their_orders_dispositif(admin_user):
    # The sweep inserts its recoveries set-based (one INSERT on PostgreSQL), without save().
    recovered = []
    for _n in range(2):
        ref = referenced(dispositif=lgc_dispositif(), actor=admin_user)
        order = signed_order(referencing=ref, actor=admin_user)
        avance = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
        PaymentClaim.objects.filter(pk=avance.pk).update(
            status=ClaimStatus.PAID, paid_amount_cents=avance.amount_ttc_cents
        )
        orders.declare_default(order=order, actor=admin_user, reason="Abandon")
        recovered.append(order)
    assert sweep(at_paris(2022, 11, 30, 14, 0))["open_recovery"] == 2
    assert len({order.dispositif_id for order in recovered}) == 2
    for order in recovered:
        assert Recovery.objects.get(order=order).dispositif_id == order.dispositif_id
    assert drifted(Recovery) == [] and drifted(PaymentClaim) == []
    assert PurchaseOrder.objects.count() == 2


@pytest.mark.django_db
def test_completion_lines_filed_set_based_carry_their_orders_dispositif(
    admin_user, django_capture_on_commit_callbacks
):
    # The filing's lines are inserted set-based (bulk_create, without save()); the evidence of
    # completion of a dispositif's orders is read by that column (sons.selectors).
    filed = []
    for dispositif in (open_dispositif(), open_dispositif()):
        order = signed_now(admin_user, dispositif)
        notify_completions(
            vendor=order.vendor,
            items=[{"order": order, "statement": "Prestation achevée."}],
            actor=admin_user,
        )
        deposit_completions(order, admin_user, django_capture_on_commit_callbacks, timezone.now())
        filed.append(order)
    assert len({order.dispositif_id for order in filed}) == 2
    for order in filed:
        assert FiledCompletion.objects.get(order=order).dispositif_id == order.dispositif_id
    assert drifted(FiledCompletion) == []
