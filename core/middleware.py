"""The request id: one short token per request, from the `X-Request-ID` header a proxy sent
(when it is short and made of safe characters) or generated, returned in the response, put on
every log record written while the request runs, and carried into the Celery tasks it schedules.

The id lives in a context variable: the logging filter reads it, `before_task_publish` copies it
into the task's message headers and, in the worker, `task_prerun` sets it from them for the task's
run (`task_postrun` puts back what was there). In the embedded mode tasks run inside the request,
which already holds the id.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar, Token

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun
from django.core.signals import request_finished
from django.dispatch import receiver

HEADER = "X-Request-ID"
TASK_HEADER = "sons_request_id"
# Short and harmless in a log line or a header: letters, digits and . _ : - (at most 64).
VALID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets the request id and returns it in `X-Request-ID`. The id is cleared when the response
    is finished, not on the way out of the middleware, so that Django's own log line for a 4xx or
    5xx response (written after every middleware) carries it too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(HEADER, "")
        current = incoming if VALID.fullmatch(incoming) else new_request_id()
        request.request_id = current
        request_id.set(current)
        response = self.get_response(request)
        response[HEADER] = current
        return response


@receiver(request_finished)
def _request_id_cleared(**kwargs):
    request_id.set(None)


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every record a handler emits ("-" outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


@before_task_publish.connect
def _request_id_into_task_headers(headers=None, **kwargs):
    current = request_id.get()
    if current and headers is not None:
        headers.setdefault(TASK_HEADER, current)


_task_tokens: dict[str, Token] = {}


@task_prerun.connect
def _request_id_from_task_headers(task_id=None, task=None, **kwargs):
    carried = task.request.get(TASK_HEADER) if task is not None else None
    if carried and VALID.fullmatch(str(carried)):
        _task_tokens[task_id] = request_id.set(str(carried))


@task_postrun.connect
def _request_id_restored(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            request_id.reset(token)
        except ValueError:  # ended in another context than it started (a pool of threads)
            request_id.set(None)


@setup_logging.connect
def _keep_django_logging(**kwargs):
    """A receiver here stops Celery's worker and beat from replacing the root logger's handlers:
    they keep the LOGGING of the settings (JSON, request id). Level: LOG_LEVEL, not `-l`."""
