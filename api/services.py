"""The API's own writers: webhook subscriptions. Clients and orders are registered, created
and corrected by the lifecycle's commands (sons.services.clients.save_clients,
sons.services.orders.save_orders), which the views and api.bulk call; state changes likewise.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalogue.models import Vendor

from .concurrency import require_match
from .models import EventCursor, WebhookSubscription
from .webhooks import new_secret

logger = logging.getLogger(__name__)


# -- webhooks ---------------------------------------------------------------------------------


def subscribe(
    *, vendor: Vendor, url: str, events: list[str], description: str = ""
) -> WebhookSubscription:
    """A new subscription with its signing secret; events from now on are delivered to it."""
    from .events import _head

    with transaction.atomic():
        EventCursor.objects.get_or_create(id=1, defaults={"last_sequence": _head()})
        subscription = WebhookSubscription.objects.create(
            vendor=vendor,
            url=url,
            events=sorted(set(events)),
            description=description,
            secret=new_secret(),
        )
    logger.info("webhook_subscribed vendor_id=%s subscription_id=%s", vendor.pk, subscription.pk)
    return subscription


def update_subscription(
    *, subscription: WebhookSubscription, changes: dict[str, Any], if_match: str | None
) -> WebhookSubscription:
    with transaction.atomic():
        locked = WebhookSubscription.objects.select_for_update(no_key=True).get(pk=subscription.pk)
        require_match(if_match, locked)
        if "events" in changes:
            changes["events"] = sorted(set(changes["events"]))
        reactivated = changes.get("is_active") is True and not locked.is_active
        for field, value in changes.items():
            setattr(locked, field, value)
        if reactivated:
            locked.disabled_at = None
            locked.disabled_reason = ""
        elif changes.get("is_active") is False and locked.disabled_at is None:
            locked.disabled_at = timezone.now()
            locked.disabled_reason = str(_("Désactivé par le fournisseur."))
        locked.save()
    return locked


def rotate_subscription_secret(*, subscription: WebhookSubscription) -> WebhookSubscription:
    """A new signing secret, in the Standard Webhooks form, shown once; a subscription still
    on the former scheme (`X-Sons-Signature`) moves to Standard Webhooks with it. Every attempt
    from now on, pending deliveries included, is signed with the new secret, and, for
    `WEBHOOK_ROTATION_GRACE_HOURS` (24), with the former one too: in its own header for the
    former scheme, as a second signature of `webhook-signature` otherwise (Standard Webhooks
    lists several, space-separated), so the receiver changes its secret at its own pace."""
    hours = getattr(settings, "WEBHOOK_ROTATION_GRACE_HOURS", 24)
    with transaction.atomic():
        locked = WebhookSubscription.objects.select_for_update(no_key=True).get(pk=subscription.pk)
        previous = locked.signature_scheme
        locked.previous_secret = locked.secret
        locked.previous_signature_scheme = previous
        locked.previous_secret_until = timezone.now() + dt.timedelta(hours=hours)
        locked.secret = new_secret()
        locked.signature_scheme = WebhookSubscription.SignatureScheme.STANDARD
        locked.save(
            update_fields=[
                "secret",
                "signature_scheme",
                "previous_secret",
                "previous_signature_scheme",
                "previous_secret_until",
            ]
        )
    logger.info(
        "webhook_secret_rotated subscription_id=%s scheme_before=%s previous_signs_until=%s",
        locked.pk,
        previous,
        locked.previous_secret_until.isoformat(),
    )
    return locked


def unsubscribe(*, subscription: WebhookSubscription) -> None:
    with transaction.atomic():
        WebhookSubscription.objects.filter(pk=subscription.pk).delete()
