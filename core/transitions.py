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
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.apps import apps
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _
from django_fsm import TransitionNotAllowed

from .errors import TransitionRefused
from .guards import judged_at as instant_judged
from .guards import judging, refusals_of, state_refusal
from .journal import Actor, Change, record_transition, record_transitions

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
        found = (
            model._default_manager.select_for_update(no_key=True, of=("self",))
            .filter(pk__in=rows[label])
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
        locked.save()
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
    (one refusal refuses them all), saved in bulk, journaled in bulk. For set-based work.

    With `skip_from` (the states the transition leaves), rows another writer holds locked or has
    already moved are skipped rather than refused: two sweeps at once never move a row twice.
    `related` names the foreign keys the rows' `str()` reads for the journal (e.g. an order's
    client), joined to the locking query rather than loaded one per row; only the rows moved are
    locked (`of=("self",)`). `prefetch` names the related rows the transition's guards read
    (e.g. a conflict's positions and their orders), read in one query per relation for the
    whole set, never one per row, and never locked."""
    with transaction.atomic():
        manager = model._default_manager
        locked = manager.select_related(*related) if related else manager.all()
        if prefetch:
            locked = locked.prefetch_related(*prefetch)
        of = ("self",) if related else ()
        if skip_from is None:
            rows = list(
                locked.select_for_update(no_key=True, of=of).filter(pk__in=ids).order_by("pk")
            )
            if len(rows) != len(set(ids)):
                raise TransitionRefused("object_missing", _("Un des objets demandés n'existe pas."))
        else:
            rows = list(
                locked.select_for_update(no_key=True, skip_locked=True, of=of)
                .filter(pk__in=ids, **{f"{state_field}__in": skip_from})
                .order_by("pk")
            )
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        changes, changed = [], set()
        for row in rows:
            before = [f.value_from_object(row) for f in fields]
            source = getattr(row, state_field)
            row_arguments = arguments(row)
            judging(row, row_arguments.get("at"))
            _run(row, name, state_field, row_arguments)
            target = getattr(row, state_field)
            changed.update(
                f.name
                for f, old in zip(fields, before, strict=True)
                if f.value_from_object(row) != old
            )
            changes.append(Change(row, name, source, target, reason(row), snapshot(row)))
        _save_in_bulk(model, rows, [f for f in fields if f.name in changed])
        record_transitions(changes, actor=actor)
    logger.info("transitions model=%s name=%s count=%s", model._meta.label, name, len(rows))
    return rows


def _save_in_bulk(model: type[M], rows: list[M], fields: list) -> None:
    """Writes the changed columns: one UPDATE per 1,000 rows for a column that took the same
    value on every row, a per-row CASE (bulk_update, costly to build) only for the others."""
    if not rows:
        return
    uniform, varying = {}, []
    for field in fields:
        first = field.value_from_object(rows[0])
        if all(field.value_from_object(r) == first for r in rows):
            uniform[field.attname] = first
        else:
            varying.append(field.name)
    ids = [r.pk for r in rows]
    manager = model._default_manager
    for start in range(0, len(ids), 1000):
        if uniform:
            manager.filter(pk__in=ids[start : start + 1000]).update(**uniform)
    if varying:
        manager.bulk_update(rows, varying, batch_size=1000)


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
