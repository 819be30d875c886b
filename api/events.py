"""Webhook events read from the transition journal, so that every path that signs a VA or pays
a claim (signing pages, portal, agency feedback, commands, the API) is heard without touching the
services that make those changes: the journal is append-only, numbered, and written in the same
transaction as the change, so what it holds has happened.

A single cursor row remembers how far the journal was read; it is locked while reading, so two
dispatchers never emit an event twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from core.models import JournalEntry, JournalHead
from payments.models import PaymentClaim
from sons.models import PurchaseOrder, VerificationAptitude

from .models import EventCursor
from .webhooks import emit

logger = logging.getLogger(__name__)

BATCH = 2000

# (model, transition) -> event
WATCHED = {
    (VerificationAptitude, "sign"): "va.signed",
    (VerificationAptitude, "refuse"): "va.refused",
    (PaymentClaim, "pay"): "claim.paid",
    (PaymentClaim, "reject"): "claim.rejected",
}


def _head() -> int:
    head = JournalHead.objects.filter(id=1).first()
    return head.sequence if head else 0


def dispatch_journal_events() -> int:
    """Emits the events journaled since the last call; returns how many were emitted."""
    types = {
        (ContentType.objects.get_for_model(model).pk, name): event
        for (model, name), event in WATCHED.items()
    }
    emitted = 0
    with transaction.atomic():
        cursor, created = EventCursor.objects.get_or_create(
            id=1, defaults={"last_sequence": _head()}
        )
        if created:
            return 0  # the first reader starts from now: no event for the past
        cursor = EventCursor.objects.select_for_update(no_key=True).get(id=1)
        upto = _head()
        if upto <= cursor.last_sequence:
            return 0
        content_types = {ct for ct, _name in types}
        transitions = {name for _ct, name in types}
        entries = list(
            JournalEntry.objects.filter(
                sequence__gt=cursor.last_sequence,
                sequence__lte=upto,
                content_type_id__in=content_types,
                transition__in=transitions,
            )
            .order_by("sequence")
            .only("sequence", "content_type_id", "object_id", "transition", "snapshot")[:BATCH]
        )
        if len(entries) == BATCH:
            upto = entries[-1].sequence
        events = [(types.get((e.content_type_id, e.transition)), e) for e in entries]
        events = [(event, e) for event, e in events if event]
        cursor.last_sequence = upto
        cursor.save(update_fields=["last_sequence", "updated_at"])
        # The deliveries in the transaction that moves the cursor: an event is read once and
        # its deliveries exist, or neither (a crash here leaves the cursor where it was).
        for vendor_id, event, payload in _payloads(events):
            emit(vendor=vendor_id, event=event, payload=payload)
            emitted += 1
    if emitted:
        logger.info("webhook_events_dispatched count=%s upto=%s", emitted, upto)
    return emitted


def _payloads(events):
    """(vendor id, event, payload) for each journaled change, read in two queries."""
    ids = defaultdict(set)
    for event, entry in events:
        ids[event.split(".")[0]].add(int(entry.object_id))
    vas = {
        va.pk: va
        for va in VerificationAptitude.objects.filter(pk__in=ids["va"]).select_related(
            "order", "decision"
        )
    }
    claims = {
        c.pk: c for c in PaymentClaim.objects.filter(pk__in=ids["claim"]).select_related("order")
    }
    for event, entry in events:
        pk = int(entry.object_id)
        if event.startswith("va.") and pk in vas:
            va = vas[pk]
            decision = getattr(va, "decision", None)
            yield (
                va.order.vendor_id,
                event,
                {
                    "va": va.pk,
                    "order": va.order_id,
                    "order_reference": PurchaseOrder.reference_of(va.order_id),
                    "version": va.version,
                    "status": va.status,
                    "decided_at": decision.decided_at if decision else None,
                    "journal_sequence": entry.sequence,
                },
            )
        elif event.startswith("claim.") and pk in claims:
            claim = claims[pk]
            yield (
                claim.order.vendor_id,
                event,
                {
                    "claim": claim.pk,
                    "order": claim.order_id,
                    "order_reference": PurchaseOrder.reference_of(claim.order_id),
                    "kind": claim.kind,
                    "status": claim.status,
                    "amount_ttc_cents": claim.amount_ttc_cents,
                    "paid_on": claim.paid_on,
                    "paid_amount_cents": claim.paid_amount_cents,
                    "agency_reason": claim.agency_reason,
                    "journal_sequence": entry.sequence,
                },
            )
