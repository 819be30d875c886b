"""One financing per client per dispositif (SONS.md, life of a Prestation, step 3), through the
API: each vendor reads its own part of a conflict and answers it (keep, change, withdraw) within
its own 10 working days through the portal's command; administrators decide a conflict awaiting
a decision through `decide_conflict`. The API and the portal refuse with the same rule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from payments.sweep import sweep
from sons.models import ClientConflict, ConflictPosition, ConflictStatus, OrderStatus, PurchaseOrder
from sons.services import clients as client_services
from tests.api.conftest import make_side, signed_order
from tests.portal.conftest import make_member, sign_in
from tests.responses import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def rivals(side_a, side_b, dispositif):
    """A and B each signed a BDC for the same client: a conflict is open for both."""
    client_services.register_client(
        vendor=side_b.vendor,
        actor=side_b.user,
        data={
            "kind": side_a.client.kind,
            "legal_name": side_a.client.legal_name,
            "rpps": side_a.client.rpps,
            "email": "secretariat@example.invalid",
        },
    )
    side_b.client = side_a.client
    order_a = signed_order(side_a, dispositif)
    order_b = signed_order(side_b, dispositif)
    conflict = ClientConflict.objects.get()
    return conflict, order_a, order_b


def windows_over(conflict):
    """Every vendor's own 10 working days are over (the clock of sons.rules has its tests)."""
    past = timezone.now() - dt.timedelta(minutes=1)
    ConflictPosition.objects.filter(conflict=conflict).update(respond_by=past)
    ClientConflict.objects.filter(pk=conflict.pk).update(respond_by=past)


def test_step3_each_vendor_reads_its_own_part_of_the_conflict(rivals, side_a, side_b):
    conflict, order_a, order_b = rivals
    listed = side_a.api.get("/api/v1/conflicts/")
    assert listed.status_code == 200
    (row,) = listed.json()["results"]
    assert (row["id"], row["status"]) == (conflict.pk, ConflictStatus.OPEN)
    assert [p["order"] for p in row["positions"]] == [order_a["id"]]  # never B's order
    assert row["positions"][0]["answer_open"] is True
    seen_by_b = side_b.api.get(f"/api/v1/conflicts/{conflict.pk}/").json()
    assert [p["order_reference"] for p in seen_by_b["positions"]] == [order_b["reference"]]


def test_step3_a_vendor_outside_the_conflict_sees_nothing(
    rivals, django_user_model, admin_user, dispositif
):
    conflict, _a, _b = rivals
    outsider = make_side(django_user_model, admin_user, dispositif, "C")
    assert outsider.api.get(f"/api/v1/conflicts/{conflict.pk}/").status_code == 404
    refused = outsider.api.post(f"/api/v1/conflicts/{conflict.pk}/answer/", {"decision": "keep"})
    assert refused.status_code == 404
    assert outsider.api.get("/api/v1/conflicts/").json()["results"] == []


def test_step3_keep_then_withdraw_through_the_api(rivals, side_a, side_b):
    conflict, order_a, order_b = rivals
    kept = side_a.api.post(
        f"/api/v1/conflicts/{conflict.pk}/answer/", {"decision": "keep", "note": "Signé chez nous."}
    )
    assert kept.status_code == 200, kept.json()
    assert kept.json()["positions"][0]["decision"] == "keep"
    withdrawn = side_b.api.post(
        f"/api/v1/conflicts/{conflict.pk}/answer/",
        {"decision": "withdraw", "note": "Je déclare sur l'honneur que le client renonce."},
    )
    assert withdrawn.status_code == 200, withdrawn.json()
    assert withdrawn.json()["status"] == ConflictStatus.SETTLED
    assert PurchaseOrder.objects.get(pk=order_b["id"]).status == OrderStatus.CANCELLED
    assert PurchaseOrder.objects.get(pk=order_a["id"]).status == OrderStatus.SIGNED


def portal_answer(side, order_id, action, note=""):
    """The portal's order page answers the same conflict, as the vendor's staff."""
    from django.test import Client

    browser = sign_in(Client(), make_member(side.vendor))
    response = browser.post(
        f"/portail/bdc/{order_id}/actions/{action}/", {f"{action}-note": note}, follow=True
    )
    return text(response)


