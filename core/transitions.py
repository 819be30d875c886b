"""The one mechanism every service uses to move an object through its state machine.

Lock the row, check the transition is allowed from the current state, call it (the model's
transition method holds its guarding rule and raises RuleViolation when it refuses), save, and
journal the change, all in one transaction. Side effects are scheduled by the caller with
transaction.on_commit, so nothing leaves the system for a change that rolled back.

The lock order. Every transaction that locks several rows takes them in this order, and within
one model in increasing primary key, so that two transactions never wait on each other:

    0. sons.ClientRelationship        a vendor's record of a client (changed before any order)
    1. sons.PurchaseOrder             the BDC (the root of everything a prestation owns)
    2. sons.ClientConflict            then the conflict and its positions
    3. sons.Deployment
    4. sons.VerificationAptitude      the VA (MOM declarations are inserted under the order)
    5. signing.SigningLink            a client's link to sign the BDC or the VA
    6. payments.PaymentClaim
    7. payments.AspFiling
    8. payments.Recovery
    9. core.JournalHead               last: taken by the first journal write of the transaction
                                      and held to its end, so no row is locked after it

A service that needs a row lower in the list than one it holds reads its key without a lock,
then locks from the top again (`lock_in_order`); a locking query that joins other tables locks
its own rows only (`of=("self",)`). Every lock is FOR NO KEY UPDATE
(`select_for_update(no_key=True)`): Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, so
inserting or updating a row that references another takes PostgreSQL's KEY SHARE lock on that
row at COMMIT, after the journal head; a FOR UPDATE lock would make it wait there, a NO KEY
UPDATE lock does not. The sweep's set-based steps take the same order with SKIP LOCKED, and
judge their rule again by a statement that starts after the locks. tests/core/test_lock_order.py
runs the pairs that meet in real life in threads on PostgreSQL.

Set-based moves (`apply_transition_many`, `apply_transition_set`, the sweep) cost a fixed number
of statements whatever the number of rows, in one transaction:

- the rows are named by one array parameter (`any_of`: `id = ANY(%s)`, never an IN list of one
  parameter per id) and locked by one read, in primary key order, streamed (a server-side
  cursor on PostgreSQL, `STREAM_CHUNK` rows at a time) so that memory holds each row's new
  values and journal line, not the rows;
- each row is judged on its locked version, its guards through `_run`, one refusal refusing the
  set (with `skip_from`, a row another writer holds or has moved is skipped instead);
- the columns every row changed alike are written by one `UPDATE … WHERE id = ANY(%s)`, those
  that differ by one `UPDATE … FROM unnest(…)` (`update_rows`); a set of new rows by one
  `INSERT … SELECT … FROM unnest(…)` (`insert_rows`); a model with a `row_version` gets it raised
  by the same statement;
- the journal by one `INSERT … FROM unnest(…)` under the head's lock (core.journal).

One transaction per set, not one per slice of it: what is moved commits with its journal or not
at all, and the statements do not grow with the set. The cost is that the journal head, taken
last, is held from the set's first journal write to its commit (hashing and inserting its
entries: about a second for the 50,000 moves of a national sweep), during which other writers
wait to journal; the sweep runs at night. SQLite (tests, the embedded mode) runs the same
functions; where PostgreSQL has `unnest`, it has Django's `bulk_update` and `bulk_create`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from operator import attrgetter
from typing import Any, TypeVar

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models, transaction
from django.db.models import F, Lookup, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django_fsm import TransitionNotAllowed

from .errors import TransitionRefused
from .guards import judged_at as instant_judged
from .guards import judging, refusals_of, state_refusal
from .journal import Actor, Line, record_lines, record_transition

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)

LOCK_ORDER = (
    "sons.ClientRelationship",
    "sons.PurchaseOrder",
    "sons.ClientConflict",
    "sons.Deployment",
    "sons.VerificationAptitude",
    "signing.SigningLink",
    "payments.PaymentClaim",
    "payments.AspFiling",
    "payments.Recovery",
    "core.JournalHead",
)


def lock_in_order(rows: dict[str, Any]) -> dict[str, dict[int, models.Model]]:
    """Locks the rows named by model label -> ids (a list or a queryset of ids), in the lock
    order above and by primary key, and returns them fresh: {label: {pk: row}}. Must run in a
    transaction; a label outside the lock order is a programming error."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Les verrous se prennent dans une transaction.")
    unknown = set(rows) - set(LOCK_ORDER)
    if unknown:
        raise ValueError(f"not in the lock order: {sorted(unknown)}")
    locked: dict[str, dict[int, models.Model]] = {}
    for label in sorted(rows, key=LOCK_ORDER.index):
        model = apps.get_model(label)
        wanted = rows[label]
        found = (
            model._default_manager.select_for_update(no_key=True, of=("self",))
            .filter(Q(pk__in=wanted) if isinstance(wanted, QuerySet) else any_of("pk", wanted))
            .order_by("pk")
        )
        locked[label] = {row.pk: row for row in found}
    return locked


