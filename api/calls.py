"""The record of the API's calls (`ApiCall`), written in batches rather than one INSERT and one
commit per request.

Each call is logged at once (logger ``api.calls``, INFO, one line with the token, method, path,
status and duration: production keeps INFO) and kept in the process; the kept calls are written
by one INSERT when `API_CALL_BATCH` of them are waiting, when the oldest has waited
`API_CALL_FLUSH_SECONDS`, and when the process exits normally (``atexit``: a gunicorn worker's
restart, a deployment). What a crash can cost: a process killed outright (SIGKILL, out of memory)
loses from the table at most the calls it kept, never more than `API_CALL_BATCH` - 1 nor older
than `API_CALL_FLUSH_SECONDS` at the time of its last call; each of them is already in the log,
line for line. A batch the database refuses is logged at ERROR with every call it carried
(``api_call_lost``), never dropped without a word.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, transaction

from .models import ApiCall

logger = logging.getLogger("api.calls")

_lock = threading.Lock()
_pending: list[ApiCall] = []
_oldest: float | None = None


def batch_size() -> int:
    return getattr(settings, "API_CALL_BATCH", 50)


def flush_seconds() -> float:
    return getattr(settings, "API_CALL_FLUSH_SECONDS", 5.0)


def record(call: ApiCall) -> None:
    """Log the call now and keep it for the next batch (written at once when the batch is full
    or the oldest kept call has waited long enough)."""
    global _oldest
    logger.info(
        "api_call token_id=%s method=%s path=%s status=%s ms=%s",
        call.token_id,
        call.method,
        call.path,
        call.status_code,
        call.duration_ms,
    )
    now = time.monotonic()
    with _lock:
        _pending.append(call)
        if _oldest is None:
            _oldest = now
        due = len(_pending) >= batch_size() or now - _oldest >= flush_seconds()
    if due:
        flush()


def pending() -> int:
    """How many calls this process keeps, not written yet."""
    return len(_pending)


def flush() -> int:
    """Write every kept call in one INSERT, committed (or in a savepoint of the caller's
    transaction); returns how many were written. A batch the database refuses is logged at
    ERROR call by call (``api_call_lost``) and the request that triggered it answers as usual."""
    global _oldest
    with _lock:
        calls = _pending[:]
        _pending.clear()
        _oldest = None
    if not calls:
        return 0
    try:
        # Its own transaction, or a savepoint inside a caller's (a test, a command), so that a
        # refused batch does not break the caller's transaction.
        with transaction.atomic():
            ApiCall.objects.bulk_create(calls)
    except DatabaseError:
        for call in calls:
            logger.error(
                "api_call_lost token_id=%s at=%s method=%s path=%s status=%s ms=%s ip=%s",
                call.token_id,
                call.at.isoformat(),
                call.method,
                call.path,
                call.status_code,
                call.duration_ms,
                call.ip_address,
                exc_info=call is calls[0],
            )
        return 0
    return len(calls)


def discard() -> None:
    """Forget the kept calls without writing them (the test suite, whose transactions roll
    back the tokens they name)."""
    global _oldest
    with _lock:
        _pending.clear()
        _oldest = None


def _flush_at_exit() -> None:
    # The process is ending: nothing must stop it (a refused batch is logged call by call).
    with contextlib.suppress(Exception):
        flush()


atexit.register(_flush_at_exit)
