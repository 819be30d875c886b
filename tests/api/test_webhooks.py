"""Webhooks: subscriptions per vendor, events read from the journal (VA signed, claim paid) or
emitted by other apps (deadline reminder, bulk job), deliveries to a real HTTP server signed on
the Standard Webhooks scheme and checked by its reference library `standardwebhooks` (the
judge), bodies valid against the schema's `webhooks` section, the former scheme kept for the
subscriptions made before it until their secret is rotated, retries with backoff then the
subscription disabled, and the log of deliveries."""

import base64
import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
import standardwebhooks.webhooks
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import patched_settings
from jsonschema import Draft202012Validator
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from api import services
from api.events import dispatch_journal_events
from api.models import WebhookDelivery, WebhookSubscription
from api.webhooks import (
    LEGACY_SIGNATURE_HEADER,
    attempt_delivery,
    backoff,
    emit,
    verify_legacy_signature,
)
from reminders.services import send_due_reminders
from tests.api.conftest import signed_order
from tests.api.test_bulk import item, new_clients
from tests.api.test_delivery_and_payments import sign_va_of
from tests.conftest import real_broker
from tests.reminders.test_reminders import J30, world  # noqa: F401 - the reminders' own world

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


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

    def verified(self, secret, index=0):
        """The body of delivery `index` as the reference library hands it over once it has
        checked the signature (raises WebhookVerificationError otherwise)."""
        headers, body = self.received[index]
        return Webhook(secret).verify(body, headers)


def webhooks_schema():
    """The schema's `webhooks` section and components, generated from the code (OAS 3.1)."""
    with patched_settings({"OAS_VERSION": "3.1.0"}):
        return SchemaGenerator().get_schema(request=None, public=True)


