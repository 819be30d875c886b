"""Webhooks: events sent to the vendors' endpoints, signed with HMAC-SHA256, retried with
exponential backoff; a delivery that fails every attempt disables its subscription.

Call ``emit(vendor=..., event=..., payload=...)`` after the change it reports has committed
(the deliveries it creates are sent by a Celery task once its own transaction commits).

Signature: the Standard Webhooks specification, so that a receiver checks it with the
``standardwebhooks`` library (``Webhook(secret).verify(body, headers)``) in any language.
``webhook-id`` is the event's id (the same on every attempt: a receiver deduplicates on it),
``webhook-timestamp`` the attempt's Unix time (a retry is signed anew, so it is never stale),
``webhook-signature`` ``v1,<base64 HMAC-SHA256>`` of ``"<id>.<timestamp>.<raw body>"`` with the
secret ``whsec_<base64 key>`` decoded. Receivers refuse a timestamp more than
``TOLERANCE`` away from their clock (the library does). Subscriptions made before this scheme
(``sons_v1``) keep ``X-Sons-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
until their vendor rotates the secret (``api.services.rotate_subscription_secret``). For a day
after a rotation the former secret signs too (a second ``v1,`` signature, or the former header).

Times in the body are ISO 8601 with the Europe/Paris offset, as everywhere in the API.

Destinations (api/destinations.py): HTTPS to public addresses only, checked when the
subscription is saved and again at every delivery, the connection pinned to the checked
address; a redirect is never followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import secrets
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from core.clock import PARIS

from . import destinations

logger = logging.getLogger(__name__)

EVENTS = (
    "va.signed",
    "va.refused",
    "claim.paid",
    "claim.rejected",
    "deadline.reminder",
    "bulk_job.finished",
)
# How far a receiver lets a webhook-timestamp stray from its clock (the standardwebhooks
# libraries' window); a delivery older than this is refused as a replay.
TOLERANCE = dt.timedelta(minutes=5)
SECRET_PREFIX = "whsec_"
# The former scheme, kept for the subscriptions made before the standard one.
LEGACY_SIGNATURE_HEADER = "X-Sons-Signature"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64>``: HMAC-SHA256 of ``"<id>.<timestamp>.<body>"`` with the decoded key."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    mac = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def legacy_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The former ``X-Sons-Signature`` value: ``t=<timestamp>,v1=<hex HMAC-SHA256>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_legacy_signature(secret: str, header: str, body: bytes) -> bool:
    """What a receiver of the former scheme does (shown in the documentation)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        return False
    expected = legacy_signature(secret, int(parts["t"]), body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts["v1"])


def signature_headers(subscription, *, event_id: str, at: dt.datetime, body: bytes) -> dict:
    """The headers that sign `body` for `subscription`, by its scheme, at the instant `at`; in the
    grace period after a rotation, signed with the former secret too."""
    timestamp = int(at.timestamp())
    headers: dict[str, str] = {}
    previous = subscription.previous_secret if subscription.previous_secret_signs(at) else ""
    legacy = subscription.SignatureScheme.LEGACY
    if subscription.signature_scheme == legacy:
        return {LEGACY_SIGNATURE_HEADER: legacy_signature(subscription.secret, timestamp, body)}
    signatures = [standard_signature(subscription.secret, event_id, timestamp, body)]
    if previous and subscription.previous_signature_scheme == legacy:
        headers[LEGACY_SIGNATURE_HEADER] = legacy_signature(previous, timestamp, body)
    elif previous:
        signatures.append(standard_signature(previous, event_id, timestamp, body))
    return {
        **headers,
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


class ParisJSONEncoder(DjangoJSONEncoder):
    """Instants as the API writes them: ISO 8601 in Europe/Paris time, with its offset."""

    def default(self, o):
        if isinstance(o, dt.datetime) and timezone.is_aware(o):
            return o.astimezone(PARIS).isoformat()
        return super().default(o)


def emit(*, vendor, event: str, payload: dict[str, Any]) -> list:
    """Queues `event` for every active subscription of `vendor` to it; returns the deliveries."""
    from .models import WebhookDelivery, WebhookSubscription
    from .tasks import deliver_webhook

    if event not in EVENTS:
        raise ValueError(f"Événement inconnu : {event}")
    vendor_id = getattr(vendor, "pk", vendor)
    subscriptions = [
        s
        for s in WebhookSubscription.objects.filter(vendor_id=vendor_id, is_active=True)
        if event in s.events
    ]
    if not subscriptions:
        return []
    payload = json.loads(json.dumps(payload, cls=ParisJSONEncoder))
    now = timezone.now()
    with transaction.atomic():
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(subscription=s, event=event, payload=payload, next_attempt_at=now)
                for s in subscriptions
            ]
        )
        for delivery in deliveries:
            # Due now (`next_attempt_at`): should the broker be out of reach, the failure is
            # logged, not raised after the commit, and `dispatch_events` sends it again later.
            transaction.on_commit(lambda pk=delivery.pk: deliver_webhook.delay(pk), robust=True)
    logger.info(
        "webhook_emitted vendor_id=%s event=%s deliveries=%s", vendor_id, event, len(deliveries)
    )
    return deliveries