@pytest.mark.parametrize(
    ("setup", "body", "portal_action", "code"),
    [
        (
            None,
            {"decision": "withdraw", "note": ""},
            "conflict_withdraw",
            "sworn_statement_required",
        ),
        (windows_over, {"decision": "keep"}, "conflict_keep", "conflict_response_late"),
    ],
)
def test_step3_the_api_and_the_portal_refuse_an_answer_with_the_same_rule(
    rivals, side_a, setup, body, portal_action, code
):
    conflict, order_a, _b = rivals
    if setup:
        setup(conflict)
    refused = side_a.api.post(f"/api/v1/conflicts/{conflict.pk}/answer/", body)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["code"] == code
    page = portal_answer(side_a, order_a["id"], portal_action, body.get("note", ""))
    assert problem["detail"] in page  # the portal says the same rule in the same words
    position = ConflictPosition.objects.get(order_id=order_a["id"])
    assert position.decision == "pending"  # neither door wrote anything


def test_step3_change_moves_the_order_to_the_right_client(rivals, side_a):
    conflict, order_a, _b = rivals
    record, _created = client_services.register_client(
        vendor=side_a.vendor,
        actor=side_a.user,
        data={"kind": "medecin_liberal", "legal_name": "Dr Bon Client", "rpps": "10003456786"},
    )
    missing = side_a.api.post(f"/api/v1/conflicts/{conflict.pk}/answer/", {"decision": "change"})
    assert (missing.status_code, missing.json()["code"]) == (409, "corrected_client_required")
    changed = side_a.api.post(
        f"/api/v1/conflicts/{conflict.pk}/answer/",
        {"decision": "change", "new_client": record.client_id},
    )
    assert changed.status_code == 200, changed.json()
    assert PurchaseOrder.objects.get(pk=order_a["id"]).client_id == record.client_id
    assert changed.json()["status"] == ConflictStatus.SETTLED


def test_step3_administrators_decide_through_the_api(rivals, side_a, side_b, admin_api):
    conflict, order_a, order_b = rivals
    early = admin_api.post(
        f"/api/v1/admin/conflicts/{conflict.pk}/decide/",
        {"chosen_order": order_a["id"], "reason": "Trop tôt."},
    )
    assert (early.status_code, early.json()["code"]) == (409, "transition_not_allowed")
    for side in (side_a, side_b):
        answered = side.api.post(f"/api/v1/conflicts/{conflict.pk}/answer/", {"decision": "keep"})
        assert answered.status_code == 200
    windows_over(conflict)
    assert sweep(timezone.now())["await_decision"] == 1
    read = admin_api.get(f"/api/v1/admin/conflicts/{conflict.pk}/").json()
    assert read["status"] == ConflictStatus.AWAITING_DECISION
    assert sorted(p["order"] for p in read["positions"]) == sorted([order_a["id"], order_b["id"]])
    assert side_a.api.get(f"/api/v1/admin/conflicts/{conflict.pk}/").status_code == 403
    unmotivated = admin_api.post(
        f"/api/v1/admin/conflicts/{conflict.pk}/decide/",
        {"chosen_order": order_a["id"], "reason": " "},
    )
    assert unmotivated.status_code in (400, 409)
    decided = admin_api.post(
        f"/api/v1/admin/conflicts/{conflict.pk}/decide/",
        {"chosen_order": order_a["id"], "reason": "Le client confirme son choix par écrit."},
    )
    assert decided.status_code == 200, decided.json()
    assert (decided.json()["status"], decided.json()["chosen_order"]) == (
        ConflictStatus.DECIDED,
        order_a["id"],
    )
    assert side_a.api.get(f"/api/v1/conflicts/{conflict.pk}/").json()["chosen"] is True
    assert side_b.api.get(f"/api/v1/conflicts/{conflict.pk}/").json()["chosen"] is False
    assert PurchaseOrder.objects.get(pk=order_b["id"]).status == OrderStatus.CANCELLED