def assert_matches_its_schema(event: dict, schema: dict) -> None:
    """The delivered body validates against the request body its webhook declares, and has no
    field the schema does not describe (nor lacks one it does)."""
    body_schema = schema["webhooks"][event["event"]]["post"]["requestBody"]["content"]
    ref = body_schema["application/json"]["schema"]["$ref"]
    validator = Draft202012Validator(
        {"$ref": ref, "components": schema["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(event)]
    assert errors == []
    components = schema["components"]["schemas"]
    envelope = components[ref.rsplit("/", 1)[1]]
    data = components[envelope["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
    assert set(event) == set(envelope["properties"])
    assert set(event["data"]) == set(data["properties"])


def at_clock(monkeypatch, instant: dt.datetime) -> None:
    """The receiver's clock (the one the library reads) set to `instant`."""

    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return instant.astimezone(tz)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", Clock)


def paris_offset(text: str) -> bool:
    """An ISO 8601 instant written with the Europe/Paris offset of that instant."""
    instant = dt.datetime.fromisoformat(text)
    return instant.utcoffset() == instant.astimezone(PARIS).utcoffset() and not text.endswith("Z")


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
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 32
    Webhook(created["secret"])  # the reference library takes it as it is
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


def test_a_signed_va_is_delivered_signed_on_the_standard_scheme(
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
    # The judge: the reference library, on the bytes and headers the endpoint received.
    event = receiver.verified(subscription["secret"])
    assert event == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"un autre secret").decode()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(subscription["secret"]).verify(body + b" ", headers)
    delivery = WebhookDelivery.objects.get()
    assert headers["webhook-id"] == event["id"] == headers["X-Sons-Delivery"]
    assert event["id"] == str(delivery.event_id)
    assert LEGACY_SIGNATURE_HEADER not in headers  # a new subscription: the standard only
    assert event["data"]["va"] == va.pk
    assert event["data"]["order_reference"] == order["reference"]
    assert headers["X-Sons-Event"] == "va.signed"
    assert_matches_its_schema(event, webhooks_schema())
    assert (delivery.state, delivery.attempts, delivery.response_status) == ("delivered", 1, 200)
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_journal_events() == 0  # never twice
    log = side_a.api.get(f"/api/v1/webhooks/{subscription['id']}/deliveries/").json()
    assert [d["state"] for d in log["results"]] == ["delivered"]
    # One time-zone convention: the body's instants are written as the API writes them.
    assert event["created_at"] == log["results"][0]["created_at"]
    assert paris_offset(event["created_at"]) and paris_offset(event["data"]["decided_at"])
    decided = dt.datetime.fromisoformat(event["data"]["decided_at"])
    assert decided == va.decision.decided_at


def test_a_delivery_replayed_after_the_window_is_refused_by_the_library(
    side_a, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    subscription = subscribe(side_a, receiver.url, ["deadline.reminder"])
    with django_capture_on_commit_callbacks(execute=True):
        emit(vendor=side_a.vendor, event="deadline.reminder", payload={"n": 1})
    headers, _body = receiver.received[0]
    sent = dt.datetime.fromtimestamp(int(headers["webhook-timestamp"]), dt.UTC)
    assert abs(dt.datetime.now(dt.UTC) - sent) < dt.timedelta(seconds=5)
    at_clock(monkeypatch, sent + dt.timedelta(minutes=4, seconds=59))
    assert receiver.verified(subscription["secret"])["data"] == {"n": 1}
    at_clock(monkeypatch, sent + dt.timedelta(minutes=5, seconds=1))
    with pytest.raises(WebhookVerificationError, match="too old"):
        receiver.verified(subscription["secret"])


def test_a_retry_is_signed_anew_so_the_window_never_refuses_it(
    side_a, settings, receiver, monkeypatch
):
    settings.API_WEBHOOK_MAX_ATTEMPTS = 5
    subscription = subscribe(side_a, "http://127.0.0.1:9/ferme", ["deadline.reminder"])
    delivery = emit(vendor=side_a.vendor, event="deadline.reminder", payload={"n": 2})[0]
    assert attempt_delivery(delivery.pk)[0] == "retry"  # nobody listens on port 9
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=delivery.created_at - dt.timedelta(hours=1)
    )
    WebhookSubscription.objects.filter(pk=subscription["id"]).update(url=receiver.url)
    assert attempt_delivery(delivery.pk)[0] == "delivered"
    event = receiver.verified(subscription["secret"])
    assert event["id"] == str(delivery.event_id)  # the same webhook-id: receivers deduplicate


def test_a_subscription_made_before_keeps_the_former_scheme_until_its_secret_is_rotated(
    side_a, receiver, django_capture_on_commit_callbacks
):
    # As the migration leaves a subscription made under the former scheme.
    old = WebhookSubscription.objects.create(
        vendor=side_a.vendor,
        url=receiver.url,
        events=["deadline.reminder"],
        secret="a" * 64,
        signature_scheme=WebhookSubscription.SignatureScheme.LEGACY,
    )
    with django_capture_on_commit_callbacks(execute=True):
        emit(vendor=side_a.vendor, event="deadline.reminder", payload={"n": 1})
    headers, body = receiver.received[0]
    assert verify_legacy_signature("a" * 64, headers[LEGACY_SIGNATURE_HEADER], body)
    assert not verify_legacy_signature("b" * 64, headers[LEGACY_SIGNATURE_HEADER], body)
    assert "webhook-signature" not in headers

    rotated = side_a.api.post(f"/api/v1/webhooks/{old.pk}/rotate-secret/")
    assert rotated.status_code == 200, rotated.json()
    secret = rotated.json()["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in side_a.api.get(f"/api/v1/webhooks/{old.pk}/").json()
    old.refresh_from_db()
    assert old.signature_scheme == WebhookSubscription.SignatureScheme.STANDARD
    with django_capture_on_commit_callbacks(execute=True):
        emit(vendor=side_a.vendor, event="deadline.reminder", payload={"n": 2})
    # For a day the former header still comes, signed with the former secret, beside the new.
    headers, body = receiver.received[1]
    assert receiver.verified(secret, index=1)["data"] == {"n": 2}
    assert verify_legacy_signature("a" * 64, headers[LEGACY_SIGNATURE_HEADER], body)
    assert old.previous_secret_until - timezone.now() > dt.timedelta(hours=23)
    WebhookSubscription.objects.filter(pk=old.pk).update(previous_secret_until=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        emit(vendor=side_a.vendor, event="deadline.reminder", payload={"n": 3})
    headers, _body = receiver.received[2]
    assert LEGACY_SIGNATURE_HEADER not in headers
    assert receiver.verified(secret, index=2)["data"] == {"n": 3}
    assert side_a.api.post("/api/v1/webhooks/999999/rotate-secret/").status_code == 404


def test_rotating_a_standard_secret_retires_the_previous_one_a_day_later(
    side_a, side_b, receiver, django_capture_on_commit_callbacks
):
    """Standard Webhooks lists several signatures: for a day both secrets sign, so that the
    receiver changes its secret at its own pace; then the former one no longer verifies."""
    created = subscribe(side_a, receiver.url, ["deadline.reminder"])
    assert side_b.api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret/").status_code == 404
    fresh = side_a.api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret/").json()["secret"]
    assert fresh != created["secret"]
    with django_capture_on_commit_callbacks(execute=True):
        emit(vendor=side_a.vendor, event="deadline.reminder", payload={})
    assert receiver.verified(fresh)["event"] == "deadline.reminder"
    assert receiver.verified(created["secret"])["event"] == "deadline.reminder"
    assert len(receiver.received[0][0]["webhook-signature"].split(" ")) == 2

    WebhookSubscription.objects.filter(pk=created["id"]).update(
        previous_secret_until=timezone.now() - dt.timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        emit(vendor=side_a.vendor, event="deadline.reminder", payload={})
    assert receiver.verified(fresh, index=1)["event"] == "deadline.reminder"
    with pytest.raises(WebhookVerificationError):
        receiver.verified(created["secret"], index=1)


def test_a_paid_claim_is_delivered(
    side_a, dispositif, receiver, django_capture_on_commit_callbacks
):
    subscription = subscribe(side_a, receiver.url, ["claim.paid"])
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
    event = receiver.verified(subscription["secret"])
    assert_matches_its_schema(event, webhooks_schema())
    data = event["data"]
    assert (data["claim"], data["paid_amount_cents"], data["paid_on"]) == (
        claim["id"],
        54000,
        "2026-11-19",
    )


def test_a_finished_bulk_job_is_delivered_as_its_schema_says(
    side_a, dispositif, receiver, django_capture_on_commit_callbacks
):
    subscription = subscribe(side_a, receiver.url, ["bulk_job.finished"])
    clients = new_clients(side_a, 2)
    with django_capture_on_commit_callbacks(execute=True):
        response = side_a.api.post(
            "/api/v1/orders/bulk/",
            {"items": [item(side_a, dispositif, c) for c in clients]},
            HTTP_PREFER="respond-async",
        )
    assert response.status_code == 202
    job = side_a.api.get(response["Location"]).json()
    assert receiver.events() == ["bulk_job.finished"]
    event = receiver.verified(subscription["secret"])
    assert_matches_its_schema(event, webhooks_schema())
    assert event["data"] == {"job": job["id"], "kind": "orders", "state": "succeeded"}


def test_a_deadline_reminder_is_delivered_as_its_schema_says(
    world,  # noqa: F811 - the fixture imported above
    receiver,
    django_capture_on_commit_callbacks,
):
    orders = world["a_orders"]
    subscription = services.subscribe(
        vendor=orders[0].vendor, url=receiver.url, events=["deadline.reminder"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        send_due_reminders(at=J30)
    assert receiver.events() == ["deadline.reminder"]
    event = receiver.verified(subscription.secret)
    assert_matches_its_schema(event, webhooks_schema())
    assert event["data"]["orders"] == [o.reference for o in orders]
    # The end of réalisation, 20/09/2023 14:00 in Paris, written as the API writes instants.
    assert event["data"]["deadline_at"] == "2023-09-20T14:00:00+02:00"


def test_every_event_has_its_body_described_in_the_schema():
    from api.webhooks import EVENTS

    schema = webhooks_schema()
    assert set(schema["webhooks"]) == set(EVENTS)
    for event in EVENTS:
        operation = schema["webhooks"][event]["post"]
        assert "webhook-signature" in operation["description"]
        assert "standardwebhooks" in operation["description"]
        envelope = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        properties = schema["components"]["schemas"][envelope.rsplit("/", 1)[1]]["properties"]
        assert properties["event"]["pattern"] == "^" + event.replace(".", "\\.") + "$"
        assert "$ref" in properties["data"]


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


@pytest.mark.django_db(transaction=True)
def test_the_migration_leaves_the_subscriptions_already_made_on_the_former_scheme():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from tests.factories import VendorFactory

    vendor = VendorFactory()
    before = [("api", "0004_completion_jobs")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("api", "WebhookSubscription")
    made_before = old.objects.create(
        vendor_id=vendor.pk, url="https://crm.example.invalid/h", events=["va.signed"], secret="a"
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert WebhookSubscription.objects.get(pk=made_before.pk).signature_scheme == "sons_v1"
    made_after = WebhookSubscription.objects.create(
        vendor=vendor, url="https://crm.example.invalid/h", events=["va.signed"], secret="b"
    )
    assert made_after.signature_scheme == "standard_webhooks_v1"


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
    first, second = (int(h["webhook-timestamp"]) for h, _b in failing.received)
    assert second - first >= 1  # the retry waited its backoff
    assert not WebhookSubscription.objects.get(pk=subscription["id"]).is_active


def test_the_admin_never_shows_a_secret_the_current_nor_the_former(
    side_a, receiver, client, admin_user
):
    created = subscribe(side_a, receiver.url, ["deadline.reminder"])
    fresh = side_a.api.post(f"/api/v1/webhooks/{created['id']}/rotate-secret/").json()["secret"]
    client.force_login(admin_user)
    page = client.get(f"/admin/api/webhooksubscription/{created['id']}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "le secret précédent signe aussi jusqu" in text.lower()
    assert fresh not in text and created["secret"] not in text
    assert fresh.removeprefix("whsec_") not in text
    assert created["secret"].removeprefix("whsec_") not in text