def body_of(delivery) -> bytes:
    envelope = {
        "id": str(delivery.event_id),
        "event": delivery.event,
        "created_at": delivery.created_at.astimezone(PARIS).isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, ensure_ascii=False, sort_keys=True).encode()


def backoff(attempt: int) -> dt.timedelta:
    """Delay before attempt `attempt + 1`: the base delay doubled at each failure."""
    base = getattr(settings, "API_WEBHOOK_RETRY_SECONDS", 60)
    return dt.timedelta(seconds=base * 2 ** max(attempt - 1, 0))


def max_attempts() -> int:
    return getattr(settings, "API_WEBHOOK_MAX_ATTEMPTS", 6)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POSTs the body to the URL checked again now (its name resolved again, every address
    public) and to the address checked; returns the HTTP status and the Location of a redirect,
    which is not followed. Raises DestinationRefused, or OSError on a network failure."""
    destination = destinations.check(url)
    timeout = getattr(settings, "API_WEBHOOK_TIMEOUT_SECONDS", 5)
    return destinations.post(destination, body, headers, timeout)


def attempt_delivery(delivery_id: int) -> tuple[str, dt.timedelta | None]:
    """One attempt at a pending delivery: ('delivered' | 'retry' | 'failed' | 'skipped', delay
    before the next attempt). After the last failed attempt the subscription is disabled."""
    from .models import WebhookDelivery, WebhookSubscription

    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None or delivery.state != WebhookDelivery.State.PENDING:
        return "skipped", None
    subscription = delivery.subscription
    if not subscription.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=WebhookDelivery.State.FAILED,
            last_error="Abonnement désactivé : envoi abandonné.",
        )
        return "failed", None
    body = body_of(delivery)
    now = timezone.now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "SONS-webhooks/1",
        "X-Sons-Event": delivery.event,
        "X-Sons-Delivery": str(delivery.event_id),
        **signature_headers(subscription, event_id=str(delivery.event_id), at=now, body=body),
    }
    status, error = None, ""
    try:
        status, location = post(subscription.url, body, headers)
    except destinations.DestinationRefused as exc:
        error = f"Destination refusée ({exc.code}) : {exc.message}"[:2000]
    except (OSError, ValueError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
    else:
        if 300 <= status < 400:
            error = f"HTTP {status} : redirection non suivie ({location[:500]})"
    attempts = delivery.attempts + 1
    if status is not None and 200 <= status < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=WebhookDelivery.State.DELIVERED,
            attempts=attempts,
            last_attempt_at=now,
            next_attempt_at=None,
            response_status=status,
            last_error="",
            delivered_at=now,
        )
        logger.info("webhook_delivered delivery_id=%s status=%s", delivery.pk, status)
        return "delivered", None
    error = error or f"HTTP {status}"
    if attempts >= max_attempts():
        with transaction.atomic():
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                state=WebhookDelivery.State.FAILED,
                attempts=attempts,
                last_attempt_at=now,
                next_attempt_at=None,
                response_status=status,
                last_error=error,
            )
            WebhookSubscription.objects.filter(pk=subscription.pk).update(
                is_active=False,
                disabled_at=now,
                disabled_reason=(
                    f"Désactivé après {attempts} tentatives en échec "
                    f"(envoi {delivery.pk}, {delivery.event}) : {error}"
                )[:2000],
            )
        logger.warning(
            "webhook_failed delivery_id=%s subscription_id=%s attempts=%s error=%s",
            delivery.pk,
            subscription.pk,
            attempts,
            error,
        )
        return "failed", None
    delay = backoff(attempts)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=attempts,
        last_attempt_at=now,
        next_attempt_at=now + delay,
        response_status=status,
        last_error=error,
    )
    logger.info(
        "webhook_retry delivery_id=%s attempts=%s in_seconds=%s error=%s",
        delivery.pk,
        attempts,
        int(delay.total_seconds()),
        error,
    )
    return "retry", delay