def apply_transition(
    obj: M,
    name: str,
    *,
    actor: Actor,
    reason: str = "",
    snapshot: dict[str, Any] | None = None,
    state_field: str = "status",
    judged_at: Any = None,
    **kwargs: Any,
) -> M:
    """Runs transition `name` on a locked fresh copy of `obj`, journals it, returns the copy.
    Its guards are judged at `judged_at` (by default the transition's own `at` argument)."""
    with transaction.atomic():
        locked = type(obj)._default_manager.select_for_update(no_key=True).get(pk=obj.pk)
        judging(locked, judged_at or kwargs.get("at"))
        source = getattr(locked, state_field)
        _run(locked, name, state_field, kwargs)
        locked.save()  # raises a `row_version` itself (core.versioning)
        target = getattr(locked, state_field)
        record_transition(
            obj=locked,
            transition=name,
            source=source,
            target=target,
            actor=actor,
            reason=reason,
            snapshot=snapshot,
        )
    logger.info(
        "transition model=%s id=%s name=%s from=%s to=%s",
        locked._meta.label,
        locked.pk,
        name,
        source,
        target,
    )
    if obj is not locked:
        copy_state(locked, obj)
    return locked


def copy_state(source: M, target: M) -> None:
    """Gives `target` the field values of `source` (a fresh copy of the same row), as
    refresh_from_db would. django-fsm's refresh_from_db lifts the FSM field's protection on the
    field object itself, which every thread shares, so that two threads refreshing at once can
    fail each other; writing the instance's own values touches nothing shared."""
    for field in source._meta.concrete_fields:
        target.__dict__[field.attname] = source.__dict__[field.attname]
    target._state.fields_cache.clear()  # related objects are read again when next needed
    update_initial_state = getattr(target, "_update_initial_state", None)
    if update_initial_state is not None:  # ConcurrentTransitionMixin's record of the state read
        update_initial_state()


def reload(obj: M) -> M:
    """`obj` with its row's current values, thread-safely (see `copy_state`)."""
    copy_state(type(obj)._default_manager.get(pk=obj.pk), obj)
    return obj


def apply_transition_many(
    model: type[M],
    ids: list[int],
    name: str,
    *,
    actor: Actor,
    snapshot: Callable[[M], dict[str, Any]] = lambda obj: {},
    arguments: Callable[[M], dict[str, Any]] = lambda obj: {},
    reason: Callable[[M], str] = lambda obj: "",
    state_field: str = "status",
    skip_from: list[str] | None = None,
    related: tuple[str, ...] = (),
    prefetch: tuple[str, ...] = (),
) -> list[M]:
    """The same transition on many rows in one transaction: locked together, checked one by one
    (one refusal refuses them all), saved in bulk, journaled in bulk; returns the rows moved.
    A fixed number of statements whatever the number of rows (see `apply_transition_set`, which
    does the same without keeping the rows).

    With `skip_from` (the states the transition leaves), rows another writer holds locked or has
    already moved are skipped rather than refused: two sweeps at once never move a row twice.
    `related` names the foreign keys the rows' `str()` reads for the journal (e.g. an order's
    client), joined to the locking query rather than loaded one per row; only the rows moved are
    locked (`of=("self",)`). `prefetch` names the related rows the transition's guards read
    (e.g. a conflict's positions and their orders), read in one query per relation for the
    whole set, never one per row, and never locked."""
    rows: list[M] = []
    _move(
        model,
        ids,
        name,
        actor,
        snapshot,
        arguments,
        reason,
        state_field,
        skip_from,
        related,
        prefetch,
        rows=rows,
    )
    return rows


