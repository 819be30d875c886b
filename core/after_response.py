"""Work after the response: in the embedded mode, the Celery tasks a request queues run once the
response has been sent, and every response says how long the server worked on it.

In the embedded mode (no broker, `CELERY_TASK_ALWAYS_EAGER`) `task.delay()` runs the task at
once, in the caller's thread: a PDF rendered or a mail sent on commit would make the person wait
for it. With `TASKS_AFTER_RESPONSE` on (the default in the embedded mode), the app's Task class
(`AppTask`, sons/celery.py) holds the tasks a request queues and, when Django sends
`request_finished` (the WSGI server sends it when it closes the response, after the body is
written), hands them to one background thread of the process, which runs them in order, request
after request. Not in the request's own thread: a browser's next request on the same kept-alive
connection would wait for them. Each failure is logged with the task's name, id and arguments
and kept as a dead letter (core/signals.py), never reaching the person. Outside a request
(commands, sweeps, tasks calling tasks, the deferred tasks themselves) nothing changes: the task
runs at once. With a real broker the message is published as before. At exit, the process waits
for the tasks handed over (`AFTER_RESPONSE_EXIT_WAIT`, 30 s).

`ServerTimingMiddleware` (with `SERVER_TIMING`, on in the local mode only: a stranger has no
use for the server's timings) adds `Server-Timing: app;dur=<ms>` to every response (the time
spent in Django's handler, deferred tasks excluded): the browser benchmark reads it
(bench/pages.py).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from celery import Task
from celery.utils import uuid
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connections

from .middleware import request_id

logger = logging.getLogger(__name__)

_state = threading.local()


@dataclass
class _Deferred:
    task: Task
    args: tuple
    kwargs: dict
    options: dict
    task_id: str
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _queue() -> list[_Deferred] | None:
    """The current request's queue, or None outside a request (or while it is being drained)."""
    return getattr(_state, "queue", None)


def pending() -> int:
    """How many tasks the current request holds for after its response."""
    return len(_queue() or [])


def _deferring(task: Task) -> bool:
    return (
        _queue() is not None
        and getattr(settings, "TASKS_AFTER_RESPONSE", False)
        and bool(task.app.conf.task_always_eager)
    )


class AppTask(Task):
    """The app's Celery task: in the embedded mode, held until the request's response is sent."""

    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        if not _deferring(self):
            return super().apply_async(args, kwargs, task_id=task_id, **options)
        deferred = _Deferred(
            task=self,
            args=tuple(args or ()),
            kwargs=dict(kwargs or {}),
            options=options,
            task_id=task_id or uuid(),
            request_id=request_id.get(),
        )
        _queue().append(deferred)
        logger.debug("task_deferred task=%s id=%s", self.name, deferred.task_id)
        return self.AsyncResult(deferred.task_id)


def _opened(**kwargs) -> None:
    _state.queue = []


def run_deferred() -> int:
    """Hands the tasks the current request held to the background thread, then closes the
    queue; returns how many were handed over."""
    held = _queue()
    _state.queue = None
    if not held:
        return 0
    _worker.hand(held)
    return len(held)


def run_in_order(batch: list[_Deferred]) -> None:
    """Runs one request's tasks, in order; a task queued by a deferred task runs at once."""
    for deferred in batch:
        token = request_id.set(deferred.request_id)
        try:
            # Not propagated: Celery's failure signal then keeps the dead letter, as in a worker.
            result = deferred.task.apply(
                deferred.args,
                deferred.kwargs,
                task_id=deferred.task_id,
                throw=False,
                **deferred.options,
            )
            if result.failed():
                _failed(deferred, result.traceback)
        except Exception:  # the response is gone: a failure is logged, never raised
            _failed(deferred, None, exc_info=True)
        finally:
            request_id.reset(token)


class _Worker:
    """The one thread of the process that runs the tasks handed over by requests, in the
    order they were handed; started on first use."""

    def __init__(self):
        self._batches: queue.Queue[list[_Deferred]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hand(self, batch: list[_Deferred]) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="tasks-after-response", daemon=True
                )
                self._thread.start()
        self._batches.put(batch)

    def _run(self) -> None:
        while True:
            batch = self._batches.get()
            try:
                run_in_order(batch)
            finally:
                # This thread's own connections, closed after each request's tasks: an idle
                # thread holds none (a database is never kept busy by it).
                connections.close_all()
                self._batches.task_done()

    def wait(self, timeout: float) -> bool:
        """Waits until every task handed over has run (at most `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while self._batches.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


_worker = _Worker()


def wait_for_tasks(timeout: float = 30.0) -> bool:
    """Waits until the tasks handed over by finished requests have run (tests, exit)."""
    return _worker.wait(timeout)


@atexit.register
def _drain_at_exit() -> None:
    if _worker._batches.unfinished_tasks:
        wait_for_tasks(float(getattr(settings, "AFTER_RESPONSE_EXIT_WAIT", 30)))


def _failed(deferred: _Deferred, trace: str | None, *, exc_info: bool = False) -> None:
    logger.error(
        "deferred_task_failed task=%s id=%s args=%r kwargs=%r%s",
        deferred.task.name,
        deferred.task_id,
        list(deferred.args),
        deferred.kwargs,
        f"\n{trace}" if trace else "",
        exc_info=exc_info,
    )


def _finished(**kwargs) -> None:
    run_deferred()


request_started.connect(_opened, dispatch_uid="core.after_response.opened")
request_finished.connect(_finished, dispatch_uid="core.after_response.finished")


class ServerTimingMiddleware:
    """`Server-Timing: app;dur=<ms>` on every response: the time spent in the handler below."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not getattr(settings, "SERVER_TIMING", False):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = f"app;dur={elapsed:.1f}"
        return response
