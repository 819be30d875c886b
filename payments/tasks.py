"""Thin Celery tasks of payments: write a filing's files once its claims are submitted."""

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