def apply_transition_set(
    model: type[M],
    ids: list[int],
    name: str | Callable[[M], str],
    *,
    actor: Actor,
    snapshot: Callable[[M], dict[str, Any]] = lambda obj: {},
    arguments: Callable[[M], dict[str, Any]] = lambda obj: {},
    reason: Callable[[M], str] = lambda obj: "",
    state_field: str = "status",
    skip_from: list[str] | None = None,
    related: tuple[str, ...] = (),
    prefetch: tuple[str, ...] = (),
) -> int:
    """`apply_transition_many` for sets too large to hold (the sweep): the locked rows are
    streamed, each judged and moved then dropped, only its new values and its journal line
    kept; returns how many moved. `name` may choose each row's transition from the locked row
    (a conflict expires or awaits a decision by who still keeps an order)."""
    return _move(
        model,
        ids,
        name,
        actor,
        snapshot,
        arguments,
        reason,
        state_field,
        skip_from,
        related,
        prefetch,
        rows=None,
    )


def any_of(field: str, values: Iterable[Any]) -> Lookup:
    """A filter `field = ANY(%s)` with the values as one array parameter, for
    `queryset.filter(any_of("pk", ids))`: one parameter whatever their number, where Django's
    `__in` sends one per value (50,000 ids, 50,000 parameters to bind and a statement text of
    their size). SQLite reads the same one parameter as a JSON array."""
    return _AnyOf(F(field), list(values))


class _AnyOf(Lookup):
    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            kind = self.lhs.output_field.cast_db_type(connection)
            return f"{lhs} = ANY(%s::{kind}[])", [*params, self.rhs]
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*params, json.dumps(self.rhs)]


# Rows fetched at a time by the streamed locking read (a server-side cursor on PostgreSQL).
STREAM_CHUNK = 2000


@contextmanager
def streamed(rows: QuerySet | list) -> Iterator[Any]:
    """`rows` read `STREAM_CHUNK` at a time (a server-side cursor on PostgreSQL), inside the
    caller's transaction. The cursor is closed on the way out, before the transaction ends: a
    refusal raised halfway must not leave it to be closed after the rollback dropped it."""
    if isinstance(rows, list):
        yield iter(rows)
        return
    if connection.vendor == "postgresql":
        # Every row is read: plan the cursor for all of them, not for its first tenth (the
        # default fraction, which picks plans that start fast and finish late).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL cursor_tuple_fraction = 1.0")
    stream = rows.iterator(chunk_size=STREAM_CHUNK)
    try:
        yield stream
    finally:
        with suppress(Exception):  # a failed transaction has lost the cursor already
            stream.close()


_KEEP = object()  # a row that did not change a column other rows changed: its value stays


