"""Thin Celery tasks of the lifecycle: render documents and send notices after commit."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage, send_mail
from django.utils import timezone

from catalogue.deadlines import format_deadline, format_paris
from core import hooks
from core.mail import send_then_record

logger = logging.getLogger(__name__)

RETRY = {"autoretry_for": (OSError,), "retry_backoff": True, "max_retries": 5}


@shared_task(name="sons.render_order_pdf", **RETRY)
def render_order_pdf(order_id: int) -> str:
    from sons import documents
    from sons.models import PurchaseOrder
    from sons.services.orders import record_order_pdf

    order = PurchaseOrder.objects.select_related(
        "vendor", "client", "dispositif", "solution_version__solution", "referencing"
    ).get(pk=order_id)
    if order.pdf_sha256:
        return order.pdf_sha256  # stored already: this task was delivered again
    content = _sealed(documents.render_order_pdf(order), reason="Bon de commande (BDC) signé")
    digest = documents.sha256_hex(content)
    record_order_pdf(
        order_id=order_id, name=f"{order.reference}.pdf", content=content, sha256=digest
    )
    logger.info("pdf_rendered kind=bdc order_id=%s sha256=%s", order_id, digest)
    return digest


@shared_task(name="sons.render_va_pdf", **RETRY)
def render_va_pdf(va_id: int) -> str:
    from sons import documents
    from sons.models import VerificationAptitude
    from sons.services.acceptance import record_va_pdf

    va = VerificationAptitude.objects.select_related("order__client", "order__vendor").get(pk=va_id)
    if va.pdf_sha256:
        return va.pdf_sha256  # stored already: this task was delivered again
    content = documents.render_va_pdf(va)
    digest = documents.sha256_hex(content)
    name = f"{va.order.reference}-VA-v{va.version}.pdf"
    record_va_pdf(va_id=va_id, field="pdf", name=name, content=content, sha256=digest)
    logger.info("pdf_rendered kind=va va_id=%s sha256=%s", va_id, digest)
    return digest


@shared_task(name="sons.render_signed_va_pdf", **RETRY)
def render_signed_va_pdf(va_id: int) -> str:
    from sons import documents
    from sons.models import VerificationAptitude
    from sons.services.acceptance import record_va_pdf

    va = VerificationAptitude.objects.select_related("order__client", "decision").get(pk=va_id)
    if va.signed_pdf_sha256:
        return va.signed_pdf_sha256  # stored already: this task was delivered again
    with va.pdf.open("rb") as handle:
        original = handle.read()
    content = _sealed(
        documents.render_signed_va_pdf(va, va.decision, original),
        reason="Décision du client sur la vérification d'aptitude (VA)",
    )
    digest = documents.sha256_hex(content)
    name = f"{va.order.reference}-VA-v{va.version}-{va.decision.outcome}.pdf"
    record_va_pdf(va_id=va_id, field="signed_pdf", name=name, content=content, sha256=digest)
    logger.info("pdf_rendered kind=va_signed va_id=%s sha256=%s", va_id, digest)
    return digest


def _sealed(content: bytes, *, reason: str) -> bytes:
    """The document as recorded: the server's PAdES seal added, so any change shows (the seal is
    the signing app's, reached through the « seal_pdf » hook: core/hooks.py)."""
    return hooks.seal_pdf(content, reason=reason)


@shared_task(name="sons.send_va_signing_link", **RETRY)
def send_va_signing_link(va_id: int) -> None:
    """Mails the client a personal link to sign an issued VA online (once per issue), through the
    signing app's « send_va_link » hook (core/hooks.py)."""
    from sons.models import VaStatus, VerificationAptitude

    va = VerificationAptitude.objects.get(pk=va_id)
    if va.status != VaStatus.ISSUED or va.signing_links.exists():
        return  # decided already, or a retry after the link was made
    hooks.send_va_link(va=va, actor="système:émission de la VA")


@shared_task(name="sons.notify_default", **RETRY)
def notify_default(order_id: int) -> None:
    """Tells the client and the paying agency that the vendor will not deliver."""
    from sons.models import PurchaseOrder
    from sons.services.orders import record_default_notifications

    order = PurchaseOrder.objects.select_related("client", "vendor").get(pk=order_id)
    subject = f"[SONS] Défaillance du fournisseur – {order.reference}"
    body = (
        f"Le fournisseur {order.vendor.name} a déclaré ne pas pouvoir réaliser la prestation "
        f"Ségur du bon de commande {order.reference} ({order.dispositif.code}).\n"
        f"Motif : {order.default_reason}\n\n"
        "Cette prestation est financée par l'État : elle ne peut en aucun cas vous être facturée."
    )
    # Each mail recorded once accepted, and not sent again by a retry or a redelivery.
    if order.contact.email and order.client_notified_at is None:
        send_then_record(
            EmailMessage(subject, body, None, [order.contact.email]),
            lambda: record_default_notifications(order_id=order_id, client_at=timezone.now()),
        )
    if order.agency_notified_at is None:
        send_then_record(
            EmailMessage(subject, body, None, [settings.PAYING_AGENCY_EMAIL]),
            lambda: record_default_notifications(order_id=order_id, agency_at=timezone.now()),
        )


