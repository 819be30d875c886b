"""Writing and verifying the transition journal.

Each entry's SHA-256 covers its content and the previous entry's hash, so changing, removing or
inserting an entry anywhere breaks every later link. Appends are serialised by locking the single
JournalHead row, inside the caller's transaction, so the entry commits (or rolls back) with the
state change it records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models
from django.utils import timezone

from . import metrics
from .models import JournalEntry, JournalHead

GENESIS_HASH = "0" * 64

Actor = AbstractBaseUser | str


def _canonical(value: Any) -> Any:
    """The JSON form stored and hashed: Decimals and dates as strings, keys sorted."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True))


def compute_hash(fields: dict[str, Any], previous_hash: str) -> str:
    payload = json.dumps(
        {"fields": fields, "previous": previous_hash},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _hashed_fields(entry: JournalEntry) -> dict[str, Any]:
    return {
        "sequence": entry.sequence,
        "recorded_at": entry.recorded_at.astimezone(dt.UTC).isoformat(),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "content_type": entry.content_type_id and _content_type_label(entry.content_type_id),
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "transition": entry.transition,
        "source_state": entry.source_state,
        "target_state": entry.target_state,
        "reason": entry.reason,
        "snapshot": _canonical(entry.snapshot),
    }


def _content_type_label(content_type_id: int) -> str:
    ct = ContentType.objects.get_for_id(content_type_id)
    return f"{ct.app_label}.{ct.model}"


def actor_label(actor: Actor) -> str:
    return actor if isinstance(actor, str) else actor.get_username()


@dataclass(frozen=True)
class Change:
    """One state change to journal."""

    obj: models.Model
    transition: str
    source: str
    target: str
    reason: str = ""
    snapshot: dict[str, Any] | None = None


def record_transition(
    *,
    obj: models.Model,
    transition: str,
    source: str,
    target: str,
    actor: Actor,
    reason: str = "",
    snapshot: dict[str, Any] | None = None,
) -> JournalEntry:
    """Appends one entry; must run inside the transaction that changes `obj`."""
    change = Change(obj, transition, source, target, reason, snapshot)
    return record_transitions([change], actor=actor)[0]


def record_transitions(changes: list[Change], *, actor: Actor) -> list[JournalEntry]:
    """Appends entries for many changes at once (one lock, one head update, batched inserts)."""
    if not connection.in_atomic_block:
        raise RuntimeError("Le journal s'écrit dans la transaction du changement d'état.")
    if not changes:
        return []
    head, _ = JournalHead.objects.select_for_update(no_key=True).get_or_create(id=1)
    now = timezone.now().astimezone(dt.UTC)
    sequence, last_hash = head.sequence, head.last_hash
    entries = []
    for change in changes:
        sequence += 1
        entry = JournalEntry(
            sequence=sequence,
            recorded_at=now,
            actor=None if isinstance(actor, str) else actor,
            actor_label=actor_label(actor),
            content_type=ContentType.objects.get_for_model(change.obj, for_concrete_model=False),
            object_id=str(change.obj.pk),
            object_repr=str(change.obj)[:255],
            transition=change.transition,
            source_state=change.source,
            target_state=change.target,
            reason=change.reason,
            snapshot=_canonical(change.snapshot or {}),
            previous_hash=last_hash,
        )
        entry.entry_hash = last_hash = compute_hash(_hashed_fields(entry), last_hash)
        entries.append(entry)
    _insert(entries)
    metrics.count_transitions(entries)
    JournalHead.objects.filter(id=1).update(sequence=sequence, last_hash=last_hash)
    return entries


_COLUMNS = (
    ("sequence", "bigint"),
    ("recorded_at", "timestamptz"),
    ("actor_id", "integer"),
    ("actor_label", "text"),
    ("content_type_id", "integer"),
    ("object_id", "text"),
    ("object_repr", "text"),
    ("transition", "text"),
    ("source_state", "text"),
    ("target_state", "text"),
    ("reason", "text"),
    ("snapshot", "jsonb"),
    ("previous_hash", "text"),
    ("entry_hash", "text"),
)


def _insert(entries: list[JournalEntry]) -> None:
    """Inserts the entries, their hashes already chained. On PostgreSQL one statement whatever
    their number (one array per column, unnested), so a sweep moving 50,000 objects sends as
    many journal statements as one moving 50; elsewhere Django's batched INSERTs."""
    if connection.vendor != "postgresql":
        JournalEntry.objects.bulk_create(entries, batch_size=1000)
        return
    columns = ", ".join(name for name, _type in _COLUMNS)
    arrays = ", ".join(f"%s::{'text' if kind == 'jsonb' else kind}[]" for _name, kind in _COLUMNS)
    picked = ", ".join(f"{name}::jsonb" if kind == "jsonb" else name for name, kind in _COLUMNS)
    values = [
        [
            json.dumps(e.snapshot, cls=DjangoJSONEncoder) if kind == "jsonb" else getattr(e, name)
            for e in entries
        ]
        for name, kind in _COLUMNS
    ]
    table = JournalEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {picked} "
            f"FROM unnest({arrays}) AS t({columns}) RETURNING id, sequence",
            values,
        )
        ids = dict((sequence, pk) for pk, sequence in cursor.fetchall())
    for entry in entries:
        entry.pk = ids[entry.sequence]
        entry._state.adding = False
        entry._state.db = connection.alias


@dataclass(frozen=True)
class BrokenLink:
    sequence: int
    reason: str


def verify_chain(entries: Iterator[JournalEntry] | None = None) -> tuple[int, BrokenLink | None]:
    """Walks the chain in order; returns (entries checked, first broken link or None)."""
    if entries is None:
        entries = JournalEntry.objects.order_by("sequence").iterator(chunk_size=2000)
    previous_hash = GENESIS_HASH
    expected_sequence = 1
    checked = 0
    last_hash = GENESIS_HASH
    for entry in entries:
        if entry.sequence != expected_sequence:
            return checked, BrokenLink(
                entry.sequence, f"entrée manquante : n° {expected_sequence} attendu"
            )
        if entry.previous_hash != previous_hash:
            return checked, BrokenLink(
                entry.sequence, "l'empreinte précédente ne correspond pas à l'entrée qui précède"
            )
        if compute_hash(_hashed_fields(entry), entry.previous_hash) != entry.entry_hash:
            return checked, BrokenLink(
                entry.sequence, "le contenu de l'entrée ne correspond plus à son empreinte"
            )
        previous_hash = last_hash = entry.entry_hash
        expected_sequence += 1
        checked += 1
    head = JournalHead.objects.filter(id=1).first()
    if head is not None and (head.sequence, head.last_hash) != (checked, last_hash):
        return checked, BrokenLink(
            checked + 1, "des entrées ont disparu en fin de journal (la tête ne correspond pas)"
        )
    return checked, None