def _move(
    model,
    ids,
    name,
    actor,
    snapshot,
    arguments,
    reason,
    state_field,
    skip_from,
    related,
    prefetch,
    *,
    rows: list | None,
) -> int:
    """The work of `apply_transition_many` (`rows` receives the rows moved) and of
    `apply_transition_set` (`rows` is None: each row is dropped once read)."""
    wanted = list(ids)
    if not wanted:
        return 0
    with transaction.atomic():
        manager = model._default_manager
        found = manager.select_related(*related) if related else manager.all()
        of = ("self",) if related else ()
        if skip_from is None:
            found = found.select_for_update(no_key=True, of=of)
        else:
            found = found.select_for_update(no_key=True, skip_locked=True, of=of).filter(
                **{f"{state_field}__in": skip_from}
            )
        found = found.filter(any_of("pk", wanted)).order_by("pk")
        if prefetch:
            # Read at once, so that each relation comes in one query for the whole set (a
            # streamed read prefetches per batch): the sets that prefetch are a few thousand
            # conflicts at most.
            found = list(found.prefetch_related(*prefetch))
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        read = attrgetter(*(f.attname for f in fields), "pk")  # a tuple, even for one field
        pks: list[int] = []
        columns: dict[int, list] = {}  # index in `fields` -> each moved row's value
        lines: list[Line] = []
        with streamed(found) as stream:
            for row in stream:
                before = read(row)
                source = getattr(row, state_field)
                row_arguments = arguments(row)
                judging(row, row_arguments.get("at"))
                transition = name(row) if callable(name) else name
                _run(row, transition, state_field, row_arguments)
                after = read(row)
                for index, (old, new) in enumerate(zip(before, after, strict=True)):
                    if new != old and index not in columns:
                        columns[index] = [_KEEP] * len(pks)
                for index, values in columns.items():
                    values.append(after[index])
                pks.append(row.pk)
                target = getattr(row, state_field)
                lines.append(
                    Line.for_object(row, transition, source, target, reason(row), snapshot(row))
                )
                if rows is not None:
                    rows.append(row)
        if skip_from is None and len(pks) != len(set(wanted)):
            raise TransitionRefused("object_missing", _("Un des objets demandés n'existe pas."))
        varying = {fields[index].attname: values for index, values in columns.items()}
        if update_rows(model, pks, varying=varying) and rows is not None:
            for row in rows:
                bump_row_version(row)
        record_lines(lines, actor=actor)
    logger.info(
        "transitions model=%s name=%s count=%s",
        model._meta.label,
        getattr(name, "__name__", name),
        len(pks),
    )
    return len(pks)


def has_row_version(model: type[models.Model]) -> bool:
    """Whether `model` carries a `row_version` (bumped by every write, read by ETags)."""
    try:
        model._meta.get_field("row_version")
    except FieldDoesNotExist:
        return False
    return True


def bump_row_version(row: models.Model) -> None:
    """The in-memory side of a write that bumped the row's `row_version` (`update_rows`)."""
    if has_row_version(type(row)) and row.row_version is not None:
        row.row_version += 1


def update_rows(
    model: type[models.Model],
    pks: list[int],
    *,
    same: dict[str, Any] | None = None,
    varying: dict[str, list] | None = None,
) -> bool:
    """Writes columns of the rows `pks` in one statement: `same` the values every row takes
    (`UPDATE … SET col = %s WHERE id = ANY(%s)`), `varying` one value per row in the order of
    `pks` (`UPDATE … FROM unnest(…)` on PostgreSQL, rather than bulk_update's CASE of one
    branch per row; `_KEEP` where a row keeps its value). Bumps `row_version` where the model
    has one. Returns whether anything was written."""
    same, varying = dict(same or {}), dict(varying or {})
    for attname, values in list(varying.items()):  # the same on every row after all
        first = values[0] if values else _KEEP
        if first is not _KEEP and all(v is not _KEEP and v == first for v in values):
            same[attname] = varying.pop(attname)[0]
    if not pks or not (same or varying):
        return False
    versioned = has_row_version(model)
    manager = model._default_manager
    if not varying or connection.vendor != "postgresql":
        bump = {"row_version": F("row_version") + 1} if versioned else {}
        manager.filter(any_of("pk", pks)).update(**same, **bump)
        for attname, values in varying.items():  # SQLite: Django's bulk_update, simple
            field = model._meta.get_field(attname)
            moved = [
                _instance(model, pk, field, value)
                for pk, value in zip(pks, values, strict=True)
                if value is not _KEEP
            ]
            manager.bulk_update(moved, [field.name], batch_size=500)
        return True
    meta = model._meta
    quote = connection.ops.quote_name
    sets, params, arrays, names = [], [], [], ["pk"]
    for attname, value in same.items():
        field = meta.get_field(attname)
        sets.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    unnest_params = [list(pks)]
    arrays.append(f"%s::{meta.pk.cast_db_type(connection)}[]")
    for index, (attname, values) in enumerate(varying.items()):
        field = meta.get_field(attname)
        column = quote(field.column)
        kind = field.cast_db_type(connection)
        if kind == "jsonb":  # sent as text, each element cast
            prepared = [None if v is _KEEP else json.dumps(v, cls=field.encoder) for v in values]
            value_sql, kind = f"v.c{index}::jsonb", "text"
        else:
            prepared = [
                None if v is _KEEP else field.get_db_prep_save(v, connection) for v in values
            ]
            value_sql = f"v.c{index}"
        arrays.append(f"%s::{kind}[]")
        unnest_params.append(prepared)
        names.append(f"c{index}")
        if any(v is _KEEP for v in values):
            arrays.append("%s::boolean[]")
            unnest_params.append([v is _KEEP for v in values])
            names.append(f"k{index}")
            value_sql = f"CASE WHEN v.k{index} THEN t.{column} ELSE {value_sql} END"
        sets.append(f"{column} = {value_sql}")
    if versioned:
        sets.append("row_version = t.row_version + 1")
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS t SET {', '.join(sets)} "
            f"FROM unnest({', '.join(arrays)}) AS v({', '.join(names)}) "
            f"WHERE t.{quote(meta.pk.column)} = v.pk",
            [*params, *unnest_params],
        )
    return True


