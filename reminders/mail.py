"""The French texts of the reminders, and whether a reminder still has a purpose."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.template.loader import render_to_string

from catalogue.deadlines import DeadlineKind, format_deadline, format_paris
from catalogue.selectors import deadline_for
from payments.obligations import TO_DO
from sons.models import PurchaseOrder, VaStatus

from .models import Reminder, ReminderKind

LISTED = 50  # references written out in one mail; the rest is counted, and in the portal


def still_relevant(reminder: Reminder, at: dt.datetime) -> bool:
    """False when the reminder lost its object: the deadline was moved by an arrêté published
    since, or the VA was signed or refused meanwhile."""
    if reminder.kind == ReminderKind.CLIENT_VA:
        return reminder.va.status == VaStatus.ISSUED
    deadline = deadline_for(dispositif=reminder.dispositif, kind=reminder.deadline_kind, at=at)
    return deadline is not None and deadline.at == reminder.deadline_at


def _context(reminder: Reminder) -> dict:
    ids = reminder.order_ids
    context = {
        "reminder": reminder,
        "site_url": settings.SITE_URL,
        "references": [PurchaseOrder.reference_of(pk) for pk in ids[:LISTED]],
        "more": max(0, len(ids) - LISTED),
        "count": len(ids),
    }
    if reminder.deadline_at:
        context.update(
            deadline_label=DeadlineKind(reminder.deadline_kind).label,
            deadline=format_deadline(reminder.deadline_at),
            to_do=TO_DO.get(reminder.deadline_kind, ""),
            legal_reference=reminder.calendar_version.legal_reference,
        )
    if reminder.va_id:
        va = reminder.va
        context.update(
            va=va,
            order=va.order,
            issued=format_paris(va.issued_at),
            vendor=va.order.vendor,
        )
    return context


def subject(reminder: Reminder) -> str:
    if reminder.kind == ReminderKind.CLIENT_VA:
        return (
            f"[SONS] Votre vérification d'aptitude attend votre signature "
            f"({PurchaseOrder.reference_of(reminder.order_ids[0])})"
        )
    deadline = format_deadline(reminder.deadline_at)
    label = DeadlineKind(reminder.deadline_kind).label
    if reminder.kind == ReminderKind.ADMIN_AT_RISK:
        return (
            f"[SONS] {reminder.dispositif.code} : {len(reminder.order_ids)} BDC en risque "
            f"avant la fin de réalisation ({deadline})"
        )
    return f"[SONS] J-{reminder.threshold_days} : {label} {reminder.dispositif.code} le {deadline}"


def body(reminder: Reminder, **extra: str) -> str:
    context = {**_context(reminder), **extra}
    return render_to_string(f"mail/reminders/{reminder.kind}.txt", context).strip()


def digest_body(reminders: list[Reminder]) -> str:
    return render_to_string(
        "mail/reminders/digest.txt",
        {"items": [(subject(r), body(r)) for r in reminders], "site_url": settings.SITE_URL},
    ).strip()
