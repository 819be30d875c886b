"""Webhooks: subscriptions per vendor, events read from the journal (VA signed, claim paid) or
emitted by other apps (deadline reminder), HMAC-SHA256 signed deliveries to a real HTTP server,
retries with backoff then the subscription disabled, and the log of deliveries."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.events import dispatch_journal_events
from api.models import WebhookDelivery, WebhookSubscription
from api.webhooks import SIGNATURE_HEADER, backoff, emit, verify_signature
from tests.api.conftest import signed_order
from tests.api.test_delivery_and_payments import sign_va_of
from tests.conftest import real_broker

pytestmark = pytest.mark.django_db


class Receiver:
    """A small HTTP server standing for a vendor's endpoint; answers `status`."""

    def __init__(self, status=200):
        self.status = status
        self.received: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def events(self):
        return [json.loads(body)["event"] for _headers, body in self.received]


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def crm_resolves(monkeypatch):
    """crm.example.invalid resolves to a public address (api/destinations.py checks every
    address a name gives when the subscription is saved; nothing is sent to it here)."""
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "crm.example.invalid":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def subscribe(side, url, events):
    response = side.api.post(
        "/api/v1/webhooks/", {"url": url, "events": events, "description": "CRM"}
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_subscription_shows_its_secret_once(side_a, side_b, crm_resolves):
    created = subscribe(side_a, "https://crm.example.invalid/hooks", ["va.signed", "claim.paid"])
    assert len(created["secret"]) == 64
    read = side_a.api.get(f"/api/v1/webhooks/{created['id']}/")
    assert "secret" not in read.json()
    assert read.json()["events"] == ["claim.paid", "va.signed"]
    assert side_b.api.get("/api/v1/webhooks/").json()["results"] == []
    bad = side_a.api.post("/api/v1/webhooks/", {"url": "pas une adresse", "events": ["x"]})
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} == {"url", "events[0]"}


def test_a_subscription_is_changed_under_if_match_and_deleted(side_a, crm_resolves):
    created = subscribe(side_a, "https://crm.example.invalid/hooks", ["va.signed"])
    url = f"/api/v1/webhooks/{created['id']}/"
    etag = side_a.api.get(url)["ETag"]
    changed = side_a.api.patch(url, {"events": ["claim.paid"]}, if_match=etag)
    assert changed.status_code == 200 and changed.json()["events"] == ["claim.paid"]
    assert side_a.api.patch(url, {"is_active": False}, if_match=etag).status_code == 412
    assert side_a.api.delete(url).status_code == 204
    assert not WebhookSubscription.objects.exists()


def test_a_signed_va_is_delivered_signed_with_the_secret(
    side_a, side_b, dispositif, receiver, django_capture_on_commit_callbacks
):
    subscription = subscribe(side_a, receiver.url, ["va.signed"])
    subscribe(side_b, receiver.url, ["va.signed"])
    with django_capture_on_commit_callbacks(execute=True):
        order = signed_order(side_a, dispositif)
    va = sign_va_of(side_a, order, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_journal_events() == 1
    assert receiver.events() == ["va.signed"]  # vendor B heard nothing of A's VA
    headers, body = receiver.received[0]
    assert verify_signature(subscription["secret"], headers[SIGNATURE_HEADER], body)
    assert not verify_signature("un autre secret", headers[SIGNATURE_HEADER], body)
    assert not verify_signature(subscription["secret"], headers[SIGNATURE_HEADER], body + b" ")
    event = json.loads(body)
    assert event["data"]["va"] == va.pk
    assert event["data"]["order_reference"] == order["reference"]
    assert headers["X-Sons-Event"] == "va.signed"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("delivered", 1, 200)
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_journal_events() == 0  # never twice
    log = side_a.api.get(f"/api/v1/webhooks/{subscription['id']}/deliveries/").json()
    assert [d["state"] for d in log["results"]] == ["delivered"]


def test_a_paid_claim_is_delivered(
    side_a, dispositif, receiver, django_capture_on_commit_callbacks
):
    subscribe(side_a, receiver.url, ["claim.paid"])
    with django_capture_on_commit_callbacks(execute=True):
        order = signed_order(side_a, dispositif)
    claim = side_a.api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
    side_a.api.post(f"/api/v1/claims/{claim['id']}/make-ready/")
    with django_capture_on_commit_callbacks(execute=True):
        filing = side_a.api.post(
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
                    "decision": "decidee_et_payee",
                    "paid_on": "2026-11-19",
                    "paid_amount_cents": 54000,
                }
            ],
        }
    ).encode()
    side_a.api.post(
        "/api/v1/feedback-imports/",
        {"file": SimpleUploadedFile("retour.json", content, "application/json")},
        format="multipart",
    )
    with django_capture_on_commit_callbacks(execute=True):
        dispatch_journal_events()
    assert receiver.events() == ["claim.paid"]
    data = json.loads(receiver.received[0][1])["data"]
    assert (data["claim"], data["paid_amount_cents"], data["paid_on"]) == (
        claim["id"],
        54000,
        "2026-11-19",
    )


