"""Optimistic concurrency: an ETag computed from a row's content, checked against If-Match.

Nothing is stored: the ETag is the SHA-256 of every column's value, so any change by anyone
(portal, admin, another integration, a sweep) changes it.
"""

from __future__ import annotations

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.fields.files import FieldFile

from .errors import precondition_failed, precondition_required


def _value(field: models.Field, obj: models.Model):
    value = field.value_from_object(obj)
    if isinstance(value, FieldFile):
        return value.name or ""
    return value


def etag_of(obj: models.Model) -> str:
    """The quoted strong ETag of a row (its concrete columns, in a canonical JSON form)."""
    return etag_of_values(type(obj), {f.attname: _value(f, obj) for f in obj._meta.concrete_fields})


def etag_of_values(model: type[models.Model], values: dict) -> str:
    """The same ETag from the row's column values as `.values()` reads them (by attname)."""
    payload = json.dumps(values, cls=DjangoJSONEncoder, sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(f"{model._meta.label}:{payload}".encode()).hexdigest()
    return f'"{digest[:32]}"'


def parse_etags(header: str) -> list[str]:
    """« "a", W/"b" » -> ['"a"', '"b"'] (weak ETags compared by their value, as If-Match
    must not match them: they are kept distinct by their W/ prefix)."""
    tags = []
    for part in header.split(","):
        part = part.strip()
        if part:
            tags.append(part)
    return tags


def require_match(if_match: str | None, obj: models.Model) -> None:
    """Raises 428 without If-Match, 412 when it does not name the row's current ETag."""
    if if_match is None or not if_match.strip():
        raise precondition_required()
    tags = parse_etags(if_match)
    if "*" in tags:
        return
    if etag_of(obj) not in tags:
        raise precondition_failed()


def matches(if_match: str | None, obj: models.Model) -> bool:
    """For bulk items: whether `if_match` names the row's current ETag."""
    if not if_match:
        return False
    tags = parse_etags(if_match)
    return "*" in tags or etag_of(obj) in tags
