"""The API's JSON parser: a bad body is a 4xx problem detail, never a 500.

DRF's own JSONParser reads the body through `request.body`, so Django's one
DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) would cap every endpoint alike, the bulk ones (10,000
items, up to some 10 MB) too; it lets a body nested 100,000 levels deep raise RecursionError,
silently keeps the last of two equal keys and says what is wrong in English. This one is not a
JSONParser subclass, so DRF hands it the request's stream, and it:

- refuses a body larger than `API_MAX_BODY_BYTES` (`API_BULK_MAX_BODY_BYTES` on the bulk
  endpoints, sized for their 10,000 items) with a 413 that states the limit, from the
  Content-Length before reading anything, and by reading at most one byte past the limit;
- requires UTF-8 (RFC 8259), refuses more than `MAX_DEPTH` levels of arrays and objects (counted
  before parsing, so the parser never recurses that deep), a key given twice in one object, and
  NaN or Infinity;
- answers each with a stable code, the field when one is known, and a French sentence.
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

from .errors import ApiProblem

MAX_DEPTH = 64
# A JSON string, escapes included (an unterminated one runs to the end: linear time whatever
# the body), whose brackets do not count; and what is not a bracket.
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
# An opening bracket counts +1, a closing one -1 (a signed byte).
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def body_limit(view) -> int:
    if getattr(view, "action", None) == "bulk":
        return getattr(settings, "API_BULK_MAX_BODY_BYTES", 20 * 1024 * 1024)
    return getattr(settings, "API_MAX_BODY_BYTES", settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",").replace(",0", "")


def too_large(limit: int, received: int | None = None) -> ApiProblem:
    message = _("Le corps de la requête dépasse la taille admise : %(max)s Mo au plus.") % {
        "max": _megabytes(limit)
    }
    extra = {"max_bytes": limit}
    if received is not None:
        extra["received_bytes"] = received
    return ApiProblem(413, "body_too_large", message, extra=extra)


def depth(text: str) -> int:
    """How deep arrays and objects nest, counted without parsing: strings removed, then the
    running sum of the brackets (+1, -1), in C loops rather than one character at a time."""
    steps = _NOT_BRACKETS.sub("", _STRINGS.sub("", text)).encode("ascii").translate(_STEPS)
    return max(accumulate(array("b", steps)), default=0)


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        self.key = key
        super().__init__(key)


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKey(key)
        result[key] = value
    return result


def _refuse_constant(name: str):
    raise ValueError(f"{name} n'est pas une valeur JSON")


def _declared_length(request) -> int | None:
    meta = getattr(request, "META", {})
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return None


class SafeJSONParser(BaseParser):
    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        context = parser_context or {}
        limit = body_limit(context.get("view"))
        declared = _declared_length(context.get("request"))
        if declared is not None and declared > limit:
            raise too_large(limit, declared)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise too_large(limit)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiProblem(
                400,
                "body_not_utf8",
                _(
                    "Le corps de la requête n'est pas encodé en UTF-8 (octet invalide à la "
                    "position %(position)s)."
                )
                % {"position": exc.start},
            ) from None
        if depth(text) > MAX_DEPTH:
            raise self._too_deep()
        try:
            return json.loads(
                text,
                object_pairs_hook=_object_without_duplicates,
                parse_constant=_refuse_constant,
            )
        except DuplicateKey as exc:
            raise ApiProblem(
                400,
                "json_duplicate_key",
                _("La clé « %(key)s » figure deux fois dans le même objet JSON.")
                % {"key": exc.key[:100]},
                field=exc.key[:100],
            ) from None
        except RecursionError:
            raise self._too_deep() from None
        except ValueError as exc:
            where = ""
            if isinstance(exc, json.JSONDecodeError):
                where = _(" (ligne %(line)s, colonne %(column)s)") % {
                    "line": exc.lineno,
                    "column": exc.colno,
                }
            raise ApiProblem(
                400,
                "malformed_request",
                _("Le corps de la requête n'est pas un JSON valable%(where)s.") % {"where": where},
            ) from None

    @staticmethod
    def _too_deep() -> ApiProblem:
        return ApiProblem(
            400,
            "json_too_deep",
            _("Le JSON imbrique plus de %(max)s niveaux de tableaux ou d'objets.")
            % {"max": MAX_DEPTH},
        )
