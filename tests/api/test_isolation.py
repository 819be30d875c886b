"""Vendor isolation: a member of vendor B gets 404 for every id of vendor A, on every detail and
action endpoint, and nothing of A's changes."""

import datetime as dt

import pytest
from django.utils import timezone

from api.models import WebhookSubscription
from api.services import subscribe
from catalogue.models import Tariff
from catalogue.rules import TariffKind
from core.models import JournalEntry
from tests.api.conftest import SIGNATURE, create_order, signed_order
from tests.payments.factories import open_dispositif
from tests.sons.factories import referenced

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(side_a, side_b, dispositif, admin_user, django_capture_on_commit_callbacks):
    """One of everything for vendor A."""
    api = side_a.api
    with django_capture_on_commit_callbacks(execute=True):
        order = signed_order(side_a, dispositif)
    draft = create_order(side_a, dispositif, client=_new_client(side_a, "Dr Brouillon"))
    deployment = api.post(
        f"/api/v1/orders/{order['id']}/deployments/",
        {"firm_date": str(timezone.localdate() + dt.timedelta(days=3))},
    ).json()
    with django_capture_on_commit_callbacks(execute=True):
        va = api.post(f"/api/v1/orders/{order['id']}/vas/", {"delivered_summary": "Fait"}).json()
    claim = api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
    api.post(f"/api/v1/claims/{claim['id']}/make-ready/")
    with django_capture_on_commit_callbacks(execute=True):
        filing = api.post(
            "/api/v1/filings/", {"dispositif": dispositif.code, "kind": "avance"}
        ).json()["filings"][0]
    mom_dispositif = open_dispositif(acceptance="mom")
    referenced(
        dispositif=mom_dispositif,
        actor=admin_user,
        at=timezone.now() - dt.timedelta(days=10),
        version=side_a.version,
    )
    mom_order = signed_order_on(side_a, mom_dispositif)
    mom = api.post(
        f"/api/v1/orders/{mom_order['id']}/mom/",
        {"signer_name": "Paul Martin", "signer_role": "Chef de projet", "statement": "En service"},
    ).json()
    referencing = api.post(
        "/api/v1/referencings/",
        {"solution_version": side_a.version.pk, "dispositif": open_dispositif().code},
    ).json()
    subscription = subscribe(
        vendor=side_a.vendor, url="https://crm.example.invalid/hooks", events=["va.signed"]
    )
    job = api.post(
        "/api/v1/clients/bulk/",
        {"items": [{"kind": "medecin_liberal", "legal_name": "Dr Masse", "rpps": _rpps(77)}]},
    ).json()
    return {
        "order": order["id"],
        "draft": draft["id"],
        "deployment": deployment["id"],
        "va": va["id"],
        "claim": claim["id"],
        "filing": filing["id"],
        "mom": mom["id"],
        "referencing": referencing["id"],
        "solution": side_a.version.solution_id,
        "client": side_a.client.pk,
        "webhook": subscription.pk,
        "job": job["id"],
    }


def _rpps(n):
    from tests.sons.factories import valid_rpps

    return valid_rpps(900000 + n)


def _new_client(side, name):
    from sons.services.clients import register_client

    record, _created = register_client(
        vendor=side.vendor,
        actor=side.user,
        data={"kind": "medecin_liberal", "legal_name": name, "rpps": _rpps(len(name))},
    )
    return record.client_id


def signed_order_on(side, dispositif):
    if not Tariff.objects.filter(dispositif=dispositif).exists():
        Tariff.objects.create(dispositif=dispositif, kind=TariffKind.FLAT, flat_cents=100000)
    order = create_order(side, dispositif)
    side.api.post(f"/api/v1/orders/{order['id']}/sign/", SIGNATURE)
    return order


