"""The remaining actions, each with its success and a refusal: abandoning a deployment, issuing
a draft VA, a claim sent back by the agency (withdrawn, or reopened), an administrator's
rejection of a dossier, validation of a pre-series, cancellation of a recovery."""

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from payments.models import ClaimStatus, PaymentClaim
from sons.services import acceptance, gates
from tests.api.conftest import signed_order
from tests.payments.factories import open_dispositif
from tests.sons.factories import valid_rpps

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(side_a, dispositif, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return signed_order(side_a, dispositif)


def test_a_scheduled_deployment_is_abandoned_with_its_reason(side_a, order):
    deployment = side_a.api.post(
        f"/api/v1/orders/{order['id']}/deployments/",
        {"firm_date": str(timezone.localdate() + dt.timedelta(days=4))},
    ).json()
    url = f"/api/v1/deployments/{deployment['id']}/abandon/"
    assert side_a.api.post(url, {}).status_code == 400
    response = side_a.api.post(url, {"reason": "Le client change de logiciel"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["abandon_reason"]) == (
        "abandoned",
        "Le client change de logiciel",
    )
    assert side_a.api.post(f"/api/v1/deployments/{deployment['id']}/start/").status_code == 409


def test_a_draft_va_is_issued(side_a, draft_va):
    va = draft_va
    response = side_a.api.post(f"/api/v1/vas/{va.pk}/issue/")
    assert response.status_code == 200 and response.json()["status"] == "issued"
    again = side_a.api.post(f"/api/v1/vas/{va.pk}/issue/")
    assert again.status_code == 409 and again.json()["code"] == "transition_not_allowed"


@pytest.fixture
def draft_va(side_a, order):
    from sons.models import PurchaseOrder

    return acceptance.create_va(
        order=PurchaseOrder.objects.get(pk=order["id"]),
        delivered_summary="Mise à jour livrée",
        actor=side_a.user,
    )


def test_a_claim_sent_back_by_the_agency_says_why_and_can_be_withdrawn(
    side_a, order, dispositif, django_capture_on_commit_callbacks
):
    api = side_a.api
    claim = api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
    api.post(f"/api/v1/claims/{claim['id']}/make-ready/")
    with django_capture_on_commit_callbacks(execute=True):
        filing = api.post(
            "/api/v1/filings/", {"dispositif": dispositif.code, "kind": "avance"}
        ).json()["filings"][0]
    content = json.dumps(
        {
            "schema_version": "1.0",
            "issued_at": "2026-11-20T10:00:00+01:00",
            "items": [
                {
                    "filing": filing["name"],
                    "line_number": 1,
                    "decision": "a_modifier",
                    "reason": "RIB illisible",
                }
            ],
        }
    ).encode()
    api.post(
        "/api/v1/feedback-imports/",
        {"file": SimpleUploadedFile("retour.json", content, "application/json")},
        format="multipart",
    )
    sent_back = api.get(f"/api/v1/claims/{claim['id']}/").json()
    assert (sent_back["status"], sent_back["agency_reason"]) == ("to_correct", "RIB illisible")
    cancel = api.post(f"/api/v1/claims/{claim['id']}/cancel/", {"reason": "x"})
    assert cancel.status_code == 200
    assert PaymentClaim.objects.get(pk=claim["id"]).status == ClaimStatus.CANCELLED


def test_reopening_returns_a_claim_sent_back_to_draft(side_a, order):
    claim = side_a.api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
    PaymentClaim.objects.filter(pk=claim["id"]).update(
        status=ClaimStatus.TO_CORRECT, agency_reason="RIB illisible"
    )
    response = side_a.api.post(f"/api/v1/claims/{claim['id']}/reopen/")
    assert response.status_code == 200 and response.json()["status"] == "draft"


def test_an_administrator_rejects_a_dossier_with_its_reasons(admin_api, side_a):
    dossier = side_a.api.post(
        "/api/v1/referencings/",
        {"solution_version": side_a.version.pk, "dispositif": open_dispositif().code},
    ).json()
    side_a.api.post(f"/api/v1/referencings/{dossier['id']}/submit/")
    url = f"/api/v1/admin/referencings/{dossier['id']}"
    assert admin_api.post(f"{url}/reject/", {"reason": "x"}).status_code == 409  # not reviewed
    admin_api.post(f"{url}/start-review/")
    rejected = admin_api.post(f"{url}/reject/", {"reason": "Preuves incomplètes"})
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reasons"] == "Preuves incomplètes"
    assert side_a.api.get(f"/api/v1/referencings/{dossier['id']}/").json()["status"] == "rejected"


def test_an_administrator_validates_a_preseries(admin_api, side_a, admin_user):
    preseries = gates.start_preseries(
        solution_version=side_a.version,
        pilots=[
            {"name": "Dr A", "role": "medecin", "rpps": valid_rpps(11)},
            {"name": "Ph B", "role": "pharmacien", "rpps": valid_rpps(12)},
        ],
        actor=admin_user,
    )
    url = f"/api/v1/admin/preseries/{preseries.pk}/validate/"
    assert admin_api.post(url).status_code == 409  # not submitted yet
    gates.submit_preseries(preseries=preseries, actor=admin_user)
    response = admin_api.post(url)
    assert response.status_code == 200 and response.json()["status"] == "validated"
    listed = admin_api.get("/api/v1/admin/preseries/", {"status": "validated"}).json()
    assert [p["id"] for p in listed["results"]] == [preseries.pk]


def test_an_administrator_cancels_a_recovery(admin_api, side_a, order):
    claim = side_a.api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
    PaymentClaim.objects.filter(pk=claim["id"]).update(
        status=ClaimStatus.PAID, paid_amount_cents=54000, paid_on=timezone.localdate()
    )
    side_a.api.post(f"/api/v1/orders/{order['id']}/declare-default/", {"reason": "Liquidation"})
    recovery = admin_api.post(
        "/api/v1/admin/recoveries/",
        {"order": order["id"], "cause": "default", "reason": "Avance payée"},
    ).json()
    url = f"/api/v1/admin/recoveries/{recovery['id']}/cancel/"
    assert admin_api.post(url, {"reason": " "}).status_code == 400
    response = admin_api.post(url, {"reason": "Remboursement constaté hors SONS"})
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    refused = admin_api.post(
        "/api/v1/admin/recoveries/",
        {"order": order["id"], "cause": "realisation", "reason": "Fin de réalisation"},
    )
    assert refused.status_code == 409 and refused.json()["code"] == "realisation_not_missed"
