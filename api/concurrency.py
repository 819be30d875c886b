"""Optimistic concurrency: an ETag per row, checked against If-Match.

The ETag derives from the row's model, primary key and row version (`core.versioning`): the
version rises on every write by anyone (portal, admin, another integration, a sweep, a
set-based UPDATE, raw SQL), so any change changes the ETag, and an ETag once superseded never
comes back. It is opaque to integrators: a digest, quoted, never to be parsed.
"""

from __future__ import annotations

import hashlib

from django.db import models

from core.versioning import FIELD, Versioned

from .errors import precondition_failed, precondition_required


def etag_of(obj: models.Model) -> str:
    """The quoted strong ETag of a versioned row, as it is in memory."""
    if not isinstance(obj, Versioned):
        raise TypeError(f"{type(obj).__name__} n'a pas de version de ligne (core.versioning).")
    return etag_of_label(obj._meta.label, obj.pk, getattr(obj, FIELD))


def etag_of_label(label: str, pk, row_version: int) -> str:
    """The same ETag from a row read as values: its model's label (« sons.PurchaseOrder »), its
    primary key and its `row_version`."""
    digest = hashlib.blake2b(f"{label}:{pk}:{row_version}".encode(), digest_size=16).hexdigest()
    return f'"{digest}"'


def parse_etags(header: str) -> list[str]:
    """« "a", W/"b" » -> ['"a"', 'W/"b"'] (a weak ETag keeps its W/ prefix, so that If-Match,
    which compares strongly, never matches it)."""
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
