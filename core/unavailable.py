"""The database out of reach (restarted, failed over, network cut): « 503, try again shortly ».

A request that meets `OperationalError` or `InterfaceError` (the connection refused, or lost
under the request) changed nothing: the services write in one transaction, which the database
rolled back. So the answer is 503 with `Retry-After`, never a 500 with a traceback; an API client
retries with the same Idempotency-Key and the resource is created once. The API's own handler
(api/errors.py) answers its problem document; `DatabaseUnavailableMiddleware` answers for every
other page, and for any API error raised outside the API's handler.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
CODE = "database_unavailable"


def retry_after() -> str:
    """Seconds a client should wait before retrying (`DATABASE_RETRY_AFTER_SECONDS`, 30)."""
    return str(getattr(settings, "DATABASE_RETRY_AFTER_SECONDS", 30))


def detail(*, api: bool = False) -> str:
    if api:
        return _(
            "Le service est momentanément indisponible (base de données injoignable). Rien n'a "
            "été enregistré : réessayez dans quelques instants avec la même clé d'idempotence."
        )
    return _(
        "Le service est momentanément indisponible (base de données injoignable). Rien n'a été "
        "enregistré : réessayez dans quelques instants."
    )


def log(request, exception: BaseException) -> None:
    """One line, no traceback: the cause is outside the code."""
    first_line = str(exception).strip().splitlines()[0] if str(exception).strip() else ""
    logger.warning(
        "database_unavailable path=%s error=%s %s",
        request.path,
        type(exception).__name__,
        first_line[:200],
    )


class DatabaseUnavailableMiddleware:
    """Turns a database out of reach under a view into a 503 (problem+json under /api/)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        log(request, exception)
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {
                    "type": f"urn:sons:api:probleme:{CODE}",
                    "title": "Service indisponible",
                    "status": 503,
                    "detail": detail(api=True),
                    "code": CODE,
                    "field": None,
                    "instance": request.path,
                    "errors": [],
                },
                status=503,
                content_type="application/problem+json",
                json_dumps_params={"ensure_ascii": False},
            )
        else:
            response = HttpResponse(
                render_to_string("web/503.html", {"detail": detail()}),
                status=503,
                content_type="text/html; charset=utf-8",
            )
        response["Retry-After"] = retry_after()
        return response
