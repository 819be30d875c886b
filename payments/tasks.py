"""Thin Celery tasks of payments: write a filing's files, render a recovery notice, tell a
vendor of the claims left out of a filing for lateness."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

RETRY = {"autoretry_for": (OSError,), "retry_backoff": True, "max_retries": 5}


@shared_task(name="payments.render_filing", **RETRY)
def render_filing(filing_id: int) -> str:
    """Writes the JSON and the zip of the filing and stores them with their hashes."""
    from payments.asp.writer import write_filing_files
    from payments.models import AspFiling

    filing = AspFiling.objects.select_related("vendor", "dispositif").get(pk=filing_id)
    write_filing_files(filing)
    logger.info(
        "filing_rendered filing_id=%s json_sha256=%s zip_sha256=%s",
        filing_id,
        filing.json_sha256,
        filing.zip_sha256,
    )
    return filing.zip_sha256


@shared_task(name="payments.render_recovery_notice", **RETRY)
def render_recovery_notice(recovery_id: int) -> str:
    """Renders the recovery notice sent to the vendor and stores it with its hash."""
    from core.documents import sha256_hex
    from payments.documents import render_recovery_notice as render
    from payments.models import Recovery
    from payments.services.recovery import record_notice

    recovery = Recovery.objects.select_related(
        "order__vendor",
        "order__client",
        "order__dispositif",
        "order__solution_version__solution__editor",
        "order__referencing",
    ).get(pk=recovery_id)
    content = render(recovery)
    digest = sha256_hex(content)
    name = f"{recovery.order.reference}-avis-recouvrement-{recovery.pk}.pdf"
    record_notice(recovery_id=recovery_id, name=name, content=content, sha256=digest)
    logger.info("pdf_rendered kind=recovery_notice recovery_id=%s sha256=%s", recovery_id, digest)
    return digest


@shared_task(name="payments.recover_ended_orders", **RETRY)
def recover_ended_orders(order_ids: list[int]) -> int:
    """Opens the recovery of the avance paid on orders just cancelled or set aside."""
    from payments.services.recovery import recover_ended_orders as recover

    return len(recover(order_ids=order_ids))


@shared_task(name="payments.mail_recovery_opened", **RETRY)
def mail_recovery_opened(recovery_id: int) -> None:
    """Tells the vendor that a recovery is opened on its order, how much and why."""
    from django.core.mail import send_mail

    from core.money import format_euros
    from payments.models import Recovery

    recovery = Recovery.objects.select_related("order__vendor").get(pk=recovery_id)
    vendor = recovery.order.vendor
    if not vendor.contact_email:
        logger.warning("recovery_notice_no_email vendor_id=%s", vendor.pk)
        return
    send_mail(
        f"[SONS] Mise en recouvrement – {recovery.order.reference}",
        (
            f"Le BDC {recovery.order.reference} ({recovery.get_cause_display()}) fait l'objet "
            f"d'une mise en recouvrement de {format_euros(recovery.amount_cents)} TTC "
            f"(reçu {format_euros(recovery.received_cents)}, compensé "
            f"{format_euros(recovery.offset_cents)}).\nMotif : {recovery.reason}\n"
            "L'avis de recouvrement est disponible dans le portail."
        ),
        None,
        [vendor.contact_email],
    )


@shared_task(name="payments.notify_claims_left_out", **RETRY)
def notify_claims_left_out(claim_ids: list[int]) -> int:
    """Mails each vendor the claims left out of a filing for lateness, and why (SONS.md, life
    of a Prestation, step 4); once: a claim already told is not told again."""
    from django.core.mail import EmailMessage
    from django.utils import timezone

    from core.mail import send_then_record
    from payments.models import PaymentClaim

    claims = (
        PaymentClaim.objects.filter(
            pk__in=claim_ids,
            deadline_missed_at__isnull=False,
            deadline_missed_notified_at__isnull=True,
        )
        .select_related("order__vendor", "order__client", "order__dispositif")
        .order_by("order__vendor_id", "pk")
    )
    by_vendor: dict = {}
    for claim in claims:
        by_vendor.setdefault(claim.order.vendor, []).append(claim)
    told = 0
    for vendor, rows in by_vendor.items():
        if not vendor.contact_email:
            logger.warning("claims_left_out_no_email vendor_id=%s", vendor.pk)
            continue
        lines = "\n".join(
            f"- {c.get_kind_display()} – BDC {c.order.reference} – {c.order.client.legal_name} "
            f"({c.order.dispositif.code}) : {c.deadline_missed_reason}"
            for c in rows
        )
        body = (
            "Les demandes suivantes n'ont pas été mises dans un dépôt à l'ASP : l'échéance de "
            "dépôt en vigueur était passée à l'instant du dépôt, et une demande hors délai "
            "n'est plus recevable.\n\n"
            f"{lines}\n\n"
            "Elles restent visibles dans votre espace, avec ce motif, sur la page des demandes."
        )
        ids = [c.pk for c in rows]
        send_then_record(
            EmailMessage(
                f"[SONS] {len(rows)} demande(s) hors délai écartée(s) du dépôt",
                body,
                None,
                [vendor.contact_email],
            ),
            lambda ids=ids: PaymentClaim.objects.filter(pk__in=ids).update(
                deadline_missed_notified_at=timezone.now()
            ),
        )
        logger.info("claims_left_out_mailed vendor_id=%s count=%s", vendor.pk, len(rows))
        told += len(rows)
    return told


@shared_task(name="payments.sweep_deadlines")
def sweep_deadlines() -> dict:
    """The daily sweep and the one just after each cut-off (scheduled by django-celery-beat)."""
    from django.utils import timezone

    from payments.sweep import sweep

    return sweep(timezone.now())