DETAIL = [
    ("get", "/api/v1/orders/{order}/"),
    ("get", "/api/v1/orders/{order}/journal/"),
    ("patch", "/api/v1/orders/{draft}/"),
    ("post", "/api/v1/orders/{draft}/sign/"),
    ("post", "/api/v1/orders/{order}/confirm/"),
    ("post", "/api/v1/orders/{order}/cancel/"),
    ("post", "/api/v1/orders/{order}/declare-default/"),
    ("post", "/api/v1/orders/{order}/deployments/"),
    ("post", "/api/v1/orders/{order}/vas/"),
    ("post", "/api/v1/orders/{order}/mom/"),
    ("post", "/api/v1/orders/{order}/claims/"),
    ("get", "/api/v1/clients/{client}/"),
    ("patch", "/api/v1/clients/{client}/"),
    ("get", "/api/v1/deployments/{deployment}/"),
    ("post", "/api/v1/deployments/{deployment}/start/"),
    ("post", "/api/v1/deployments/{deployment}/install/"),
    ("post", "/api/v1/deployments/{deployment}/verify/"),
    ("post", "/api/v1/deployments/{deployment}/abandon/"),
    ("get", "/api/v1/vas/{va}/"),
    ("post", "/api/v1/vas/{va}/issue/"),
    ("post", "/api/v1/vas/{va}/resend/"),
    ("get", "/api/v1/moms/{mom}/"),
    ("get", "/api/v1/claims/{claim}/"),
    ("post", "/api/v1/claims/{claim}/invoice/"),
    ("post", "/api/v1/claims/{claim}/make-ready/"),
    ("post", "/api/v1/claims/{claim}/cancel/"),
    ("post", "/api/v1/claims/{claim}/reopen/"),
    ("get", "/api/v1/filings/{filing}/"),
    ("get", "/api/v1/filings/{filing}/json/"),
    ("get", "/api/v1/filings/{filing}/zip/"),
    ("post", "/api/v1/filings/{filing}/transmit/"),
    ("get", "/api/v1/referencings/{referencing}/"),
    ("post", "/api/v1/referencings/{referencing}/submit/"),
    ("get", "/api/v1/solutions/{solution}/"),
    ("get", "/api/v1/webhooks/{webhook}/"),
    ("patch", "/api/v1/webhooks/{webhook}/"),
    ("delete", "/api/v1/webhooks/{webhook}/"),
    ("get", "/api/v1/webhooks/{webhook}/deliveries/"),
    ("get", "/api/v1/bulk-jobs/{job}/"),
]

BODIES = {
    "sign": SIGNATURE,
    "cancel": {"sworn_statement": "Je déclare…"},
    "declare-default": {"reason": "Impossible"},
    "deployments": {"firm_date": "2030-01-01"},
    "vas": {"delivered_summary": "Fait"},
    "mom": {"signer_name": "X", "signer_role": "Y", "statement": "Z"},
    "claims": {"kind": "solde"},
    "abandon": {"reason": "Abandon"},
}


@pytest.mark.parametrize(("method", "template"), DETAIL, ids=[f"{m} {t}" for m, t in DETAIL])
def test_another_vendors_ids_are_not_found(world, side_a, side_b, method, template):
    url = template.format(**world)
    entries_before = JournalEntry.objects.count()
    subscriptions_before = WebhookSubscription.objects.count()
    api = side_b.api
    action = template.rstrip("/").rsplit("/", 1)[-1]
    if method == "get":
        response = api.get(url)
    elif method == "post" and action == "invoice":
        response = api.post(url, {"number": "F-1"}, format="multipart")
    elif method == "post":
        response = api.post(url, BODIES.get(action, {}))
    elif method == "patch":
        response = api.patch(url, {"vendor_reference": "X"}, if_match="*")
    else:
        response = api.delete(url)
    assert response.status_code == 404, (url, response.content)
    assert response.json()["code"] == "not_found"
    assert JournalEntry.objects.count() == entries_before
    assert WebhookSubscription.objects.count() == subscriptions_before
    # ... while the same address answers its owner.
    if method == "get":
        owner = side_a.api.get(url)
        assert owner.status_code == 200
        owner.close()  # a download's file is closed with its response


LISTS = [
    ("/api/v1/orders/", "order"),
    ("/api/v1/orders/", "draft"),
    ("/api/v1/clients/", "client"),
    ("/api/v1/deployments/", "deployment"),
    ("/api/v1/vas/", "va"),
    ("/api/v1/moms/", "mom"),
    ("/api/v1/claims/", "claim"),
    ("/api/v1/filings/", "filing"),
    ("/api/v1/referencings/", "referencing"),
    ("/api/v1/solutions/", "solution"),
    ("/api/v1/webhooks/", "webhook"),
]


@pytest.mark.parametrize(("url", "key"), LISTS)
def test_another_vendors_objects_are_absent_from_lists(world, side_a, side_b, url, key):
    assert world[key] in {row["id"] for row in side_a.api.get(url).json()["results"]}
    assert world[key] not in {row["id"] for row in side_b.api.get(url).json()["results"]}


def test_another_vendors_ids_in_a_bulk_are_unknown(world, side_b):
    response = side_b.api.post(
        "/api/v1/orders/bulk/",
        {"items": [{"id": world["draft"], "if_match": "*", "vendor_reference": "X"}]},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "index": 0,
        "field": "items[0].id",
        "code": "does_not_exist",
        "message": "BDC inconnu parmi les vôtres.",
    }


def test_another_vendors_feedback_lines_are_unknown(world, side_a, side_b):
    import json

    from payments.models import AspFiling

    name = AspFiling.objects.get(pk=world["filing"]).name
    content = json.dumps(
        {
            "schema_version": "1.0",
            "issued_at": "2026-11-20T10:00:00+01:00",
            "items": [{"filing": name, "line_number": 1, "decision": "validee"}],
        }
    ).encode()
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = side_b.api.post(
        "/api/v1/feedback-imports/",
        {"file": SimpleUploadedFile("retour.json", content, "application/json")},
        format="multipart",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "feedback_refused"
    assert "dépôt inconnu" in response.json()["detail"]
