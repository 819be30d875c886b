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


_PLAIN = (str, int, bool, type(None))


def _canonical(value: Any) -> Any:
    """The JSON form stored and hashed: Decimals and dates as strings, keys sorted. A flat
    mapping of strings, integers, booleans and nulls is its own JSON form (the hash sorts the
    keys): the sweep's snapshots, taken as they are rather than encoded and decoded again."""
    if type(value) is dict and all(
        type(key) is str and type(item) in _PLAIN for key, item in value.items()
    ):
        return dict(value)
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


@dataclass(frozen=True, slots=True)
class Line:
    """A change reduced to what its entry stores, holding no model instance: the set-based
    writers (core.transitions, the sweep) keep one per row moved, and nothing else."""

    content_type: ContentType
    object_id: str
    object_repr: str
    transition: str
    source: str
    target: str
    reason: str
    snapshot: Any  # canonical JSON form (`_canonical`)

    @classmethod
    def of(cls, change: Change) -> Line:
        return cls.for_object(
            change.obj,
            change.transition,
            change.source,
            change.target,
            change.reason,
            change.snapshot,
        )

    @classmethod
    def for_object(
        cls,
        obj: models.Model,
        transition: str,
        source: str,
        target: str,
        reason: str = "",
        snapshot: dict[str, Any] | None = None,
    ) -> Line:
        return cls(
            ContentType.objects.get_for_model(obj, for_concrete_model=False),
            str(obj.pk),
            str(obj)[:255],
            transition,
            source,
            target,
            reason,
            _canonical(snapshot or {}),
        )


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
    """Appends entries for many changes at once (one lock, one head update, one insert)."""
    entries = []

    def keep(sequence, recorded_at, actor_id, line, previous_hash, entry_hash) -> None:
        entry = JournalEntry(
            sequence=sequence,
            recorded_at=recorded_at,
            actor_id=actor_id,
            actor_label=actor_label(actor),
            content_type=line.content_type,
            object_id=line.object_id,
            object_repr=line.object_repr,
            transition=line.transition,
            source_state=line.source,
            target_state=line.target,
            reason=line.reason,
            snapshot=line.snapshot,
            previous_hash=previous_hash,
            entry_hash=entry_hash,
        )
        if not isinstance(actor, str):
            entry.actor = actor
        entries.append(entry)

    ids = _append([Line.of(change) for change in changes], actor=actor, each=keep)
    for entry, pk in zip(entries, ids, strict=True):
        entry.pk = pk
        entry._state.adding = False
        entry._state.db = connection.alias
    return entries


def record_lines(lines: list[Line], *, actor: Actor) -> int:
    """Appends the entries of `lines` (the set-based writers' form of `record_transitions`):
    one lock of the head, one INSERT, one update of the head, whatever their number; builds no
    model instance. Returns how many were written."""
    _append(lines, actor=actor)
    return len(lines)


def _append(lines: list[Line], *, actor: Actor, each=None) -> list[int]:
    """Chains and inserts `lines` under the journal head's lock (the last lock of the
    transaction, see core.transitions); `each` sees every entry's values. Returns their ids
    (on PostgreSQL, only when `each` asks for entries)."""
    if not connection.in_atomic_block:
        raise RuntimeError("Le journal s'écrit dans la transaction du changement d'état.")
    if not lines:
        return []
    head, _ = JournalHead.objects.select_for_update(no_key=True).get_or_create(id=1)
    now = timezone.now().astimezone(dt.UTC)
    recorded = now.isoformat()
    actor_id = None if isinstance(actor, str) else actor.pk
    label = actor_label(actor)
    sequence, last_hash = head.sequence, head.last_hash
    columns: list[list] = [[] for _column in _COLUMNS]
    labels: dict[int, str] = {}
    for line in lines:
        sequence += 1
        ct = line.content_type
        if ct.pk not in labels:
            labels[ct.pk] = f"{ct.app_label}.{ct.model}"
        fields = {
            "sequence": sequence,
            "recorded_at": recorded,
            "actor_id": actor_id,
            "actor_label": label,
            "content_type": labels[ct.pk],
            "object_id": line.object_id,
            "object_repr": line.object_repr,
            "transition": line.transition,
            "source_state": line.source,
            "target_state": line.target,
            "reason": line.reason,
            "snapshot": line.snapshot,
        }
        entry_hash = compute_hash(fields, last_hash)
        values = (
            sequence,
            now,
            actor_id,
            label,
            ct.pk,
            line.object_id,
            line.object_repr,
            line.transition,
            line.source,
            line.target,
            line.reason,
            line.snapshot,
            last_hash,
            entry_hash,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
        if each is not None:
            each(sequence, now, actor_id, line, last_hash, entry_hash)
        last_hash = entry_hash
    ids = _insert(columns, returning=each is not None)
    metrics.count_transitions(lines)
    JournalHead.objects.filter(id=1).update(sequence=sequence, last_hash=last_hash)
    return ids


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


def _insert(columns: list[list], *, returning: bool) -> list[int]:
    """Inserts the entries (one list per column of `_COLUMNS`, hashes already chained). On
    PostgreSQL one statement whatever their number (one array per column, unnested), so a sweep
    moving 50,000 objects sends as many journal statements as one moving 50; elsewhere Django's
    batched INSERTs."""
    names = [name for name, _kind in _COLUMNS]
    if connection.vendor != "postgresql":
        created = JournalEntry.objects.bulk_create(
            [
                JournalEntry(**dict(zip(names, row, strict=True)))
                for row in zip(*columns, strict=True)
            ],
            batch_size=1000,
        )
        return [entry.pk for entry in created]
    listed = ", ".join(names)
    arrays = ", ".join(f"%s::{'text' if kind == 'jsonb' else kind}[]" for _name, kind in _COLUMNS)
    picked = ", ".join(f"{name}::jsonb" if kind == "jsonb" else name for name, kind in _COLUMNS)
    snapshots = names.index("snapshot")
    columns[snapshots] = [json.dumps(value) for value in columns[snapshots]]  # canonical already
    table = JournalEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({listed}) SELECT {picked} "
            f"FROM unnest({arrays}) AS t({listed})"
            + (" RETURNING id, sequence" if returning else ""),
            columns,
        )
        if not returning:
            return []
        ids = dict((sequence, pk) for pk, sequence in cursor.fetchall())
    return [ids[sequence] for sequence in columns[0]]


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
