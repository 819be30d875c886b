"""SONS.md, « The life of one Prestation Ségur », step 3: when more than one vendor kept its
order, none is financed until the administration decides; the portal and the API refuse the
claim with the same rule, in the same words."""

import pytest
from django.utils import timezone

from api.tokens import issue_token
from payments import acts as payment_acts
from payments.models import ClaimKind, ClaimStatus, PaymentClaim
from payments.sweep import sweep
from portal.actions import order_actions
from sons.models import ClientConflict, ConflictStatus, Decision
from sons.selectors import CONFLICT_UNRESOLVED, conflict_unresolved_message
from sons.services.conflicts import respond_to_conflict
from tests.api.conftest import Api
from tests.portal.conftest import vendor_order, vendor_referencing
from tests.responses import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def awaiting(vendor, other_vendor, staff):
    """Two vendors kept their order for one client; their 10 working days are over."""
    referencing = vendor_referencing(vendor, staff)
    order = vendor_order(vendor, staff, referencing=referencing)
    rival = vendor_order(
        other_vendor,
        staff,
        referencing=vendor_referencing(other_vendor, staff, dispositif=referencing.dispositif),
        client=order.client,
    )
    for kept in (order, rival):
        respond_to_conflict(order=kept, decision=Decision.KEEP, actor=staff)
    conflict = ClientConflict.objects.get()
    assert sweep(conflict.respond_by)["await_decision"] == 1
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.AWAITING_DECISION
    return order


def test_step3_the_portal_and_the_api_refuse_the_avance_with_the_same_rule(
    awaiting, staff, staff_client
):
    message = conflict_unresolved_message()
    now = timezone.now()
    # What the order's page offers, read from the declared guards.
    offered = {a.key: a for a in order_actions(awaiting, user=staff, at=now)}
    assert not offered["claim_avance"].enabled
    assert message in offered["claim_avance"].reasons
    assert not offered["conflict_keep"].enabled  # the windows are over: no answer any more
    codes = [
        r.code for r in payment_acts.PREPARE_CLAIM[ClaimKind.AVANCE].refusals(awaiting, at=now)
    ]
    assert codes == [CONFLICT_UNRESOLVED]

    # The portal: the avance is opened, then refused when made ready, in the rule's words.
    response = staff_client.post(f"/portail/demandes/ouvrir/{awaiting.pk}/avance/", follow=True)
    assert message in text(response)
    claim = PaymentClaim.objects.get(order=awaiting, kind=ClaimKind.AVANCE)
    assert claim.status == ClaimStatus.DRAFT

    # The API: the same code and the same sentence.
    api = Api(issue_token(user=staff, name="CRM").secret)
    refused = api.post(f"/api/v1/claims/{claim.pk}/make-ready/")
    assert refused.status_code == 409
    body = refused.json()
    assert body["code"] == CONFLICT_UNRESOLVED
    assert message in body["detail"]
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DRAFT
