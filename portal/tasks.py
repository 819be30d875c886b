"""Thin Celery tasks of the portal: mail a password link, check and process bulk order files."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

RETRY = {"autoretry_for": (OSError,), "retry_backoff": True, "max_retries": 5}


@shared_task(name="portal.send_invitation", **RETRY)
def send_invitation(user_id: int, base_url: str) -> None:
    """The invited person receives the link where they choose their password."""
    from portal.mail import send_password_link

    send_password_link(user_id=user_id, base_url=base_url, invitation=True)


@shared_task(name="portal.send_password_reset", **RETRY)
def send_password_reset(user_id: int, base_url: str) -> None:
    from portal.mail import send_password_link

    send_password_link(user_id=user_id, base_url=base_url, invitation=False)


@shared_task(name="portal.check_import")
def check_import(import_id: int) -> str:
    """Checks every line of a large bulk file, the page following its progress."""
    from portal.services.imports import check_import as check

    return check(import_id=import_id)


@shared_task(name="portal.process_import")
def process_import(import_id: int) -> str:
    """Creates the orders of a confirmed large bulk file, the page following its progress."""
    from portal.services.imports import process_import as process

    return process(import_id=import_id)
