"""Errors as problem details (RFC 9457): a stable code, the field path and a French message.

400 bad input (the request itself is wrong: syntax, types, unknown ids, missing fields);
409 a business rule refused it, or it conflicts with the current state (RuleViolation);
412/428 the If-Match precondition; 422 only for an Idempotency-Key reused with another body;
503 with Retry-After when the database is out of reach (core/unavailable.py: nothing written).
Nothing a client sends may cause a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from core import unavailable
from core.errors import RuleViolation

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "urn:sons:api:probleme:"


class ApiProblem(exceptions.APIException):
    """An error raised by the API's own code with its status, code and field."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        self.status_code = status_code
        self.code = code
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(detail=message, code=code)


def precondition_failed(message: str | None = None) -> ApiProblem:
    return ApiProblem(
        status.HTTP_412_PRECONDITION_FAILED,
        "precondition_failed",
        message
        or _("L'objet a changé depuis votre lecture (ETag différent) : relisez-le puis réessayez."),
        field="If-Match",
    )


def precondition_required() -> ApiProblem:
    return ApiProblem(
        status.HTTP_428_PRECONDITION_REQUIRED,
        "precondition_required",
        _("Une modification exige l'en-tête If-Match avec l'ETag lu sur l'objet."),
        field="If-Match",
    )


TITLES = {
    400: "Requête invalide",
    401: "Authentification requise",
    403: "Accès refusé",
    404: "Introuvable",
    405: "Méthode non permise",
    406: "Format de réponse non disponible",
    409: "Conflit avec une règle ou l'état de l'objet",
    412: "Précondition non satisfaite",
    413: "Requête trop volumineuse",
    415: "Format de requête non pris en charge",
    422: "Clé d'idempotence déjà utilisée",
    428: "Précondition requise",
    429: "Trop de requêtes",
    500: "Erreur interne",
    503: "Service indisponible",
}


def problem(
    *,
    status_code: int,
    code: str,
    detail: str,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"{TYPE_BASE}{code}",
        "title": TITLES.get(status_code, "Erreur"),
        "status": status_code,
        "detail": detail,
        "code": code,
        "field": field,
    }
    if instance:
        body["instance"] = instance
    body["errors"] = errors or []
    body.update(extra)
    return body