@shared_task(name="sons.announce_orders_ended", **RETRY)
def announce_orders_ended(order_ids: list[int]) -> None:
    """Tells the apps above that these orders ended (cancelled or set aside), after commit."""
    from sons.signals import orders_ended

    orders_ended.send(sender=announce_orders_ended, order_ids=list(order_ids))


@shared_task(name="sons.notify_conflict", **RETRY)
def notify_conflict(conflict_id: int) -> None:
    """Tells every vendor in a conflict what is at stake and by when to answer."""
    from sons.models import ClientConflict

    conflict = ClientConflict.objects.select_related("client", "dispositif").get(pk=conflict_id)
    for position in conflict.positions.select_related("order__vendor"):
        until = format_deadline(position.respond_by, zone=True)  # each vendor's own 10 working days
        vendor = position.order.vendor
        if not vendor.contact_email:
            logger.warning("conflict_notice_no_email vendor_id=%s", vendor.pk)
            continue
        send_mail(
            f"[SONS] Client financé par un autre fournisseur – {conflict.client.legal_name}",
            (
                "Un autre fournisseur a signé un bon de commande pour "
                f"{conflict.client.legal_name} "
                f"sur le dispositif {conflict.dispositif.code}. Un client n'est financé qu'une "
                f"fois par dispositif.\nVotre BDC {position.order.reference} : maintenez-le, "
                f"corrigez-le ou retirez-le avant le {until}."
            ),
            None,
            [vendor.contact_email],
        )


@shared_task(name="sons.notify_conflict_decision", **RETRY)
def notify_conflict_decision(conflict_id: int) -> None:
    """Tells every vendor whose order the administration's decision on a conflict concerns
    (the one financed and those set aside) what was decided, and why. Each mail is recorded on
    the vendor's position once the server accepted it, and never sent again (a retry or a
    redelivery of this task sends only what is not on record)."""
    from core.models import JournalEntry
    from sons.models import ClientConflict, ConflictPosition
    from sons.services.conflicts import record_conflict_decision_notice

    conflict = ClientConflict.objects.select_related("client", "dispositif", "chosen_order").get(
        pk=conflict_id
    )
    entry = (
        JournalEntry.objects.for_object(conflict)
        .filter(transition="decide")
        .order_by("sequence")
        .last()
    )
    concerned = (entry.snapshot or {}).get("orders", []) if entry else []
    positions = (
        ConflictPosition.objects.filter(
            conflict=conflict, order_id__in=concerned, decision_notice_sent_at__isnull=True
        )
        .select_related("order__vendor")
        .order_by("order_id")
    )
    for position in positions:
        order = position.order
        vendor = order.vendor
        if not vendor.contact_email:
            logger.warning("conflict_decision_no_email vendor_id=%s", vendor.pk)
            continue
        if order.pk == conflict.chosen_order_id:
            outcome = (
                f"Votre BDC {order.reference} est retenu : c'est lui qui est financé pour ce "
                "client. Vos demandes de paiement peuvent reprendre."
            )
        else:
            outcome = (
                f"Votre BDC {order.reference} est écarté : il est annulé et ne sera pas financé."
            )
        message = EmailMessage(
            f"[SONS] Décision sur le conflit de financement – {conflict.client.legal_name}",
            (
                f"Plusieurs fournisseurs ont maintenu leur commande pour "
                f"{conflict.client.legal_name} sur le dispositif {conflict.dispositif.code}. "
                "Un client n'est financé qu'une fois par dispositif : l'administration (pour "
                f"l'ASP) a désigné la commande financée le {format_paris(conflict.closed_at)} "
                f"(heure de Paris).\n{outcome}\nMotif de la décision : {conflict.decision_reason}"
            ),
            None,
            [vendor.contact_email],
        )
        send_then_record(
            message,
            lambda pk=position.pk: record_conflict_decision_notice(
                position_id=pk, at=timezone.now()
            ),
        )