def _instance(model, pk, field, value):
    row = model(pk=pk)
    row.__dict__[field.attname] = value
    return row


def insert_rows(
    model: type[models.Model], columns: dict[str, list], *, same: dict[str, Any] | None = None
) -> list[int]:
    """Inserts one row per position of `columns` (attname -> one value per row), `same` giving
    the values every row takes, every other field its default; returns their ids in order. On
    PostgreSQL one `INSERT … SELECT … FROM unnest(…)` whatever their number; elsewhere
    bulk_create. No `pre_save` runs: give every value a field would compute."""
    same = dict(same or {})
    meta = model._meta
    given = set(columns) | set(same)
    for field in meta.concrete_fields:
        if not field.primary_key and field.attname not in given:
            same[field.attname] = field.get_default()
    count = len(next(iter(columns.values()))) if columns else 0
    if not count:
        return []
    if connection.vendor != "postgresql":
        created = model._default_manager.bulk_create(
            [
                model(**same, **dict(zip(columns, values, strict=True)))
                for values in zip(*columns.values(), strict=True)
            ]
        )
        return [row.pk for row in created]
    quote = connection.ops.quote_name
    listed, picked, arrays, names, params, unnest_params = [], [], [], [], [], []
    for index, (attname, values) in enumerate(columns.items()):
        field = meta.get_field(attname)
        listed.append(quote(field.column))
        picked.append(f"v.c{index}")
        arrays.append(f"%s::{field.cast_db_type(connection)}[]")
        names.append(f"c{index}")
        unnest_params.append([field.get_db_prep_save(v, connection) for v in values])
    for attname, value in same.items():
        field = meta.get_field(attname)
        listed.append(quote(field.column))
        picked.append(f"%s::{field.cast_db_type(connection)}")
        params.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(listed)}) "
            f"SELECT {', '.join(picked)} FROM unnest({', '.join(arrays)}) "
            f"AS v({', '.join(names)}) RETURNING {quote(meta.pk.column)}",
            [*params, *unnest_params],
        )
        return [pk for (pk,) in cursor.fetchall()]


def _run(locked: models.Model, name: str, state_field: str, kwargs: dict[str, Any]) -> None:
    """Checks that `name` is allowed from the current state and its guards hold, then runs it."""
    source = getattr(locked, state_field)
    method = getattr(locked, name)
    meta = method._django_fsm
    if not meta.has_transition(source):
        refusal = state_refusal(locked, name, state_field=state_field)
        raise TransitionRefused(refusal.code, refusal.message, field=refusal.field)
    spec = meta.get_transition(source)
    # The declared guards (core.guards), judged on the locked row at the act's instant.
    refused = refusals_of(spec.conditions, locked, instant_judged(locked))
    if refused:
        raise refused[0].error()
    try:
        method(**kwargs)
    except TransitionNotAllowed as exc:  # raced with another writer despite the lock
        raise TransitionRefused("transition_not_allowed", str(exc), field=state_field) from exc