def test_other_apps_emit_their_events(side_a, receiver, django_capture_on_commit_callbacks):
    subscribe(side_a, receiver.url, ["deadline.reminder"])
    with django_capture_on_commit_callbacks(execute=True):
        deliveries = emit(
            vendor=side_a.vendor,
            event="deadline.reminder",
            payload={"dispositif": "MDV-LGC-V2", "kind": "soldes", "days_before": 7},
        )
    assert len(deliveries) == 1
    assert receiver.events() == ["deadline.reminder"]
    assert emit(vendor=side_a.vendor, event="va.signed", payload={}) == []
    with pytest.raises(ValueError):
        emit(vendor=side_a.vendor, event="inconnu", payload={})


def test_a_failing_endpoint_is_retried_then_its_subscription_disabled(
    side_a, settings, django_capture_on_commit_callbacks
):
    settings.API_WEBHOOK_MAX_ATTEMPTS = 3
    failing = Receiver(status=500)
    try:
        subscription = subscribe(side_a, failing.url, ["deadline.reminder"])
        with django_capture_on_commit_callbacks(execute=True):
            emit(vendor=side_a.vendor, event="deadline.reminder", payload={"n": 1})
    finally:
        failing.close()
    # in-process tasks retry at once; a worker waits the backoff between attempts
    assert len(failing.received) == 3
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("failed", 3, 500)
    stored = WebhookSubscription.objects.get(pk=subscription["id"])
    assert stored.is_active is False
    assert "3 tentatives" in stored.disabled_reason
    with django_capture_on_commit_callbacks(execute=True):
        assert emit(vendor=side_a.vendor, event="deadline.reminder", payload={}) == []
    url = f"/api/v1/webhooks/{subscription['id']}/"
    reactivated = side_a.api.patch(url, {"is_active": True}, if_match=side_a.api.get(url)["ETag"])
    assert reactivated.json()["is_active"] is True
    assert reactivated.json()["disabled_reason"] == ""


def test_an_unreachable_endpoint_is_an_attempt_that_failed(side_a, settings):
    from api.webhooks import attempt_delivery

    settings.API_WEBHOOK_MAX_ATTEMPTS = 5
    subscribe(side_a, "http://127.0.0.1:9/ferme", ["deadline.reminder"])
    delivery = emit(vendor=side_a.vendor, event="deadline.reminder", payload={})[0]
    outcome, delay = attempt_delivery(delivery.pk)
    assert (outcome, delay) == ("retry", backoff(1))
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and "Error" in delivery.last_error
    assert backoff(2) == 2 * backoff(1) and backoff(3) == 4 * backoff(1)


def test_the_admin_shows_the_log_of_deliveries(
    client, admin_user, side_a, receiver, django_capture_on_commit_callbacks
):
    subscribe(side_a, receiver.url, ["deadline.reminder"])
    with django_capture_on_commit_callbacks(execute=True):
        emit(vendor=side_a.vendor, event="deadline.reminder", payload={})
    client.force_login(admin_user)
    listing = client.get("/admin/api/webhookdelivery/")
    assert listing.status_code == 200 and "deadline.reminder" in listing.content.decode()
    delivery = WebhookDelivery.objects.get()
    assert client.get(f"/admin/api/webhookdelivery/{delivery.pk}/change/").status_code == 200
    subscription = WebhookSubscription.objects.get()
    page = client.get(f"/admin/api/webhooksubscription/{subscription.pk}/change/")
    assert page.status_code == 200 and subscription.secret not in page.content.decode()


@real_broker
@pytest.mark.django_db(transaction=True)
def test_a_worker_retries_after_the_backoff_then_disables(worker, side_a, settings):
    settings.API_WEBHOOK_MAX_ATTEMPTS = 2
    settings.API_WEBHOOK_RETRY_SECONDS = 1
    failing = Receiver(status=503)
    try:
        subscription = subscribe(side_a, failing.url, ["deadline.reminder"])
        emit(vendor=side_a.vendor, event="deadline.reminder", payload={"n": 1})
        delivery = WebhookDelivery.objects.get()
        for _ in range(150):  # the worker tries, waits the backoff, tries again
            delivery.refresh_from_db()
            if delivery.state != "pending":
                break
            time.sleep(0.2)
    finally:
        failing.close()
    assert (delivery.state, delivery.attempts) == ("failed", 2)
    first, second = (float(h["X-Sons-Signature"].split(",")[0][2:]) for h, _b in failing.received)
    assert second - first >= 1  # the retry waited its backoff
    assert not WebhookSubscription.objects.get(pk=subscription["id"]).is_active
