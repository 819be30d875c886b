"""Small helpers shared by the services of every app (instants, after-commit queuing)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone


def now_or(at: dt.datetime | None) -> dt.datetime:
    return at or timezone.now()


def after_commit(task, *args) -> None:
    """Queues a Celery task once the transaction commits (never for a change that rolled back).
    In the embedded mode, within a request, the task then runs after the response is sent
    (core/after_response.py)."""
    transaction.on_commit(lambda: task.delay(*args))


def iso(instant: dt.datetime | None) -> str | None:
    return instant.isoformat() if instant else None
