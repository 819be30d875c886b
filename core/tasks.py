"""Thin Celery tasks of the core: they call the core's functions and report."""

import logging

from celery import shared_task

from .journal import verify_chain
from .models import RoutineRun

logger = logging.getLogger(__name__)


@shared_task(name="core.verify_journal")
def verify_journal_task() -> dict:
    """Walks the journal chain (scheduled nightly in production); logs an error on a break."""
    checked, broken = verify_chain()
    RoutineRun.record_verification(checked, broken)
    if broken is not None:
        logger.error(
            "journal_broken sequence=%s reason=%s checked=%s",
            broken.sequence,
            broken.reason,
            checked,
        )
        return {"checked": checked, "broken_sequence": broken.sequence, "reason": broken.reason}
    logger.info("journal_whole checked=%s", checked)
    return {"checked": checked, "broken_sequence": None, "reason": ""}
