"""Thin Celery tasks of payments: write a filing's files, render a recovery notice."""

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


@shared_task(name="payments.sweep_deadlines")
def sweep_deadlines() -> dict:
    """The daily sweep and the one just after each cut-off (scheduled by django-celery-beat)."""
    from django.utils import timezone

    from payments.sweep import sweep

    return sweep(timezone.now())