def flatten(detail: Any, path: str = "") -> list[dict[str, Any]]:
    """DRF's nested error detail as a flat list of {field, code, message}; a list of items
    gives paths like ``items[3].client``."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if key in ("non_field_errors",):
                out.extend(flatten(value, path))
            elif isinstance(key, int):  # the items of a list, by index
                out.extend(flatten(value, f"{path}[{key}]"))
            else:
                out.extend(flatten(value, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(detail, list):
        if all(isinstance(d, (str, exceptions.ErrorDetail)) for d in detail):
            return [_leaf(d, path) for d in detail]
        out = []
        for index, item in enumerate(detail):
            if item:
                out.extend(flatten(item, f"{path}[{index}]"))
        return out
    return [_leaf(detail, path)]


def _leaf(message: Any, path: str) -> dict[str, Any]:
    return {
        "field": path or None,
        "code": str(getattr(message, "code", None) or "invalid"),
        "message": str(message),
    }


def django_validation_errors(exc: DjangoValidationError, prefix: str = "") -> list[dict]:
    out = []
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                name = "" if field == "__all__" else field
                path = f"{prefix}.{name}" if prefix and name else (prefix or name)
                out.append(
                    {
                        "field": path or None,
                        "code": error.code or "invalid",
                        "message": " ".join(error.messages),
                    }
                )
    else:
        for error in exc.error_list:
            out.append(
                {
                    "field": prefix or None,
                    "code": error.code or "invalid",
                    "message": " ".join(error.messages),
                }
            )
    return out


def rule_violation_problem(exc: RuleViolation, instance: str | None = None) -> dict[str, Any]:
    extra = {}
    problems = getattr(exc, "problems", None)
    if problems:
        extra["errors"] = [{"field": exc.field, "code": exc.code, "message": p} for p in problems]
    body = problem(
        status_code=409,
        code=exc.code,
        detail=exc.message,
        field=exc.field,
        instance=instance,
    )
    body.update(extra)
    return body


def _media_type(request) -> str:
    meta = getattr(request, "META", {}) if request is not None else {}
    return (meta.get("CONTENT_TYPE") or "").split(";")[0].strip()[:100] or "?"


def _response(body: dict, headers: dict | None = None) -> Response:
    response = Response(body, status=body["status"], headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error of the API as a problem document."""
    request = context.get("request")
    instance = request.path if request is not None else None
    if isinstance(exc, ApiProblem):
        return _response(
            problem(
                status_code=exc.status_code,
                code=exc.code,
                detail=str(exc.detail),
                field=exc.field,
                instance=instance,
                **exc.extra,
            ),
            exc.headers,
        )
    if isinstance(exc, RuleViolation):
        return _response(rule_violation_problem(exc, instance))
    if isinstance(exc, RequestDataTooBig):
        # Django's own limit on the form fields of a multipart body (the JSON bodies have the
        # API's, api/parsers.py).
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _response(
            problem(
                status_code=413,
                code="body_too_large",
                detail=_(
                    "Le corps de la requête dépasse la taille admise : %(max)s octets au plus."
                )
                % {"max": limit},
                instance=instance,
                max_bytes=limit,
            )
        )
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return _response(
            problem(
                status_code=400,
                code="too_many_fields",
                detail=_("La requête porte trop de champs ou de fichiers."),
                instance=instance,
            )
        )
    if isinstance(exc, DjangoValidationError):
        errors = django_validation_errors(exc)
        return _response(
            problem(
                status_code=400,
                code="invalid_input",
                detail=errors[0]["message"] if errors else _("Requête invalide."),
                field=errors[0]["field"] if errors else None,
                errors=errors,
                instance=instance,
            )
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, unavailable.DATABASE_ERRORS):
        # The database is out of reach: nothing was written (one transaction per change), the
        # client retries later with the same Idempotency-Key.
        if request is not None:
            unavailable.log(request, exc)
        return _response(
            problem(
                status_code=503,
                code=unavailable.CODE,
                detail=unavailable.detail(api=True),
                instance=instance,
            ),
            {"Retry-After": unavailable.retry_after()},
        )
    elif isinstance(exc, IntegrityError):
        logger.warning("api_integrity_conflict path=%s error=%s", instance, exc)
        return _response(
            problem(
                status_code=409,
                code="concurrent_change",
                detail=_(
                    "Une autre requête a modifié les mêmes données au même moment : "
                    "relisez l'objet puis réessayez."
                ),
                instance=instance,
            )
        )
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten(exc.detail)
        return _response(
            problem(
                status_code=400,
                code="invalid_input",
                detail=_("La requête contient %(count)s erreur(s) : %(first)s")
                % {"count": len(errors), "first": errors[0]["message"] if errors else ""},
                field=errors[0]["field"] if errors else None,
                errors=errors,
                instance=instance,
            )
        )
    if isinstance(exc, exceptions.APIException):
        codes = {
            exceptions.ParseError: "malformed_request",
            exceptions.NotAuthenticated: "not_authenticated",
            exceptions.AuthenticationFailed: "authentication_failed",
            exceptions.PermissionDenied: "permission_denied",
            exceptions.NotFound: "not_found",
            exceptions.MethodNotAllowed: "method_not_allowed",
            exceptions.NotAcceptable: "not_acceptable",
            exceptions.UnsupportedMediaType: "unsupported_media_type",
            exceptions.Throttled: "rate_limited",
        }
        code = next(
            (c for klass, c in codes.items() if isinstance(exc, klass)),
            str(exc.get_codes()) if isinstance(exc.get_codes(), str) else "error",
        )
        if isinstance(exc, exceptions.AuthenticationFailed) and isinstance(exc.get_codes(), str):
            code = exc.get_codes()
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if isinstance(exc, exceptions.NotFound):
            detail = _("Aucun objet de votre fournisseur ne correspond à cette adresse.")
        elif isinstance(exc, exceptions.ParseError):
            # A parser of DRF's (a multipart form): its own message is English.
            detail = _(
                "Le corps de la requête est illisible : il ne suit pas le format annoncé par "
                "Content-Type (%(media)s)."
            ) % {"media": _media_type(request)}
        status_code = exc.status_code
        if status_code == 401 and request is not None:
            headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
        return _response(
            problem(status_code=status_code, code=code, detail=str(detail), instance=instance),
            headers,
        )
    logger.exception("api_unhandled_error path=%s", instance)
    return _response(
        problem(
            status_code=500,
            code="internal_error",
            detail=_("Erreur interne : elle est journalisée, réessayez plus tard."),
            instance=instance,
        )
    )


@csrf_exempt
def not_found_view(request, *args, **kwargs) -> JsonResponse:
    """Unknown addresses under /api/v1/ answer a problem document too."""
    return JsonResponse(
        problem(
            status_code=404,
            code="not_found",
            detail=_("Cette adresse n'existe pas dans l'API."),
            instance=request.path,
        ),
        status=404,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )
