"""The deadline sweep: every move the calendars in force make due at an instant.

Each step selects what is due with the selectors (one query), then moves it in one transaction
of a fixed number of statements whatever the number of rows (core.transitions, « Set-based
moves »): the rows locked by one streamed read under `select_for_update(skip_locked)` in the lock
order, each judged again on its locked version through the same transitions and guards as the
services, written by one UPDATE (or INSERT) per kind of write and journaled by one INSERT. A row
another sweep holds or has already moved is skipped, so two sweeps at once never move a row
twice; a step's rows commit together with their journal, or not at all. So the whole sweep sends
the same number of statements for 500 moves as for 50,000.

`plan` lists what would move and why without writing (`--dry-run`); `--at` judges as of another
instant.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Case, QuerySet, Value, When

from catalogue.deadlines import format_deadline, format_paris
from core.journal import Line, record_lines
from core.models import RoutineRun
from core.transitions import any_of, apply_transition_set, insert_rows, streamed, update_rows
from sons.models import (
    ClientConflict,
    ConflictStatus,
    OrderStatus,
    PurchaseOrder,
)
from sons.selectors import (
    expired_conflicts,
    lapsing_orders,
    orders_missing_firm_date,
    silent_positions,
)

from .models import PaymentClaim, Recovery
from .selectors import (
    due_for_recovery,
    late_claim_conditions,
    late_claims,
    recovery_amounts,
    unfiled_claims,
    with_recovery_amounts,
)

logger = logging.getLogger(__name__)

SWEEPER = "système:sweep_deadlines"


@dataclass(frozen=True)
class Move:
    """One object the sweep moves (or would move), and the rule that makes it due."""

    step: str
    label: str
    object_id: int
    reason: str


# -- what is due ------------------------------------------------------------------------------


# Every rule of what is due lives in the selectors (sons.selectors, payments.selectors): the
# sweep applies it, the pages and the services read the same one.


def _unflagged_without_firm_date(at: dt.datetime) -> QuerySet[PurchaseOrder]:
    return orders_missing_firm_date(at=at).filter(firm_date_flagged_at__isnull=True)


def _due_for_recovery(at: dt.datetime) -> QuerySet[PurchaseOrder]:
    return due_for_recovery(PurchaseOrder.objects.all(), at=at)


def plan(at: dt.datetime) -> list[Move]:
    """Everything the sweep would move at `at`, with the rule that makes each move due."""
    moves = [
        Move(
            "lapse",
            str(o),
            o.pk,
            f"référencement attendu avant le {format_paris(o.conditional_until)}",
        )
        for o in lapsing_orders(at=at).select_related("client")
    ]
    moves += [
        Move("flag_firm_date", str(o), o.pk, "date ferme non confirmée après l'échéance")
        for o in _unflagged_without_firm_date(at).select_related("client")
    ]
    silent = list(silent_positions(at=at).select_related("order__client").order_by("order_id"))
    moves += [
        Move(
            "lose_client",
            str(p.order),
            p.order_id,
            f"pas de réponse dans ses 10 jours ouvrés (avant le {format_deadline(p.respond_by)})",
        )
        for p in silent
    ]
    withdrawn = {p.order_id for p in silent}
    for conflict in (
        expired_conflicts(at=at)
        .select_related("client", "dispositif")
        .prefetch_related("positions__order")
        .order_by("pk")
    ):
        kept = [o for o in conflict.kept_orders() if o.pk not in withdrawn]
        if len(kept) > 1:
            moves.append(
                Move(
                    "await_decision",
                    str(conflict),
                    conflict.pk,
                    f"{len(kept)} commandes maintenues à l'échéance ("
                    f"{format_deadline(conflict.respond_by)}) : décision de l'administration "
                    "requise",
                )
            )
        else:
            moves.append(
                Move(
                    "expire_conflict",
                    str(conflict),
                    conflict.pk,
                    f"réponses dues avant le {format_deadline(conflict.respond_by)}",
                )
            )
    moves += [
        Move("open_recovery", str(o), o.pk, f"cause : {o.cause}")
        for o in _due_for_recovery(at).select_related("client")
    ]
    moves += [
        Move("claim_deadline_missed", str(c), c.pk, reason)
        for condition, reason in late_claim_conditions(at)
        for c in unfiled_claims().filter(condition).order_by("pk")
    ]
    return moves


# -- moving -----------------------------------------------------------------------------------


def sweep(at: dt.datetime) -> dict[str, int]:
    """Applies every due move at `at`; returns how many objects each step moved.

    Every step selects what is due in one query, then moves it in one transaction of a fixed
    number of statements, whatever the number of rows (see the module's docstring)."""
    counts = {
        "lapse": _move(
            PurchaseOrder,
            list(lapsing_orders(at=at).order_by("pk").values_list("pk", flat=True)),
            "lapse",
            [OrderStatus.CONDITIONAL],
            lambda o: {"at": at},
            lambda o: {"at": at.isoformat(), "conditional_until": o.conditional_until.isoformat()},
        ),
        "flag_firm_date": _flag(
            PurchaseOrder,
            list(_unflagged_without_firm_date(at).order_by("pk").values_list("pk", flat=True)),
            None,
            "firm_date_flagged_at",
            "flag_missing_firm_date",
            at,
            related=("client",),
            only=("client__legal_name",),
        ),
        **_end_conflict_windows(at),
        "open_recovery": _open_recoveries(at),
        "claim_deadline_missed": _flag(
            PaymentClaim,
            *_late_claims_and_reasons(at),
            "deadline_missed_at",
            "flag_deadline_missed",
            at,
            only=("kind", "amends", "order"),
            reason_field="deadline_missed_reason",
        ),
    }
    logger.info("sweep at=%s %s", at.isoformat(), " ".join(f"{k}={v}" for k, v in counts.items()))
    RoutineRun.record(RoutineRun.SWEEP, succeeded=True, detail=f"at={at.isoformat()} {counts}")
    return counts


def _move(model, ids, name, sources, arguments: Callable, snapshot: Callable) -> int:
    return apply_transition_set(
        model,
        ids,
        name,
        actor=SWEEPER,
        arguments=arguments,
        snapshot=snapshot,
        skip_from=sources,
        related=("client",),
    )


def reason_per_row(reasons: dict[int, str]) -> Case:
    """One UPDATE's value for each row's reason: a case per distinct reason (one per rule
    that made rows due, its rows as one array parameter), never a statement per row or per
    reason."""
    by_reason: dict[str, list[int]] = {}
    for pk, reason in reasons.items():
        by_reason.setdefault(reason, []).append(pk)
    return Case(
        *(When(any_of("pk", pks), then=Value(reason)) for reason, pks in by_reason.items()),
        default=Value(""),
    )


def _late_claims_and_reasons(at: dt.datetime) -> tuple[list[int], dict[int, str]]:
    """The claims `late_claims` selects at `at` and each one's reason, in one query."""
    reasons = dict(late_claims(at).order_by("pk").values_list("pk", "filing_late_reason"))
    return list(reasons), reasons


def _flag(
    model,
    ids: list[int],
    reasons: dict[int, str] | None,
    field: str,
    transition: str,
    at: dt.datetime,
    related: tuple = (),
    only: tuple = (),
    reason_field: str = "",
) -> int:
    """Sets a dated flag (not a state) on rows not yet flagged, journaled like a move, with its
    reason per row when `reasons` is given (kept in `reason_field`). `related` and `only`: what
    the journal's `str(row)` reads, joined and loaded alone. One transaction: the rows locked
    by one streamed read (those another sweep holds skipped), one UPDATE, one journal insert."""
    if not ids:
        return 0
    reasons = reasons or {}
    snapshot = {"at": at.isoformat()}
    with transaction.atomic():
        manager = model._default_manager
        rows = (
            (manager.select_related(*related) if related else manager.all())
            .select_for_update(no_key=True, skip_locked=True, of=("self",))
            .filter(any_of("pk", ids), **{f"{field}__isnull": True})
            .only("pk", "status", *only)
            .order_by("pk")
        )
        pks, lines = [], []
        with streamed(rows) as stream:
            for row in stream:
                reason = reasons.get(row.pk, "")
                pks.append(row.pk)
                lines.append(
                    Line.for_object(row, transition, row.status, row.status, reason, snapshot)
                )
        per_row = {reason_field: [reasons.get(pk, "") for pk in pks]} if reason_field else {}
        update_rows(model, pks, same={field: at}, varying=per_row)
        record_lines(lines, actor=SWEEPER)
    return len(pks)


WITHDRAWN_BY_SWEEP = (
    "Retrait d'office : pas de réponse au conflit de financement dans les 10 jours ouvrés."
)


def _end_conflict_windows(at: dt.datetime) -> dict[str, int]:
    """Each vendor that did not answer within its own 10 working days loses the client: its
    order is cancelled as `sons.services.orders.cancel_order` does. A conflict whose every
    window is over then expires when at most one vendor still claims the client, or awaits the
    administration's decision when more than one kept its order (SONS.md, step 3: none is
    financed until then). One transaction for every conflict touched, a fixed number of
    statements."""
    counts = {"expire_conflict": 0, "await_decision": 0}
    touched = set(silent_positions(at=at).values_list("conflict_id", flat=True))
    touched |= set(expired_conflicts(at=at).values_list("pk", flat=True))
    if not touched:
        return counts
    touched = sorted(touched)
    with transaction.atomic():
        # The lock order (core.transitions): the orders, then their conflicts. The orders
        # are waited for, as cancel_order would: a vendor answering now is not overtaken.
        list(
            PurchaseOrder.objects.select_for_update(no_key=True)
            .filter(
                pk__in=silent_positions(at=at)
                .filter(any_of("conflict_id", touched))
                .values("order_id")
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        held = list(
            ClientConflict.objects.select_for_update(no_key=True, skip_locked=True)
            .filter(any_of("pk", touched), status=ConflictStatus.OPEN)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # Read again under the locks: the answers given meanwhile count.
        silent = list(
            silent_positions(at=at)
            .filter(any_of("conflict_id", held))
            .order_by("order_id")
            .values_list("order_id", flat=True)
        )
        apply_transition_set(
            PurchaseOrder,
            silent,
            "cancel",
            actor=SWEEPER,
            reason=lambda o: WITHDRAWN_BY_SWEEP,
            snapshot=lambda o: {"at": at.isoformat(), "client_renunciation": ""},
            arguments=lambda o: {
                "at": at,
                "sworn_statement": WITHDRAWN_BY_SWEEP,
                "client_renunciation": "",
            },
            skip_from=[OrderStatus.CONDITIONAL, OrderStatus.SIGNED],
            related=("client",),
        )
        # The windows over, after the withdrawals: who still claims the client, judged on
        # each locked conflict. Only those whose every window is over (a silent vendor's may
        # end first).
        ended = list(
            expired_conflicts(at=at)
            .filter(any_of("pk", held))
            .order_by("pk")
            .values_list("pk", flat=True)
        )

        def outcome(conflict: ClientConflict) -> str:
            if len(conflict.kept_orders()) > 1:
                counts["await_decision"] += 1
                return "await_decision"
            counts["expire_conflict"] += 1
            return "expire"

        apply_transition_set(
            ClientConflict,
            ended,
            outcome,
            actor=SWEEPER,
            arguments=lambda c: {"at": at},
            snapshot=lambda c: {
                "at": at.isoformat(),
                "respond_by": c.respond_by.isoformat(),
                "kept_orders": [o.pk for o in c.kept_orders()],
            },
            skip_from=[ConflictStatus.OPEN],
            related=("client", "dispositif"),
            prefetch=("positions__order",),
        )
    return counts


RECOVERY_REASON = "Ouvert par le balayage des échéances."


def _open_recoveries(at: dt.datetime) -> int:
    """Opens the recoveries due as `payments.services.recovery.open_recovery` does (the same
    amounts, rows, journal entries and order transition), in one transaction: the orders found
    due are locked by one statement (an order another sweep holds is skipped), judged again
    with their amounts by a statement that starts after the locks (one settled meanwhile is no
    longer due), their recoveries inserted by one statement and journaled by one, then the
    orders moved in recovery by one set transition."""
    due = _due_for_recovery(at)
    candidates = list(due.values_list("pk", flat=True))
    if not candidates:
        return 0
    with transaction.atomic():
        # The rule is judged by the next statement, after the locks: this one only locks.
        locked = list(
            PurchaseOrder.objects.filter(any_of("pk", candidates))
            .select_for_update(no_key=True, skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # Judged again, with the amounts, by a statement that starts after the locks: a
        # signature or a payment committed while they were taken counts.
        amounts = (
            with_recovery_amounts(due.filter(any_of("pk", locked)))
            .only("pk", "status", "dispositif_id")
            .order_by("pk")
        )
        columns: dict[str, list] = {
            "order_id": [],
            "dispositif_id": [],  # the order's (sons.models.parts: no save() here)
            "cause": [],
            "received_cents": [],
            "offset_cents": [],
            "amount_cents": [],
        }
        named, starting = [], []  # each recovery's name in the journal; the orders to move
        probe = Recovery(opened_at=at, reason=RECOVERY_REASON)
        with streamed(amounts) as stream:
            for order in stream:
                received, offset = recovery_amounts(order)
                if received - offset <= 0:
                    logger.info(
                        "sweep_recovery_skipped order_id=%s code=nothing_to_recover", order.pk
                    )
                    continue
                for name, value in (
                    ("order_id", order.pk),
                    ("dispositif_id", order.dispositif_id),
                    ("cause", order.cause),
                    ("received_cents", received),
                    ("offset_cents", offset),
                    ("amount_cents", received - offset),
                ):
                    columns[name].append(value)
                probe.order = order  # what its name reads (its order), the order not kept
                named.append(str(probe)[:255])
                if order.status != OrderStatus.IN_RECOVERY:
                    starting.append(order.pk)
        created = insert_rows(Recovery, columns, same={"opened_at": at, "reason": RECOVERY_REASON})
        content_type = ContentType.objects.get_for_model(Recovery)
        record_lines(
            [
                Line(
                    content_type,
                    str(pk),
                    name,
                    "open",
                    "",
                    probe.status,
                    RECOVERY_REASON,
                    {"received_cents": received, "offset_cents": offset, "cause": cause},
                )
                for pk, name, cause, received, offset in zip(
                    created,
                    named,
                    columns["cause"],
                    columns["received_cents"],
                    columns["offset_cents"],
                    strict=True,
                )
            ],
            actor=SWEEPER,
        )
        del columns, named
        apply_transition_set(
            PurchaseOrder,
            starting,
            "start_recovery",
            actor=SWEEPER,
            reason=lambda o: RECOVERY_REASON,
            snapshot=lambda o: {"at": at.isoformat()},
            arguments=lambda o: {"at": at},
            related=("client",),
        )
    return len(created)
