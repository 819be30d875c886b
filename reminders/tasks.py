"""Thin Celery tasks: the daily run, one mail per delivery (retried), the daily digests."""

from __future__ import annotations

import logging
from collections import defaultdict

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from core import metrics

logger = logging.getLogger(__name__)

REMINDER_ACTOR = "système:rappels"
RETRY = {"autoretry_for": (OSError,), "retry_backoff": True, "max_retries": 5}


@shared_task(name="reminders.send_due_reminders")
def send_due_reminders() -> dict[str, int]:
    from .services import send_due_reminders as run

    return run()


@shared_task(name="reminders.deliver", **RETRY)
def deliver(delivery_id: int) -> str:
    """Mails one reminder to one address, once: a delivery already sent is left alone."""
    from . import mail
    from .models import Delivery

    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(no_key=True, of=("self",))
            .select_related("reminder__dispositif", "reminder__calendar_version")
            .filter(pk=delivery_id, status=Delivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return "already_handled"
        reminder = delivery.reminder
        if not mail.still_relevant(reminder, now):
            delivery.status = Delivery.Status.SUPERSEDED
            delivery.save(update_fields=["status"])
            logger.info("reminder_superseded delivery_id=%s", delivery_id)
            return "superseded"
        send_mail(
            mail.subject(reminder),
            mail.body(reminder, **_fresh_link(reminder)),
            settings.DEFAULT_FROM_EMAIL,
            [delivery.email],
        )
        delivery.status = Delivery.Status.SENT
        delivery.sent_at = now
        delivery.save(update_fields=["status", "sent_at"])
    metrics.count_reminders_sent([reminder.kind])
    logger.info("reminder_sent delivery_id=%s reminder_id=%s", delivery_id, reminder.pk)
    return "sent"


def _fresh_link(reminder) -> dict[str, str]:
    """A client's reminder carries a new personal signing link (the first may have expired)."""
    from catalogue.deadlines import format_paris
    from signing.services import send_va_link
    from signing.tasks import link_url

    from .models import ReminderKind

    if reminder.kind != ReminderKind.CLIENT_VA:
        return {}
    link = send_va_link(va=reminder.va, actor=REMINDER_ACTOR, mail=False)
    return {"signing_url": link_url(link), "link_expires": format_paris(link.expires_at)}


@shared_task(name="reminders.send_digests", **RETRY)
def send_digests() -> int:
    """One mail per person gathering the reminders kept for their daily digest."""
    from . import mail
    from .models import Delivery

    now = timezone.now()
    sent = 0
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING, in_digest=True)
    by_address: dict[str, list[int]] = defaultdict(list)
    for pk, email in pending.values_list("pk", "email"):
        by_address[email].append(pk)
    for email, ids in by_address.items():
        with transaction.atomic():
            deliveries = list(
                Delivery.objects.select_for_update(no_key=True, of=("self",))
                .select_related("reminder__dispositif", "reminder__calendar_version")
                .filter(pk__in=ids, status=Delivery.Status.PENDING)
                .order_by("reminder__deadline_at", "pk")
            )
            relevant = [d for d in deliveries if mail.still_relevant(d.reminder, now)]
            stale = [d.pk for d in deliveries if d not in relevant]
            Delivery.objects.filter(pk__in=stale).update(status=Delivery.Status.SUPERSEDED)
            if not relevant:
                continue
            send_mail(
                f"[SONS] Vos rappels du jour ({len(relevant)})",
                mail.digest_body([d.reminder for d in relevant]),
                settings.DEFAULT_FROM_EMAIL,
                [email],
            )
            Delivery.objects.filter(pk__in=[d.pk for d in relevant]).update(
                status=Delivery.Status.SENT, sent_at=now
            )
            metrics.count_reminders_sent(d.reminder.kind for d in relevant)
            sent += 1
    logger.info("reminder_digests_sent count=%s", sent)
    return sent
