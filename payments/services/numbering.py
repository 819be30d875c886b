"""Filings of one vendor, dispositif and kind are numbered in sequence, each named after its
number: the one place a new filing is created, for claims and completion notices alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import Max

from catalogue.models import Dispositif, Vendor

from ..asp.filing import SCHEMA_VERSION
from ..models import AspFiling


def numbered_filings(
    *,
    vendor: Vendor,
    dispositif: Dispositif,
    kind: str,
    ids: list[int],
    max_lines: int,
    at: dt.datetime,
) -> Iterator[tuple[AspFiling, list[int]]]:
    """The next filings for `ids`, `max_lines` at most each, with the ids each one holds."""
    last = AspFiling.objects.filter(vendor=vendor, dispositif=dispositif, kind=kind).aggregate(
        n=Max("sequence")
    )["n"]
    for offset in range(0, len(ids), max_lines):
        sequence = (last or 0) + 1 + offset // max_lines
        filing = AspFiling.objects.create(
            vendor=vendor,
            dispositif=dispositif,
            kind=kind,
            sequence=sequence,
            name=AspFiling.file_stem(
                kind=kind, dispositif=dispositif, vendor=vendor, sequence=sequence
            ),
            schema_version=SCHEMA_VERSION,
            created_at=at,
        )
        yield filing, ids[offset : offset + max_lines]
