"""Thin Celery tasks of the API: bulk jobs, webhook deliveries (with backoff), the journal
reader that turns state changes into webhook events, and the forgetting of old idempotency keys.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(name="api.run_bulk_job")
def run_bulk_job(job_id: int) -> str:
    from .bulk import run_job

    return run_job(job_id).state


@shared_task(name="api.deliver_webhook", bind=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> str:
    """One attempt; a failure is retried after the backoff delay until the last attempt."""
    from .webhooks import attempt_delivery

    outcome, delay = attempt_delivery(delivery_id)
    # In-process (no broker, no worker to wait with), the attempts follow one another at once.
    while outcome == "retry" and self.request.is_eager:
        outcome, delay = attempt_delivery(delivery_id)
    if outcome == "retry":
        raise self.retry(countdown=delay.total_seconds())
    return outcome


@shared_task(name="api.dispatch_events")
def dispatch_events() -> int:
    """Every minute: webhook events from the journal, and deliveries whose message was lost
    (a retry, or a first send while the broker was out of reach), 15 minutes past due."""
    from .events import dispatch_journal_events
    from .models import WebhookDelivery

    emitted = dispatch_journal_events()
    late = WebhookDelivery.objects.filter(
        state=WebhookDelivery.State.PENDING,
        next_attempt_at__lt=timezone.now() - dt.timedelta(minutes=15),
    ).values_list("pk", flat=True)[:500]
    for pk in late:
        deliver_webhook.delay(pk)
    return emitted


@shared_task(name="api.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    from .idempotency import purge

    return purge()
