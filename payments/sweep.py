"""The deadline sweep: every move the calendars in force make due at an instant.

Each step selects with queries, then moves rows in chunks under `select_for_update(skip_locked)`
through the same transitions as the services, journaling each move; a row another sweep holds or
has already moved is skipped, so two sweeps at once never move a row twice. `plan` lists what
would move and why without writing (`--dry-run`); `--at` judges as of another instant.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, QuerySet, Value, When

from catalogue.deadlines import format_deadline, format_paris
from core.journal import Change, record_transitions
from core.models import RoutineRun
from core.transitions import apply_transition_many
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
CHUNK = 1000


@dataclass(frozen=True)
class Move:
    """One object the sweep moves (or would move), and the rule that makes it due."""

    step: str
    label: str
    object_id: int
    reason: str


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


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

    Every step selects its rows in one query, then works in chunks of CHUNK rows with a fixed
    number of statements per chunk: the queries grow by a few per thousand rows moved, never by
    one per row."""
    counts = {
        "lapse": _move_in_chunks(
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


def _move_in_chunks(model, ids, name, sources, arguments: Callable, snapshot: Callable) -> int:
    moved = 0
    for chunk in _chunks(ids):
        moved += len(
            apply_transition_many(
                model,
                chunk,
                name,
                actor=SWEEPER,
                arguments=arguments,
                snapshot=snapshot,
                skip_from=sources,
                related=("client",),
            )
        )
    return moved


def reason_per_row(reasons: dict[int, str]) -> Case:
    """One UPDATE's value for each row's reason: a case per distinct reason (one per rule
    that made rows due), never a statement per row or per reason."""
    by_reason: dict[str, list[int]] = {}
    for pk, reason in reasons.items():
        by_reason.setdefault(reason, []).append(pk)
    return Case(
        *(When(pk__in=pks, then=Value(reason)) for reason, pks in by_reason.items()),
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
    the journal's `str(row)` reads, joined and loaded alone."""
    reasons = reasons or {}
    flagged = 0
    for chunk in _chunks(ids):
        with transaction.atomic():
            manager = model._default_manager
            rows = list(
                (manager.select_related(*related) if related else manager.all())
                .select_for_update(no_key=True, skip_locked=True, of=("self",))
                .filter(pk__in=chunk, **{f"{field}__isnull": True})
                .only("pk", "status", *only)
                .order_by("pk")
            )
            marks = {field: at}
            if reason_field and rows:
                marks[reason_field] = reason_per_row({r.pk: reasons.get(r.pk, "") for r in rows})
            model._default_manager.filter(pk__in=[r.pk for r in rows]).update(**marks)
            record_transitions(
                [
                    Change(
                        r,
                        transition,
                        r.status,
                        r.status,
                        reasons.get(r.pk, ""),
                        {"at": at.isoformat()},
                    )
                    for r in rows
                ],
                actor=SWEEPER,
            )
            flagged += len(rows)
    return flagged


WITHDRAWN_BY_SWEEP = (
    "Retrait d'office : pas de réponse au conflit de financement dans les 10 jours ouvrés."
)


def _end_conflict_windows(at: dt.datetime) -> dict[str, int]:
    """Each vendor that did not answer within its own 10 working days loses the client: its
    order is cancelled as `sons.services.orders.cancel_order` does. A conflict whose every
    window is over then expires when at most one vendor still claims the client, or awaits the
    administration's decision when more than one kept its order (SONS.md, step 3: none is
    financed until then). A thousand conflicts at a time, a fixed number of statements each."""
    counts = {"expire_conflict": 0, "await_decision": 0}
    touched = set(silent_positions(at=at).values_list("conflict_id", flat=True))
    touched |= set(expired_conflicts(at=at).values_list("pk", flat=True))
    for chunk in _chunks(sorted(touched)):
        with transaction.atomic():
            # The lock order (core.transitions): the orders, then their conflicts. The orders
            # are waited for, as cancel_order would: a vendor answering now is not overtaken.
            list(
                PurchaseOrder.objects.select_for_update(no_key=True)
                .filter(
                    pk__in=silent_positions(at=at).filter(conflict_id__in=chunk).values("order_id")
                )
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            held = list(
                ClientConflict.objects.select_for_update(no_key=True, skip_locked=True)
                .filter(pk__in=chunk, status=ConflictStatus.OPEN)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            # Read again under the locks: the answers given meanwhile count.
            silent = list(
                silent_positions(at=at)
                .filter(conflict_id__in=held)
                .order_by("order_id")
                .values_list("order_id", flat=True)
            )
            apply_transition_many(
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
            # The windows over, after the withdrawals: who still claims the client.
            # Only those whose every window is over (a silent vendor's may end first).
            ended = list(
                expired_conflicts(at=at)
                .filter(pk__in=held)
                .prefetch_related("positions__order")
                .order_by("pk")
            )
            several = [c.pk for c in ended if len(c.kept_orders()) > 1]
            for step, name, ids in (
                ("expire_conflict", "expire", [c.pk for c in ended if c.pk not in several]),
                ("await_decision", "await_decision", several),
            ):
                counts[step] += len(
                    apply_transition_many(
                        ClientConflict,
                        ids,
                        name,
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
                )
    return counts


RECOVERY_REASON = "Ouvert par le balayage des échéances."


def _open_recoveries(at: dt.datetime) -> int:
    """Opens the recoveries due as `payments.services.recovery.open_recovery` does (the same
    amounts, rows, journal entries and order transition), a thousand orders at a time. Each
    chunk's orders are locked by the query that judges the rule again and sums their amounts:
    an order another sweep holds is skipped, one it has just settled is no longer due."""
    opened = 0
    due = _due_for_recovery(at)
    for chunk in _chunks(list(due.values_list("pk", flat=True))):
        with transaction.atomic():
            locked = list(
                due.filter(pk__in=chunk)
                .select_for_update(no_key=True, skip_locked=True, of=("self",))
                .values_list("pk", flat=True)
            )
            # Judged again, with the amounts, by a statement that starts after the locks: a
            # signature or a payment committed while they were taken counts.
            orders = list(
                with_recovery_amounts(due.filter(pk__in=locked)).only("pk", "status").order_by("pk")
            )
            rows = []
            for order in orders:
                received, offset = recovery_amounts(order)
                if received - offset <= 0:
                    logger.info(
                        "sweep_recovery_skipped order_id=%s code=nothing_to_recover", order.pk
                    )
                    continue
                rows.append(
                    Recovery(
                        order=order,
                        cause=order.cause,
                        received_cents=received,
                        offset_cents=offset,
                        amount_cents=received - offset,
                        opened_at=at,
                        reason=RECOVERY_REASON,
                    )
                )
            created = Recovery.objects.bulk_create(rows)
            record_transitions(
                [
                    Change(
                        r,
                        "open",
                        "",
                        r.status,
                        RECOVERY_REASON,
                        {
                            "received_cents": r.received_cents,
                            "offset_cents": r.offset_cents,
                            "cause": r.cause,
                        },
                    )
                    for r in created
                ],
                actor=SWEEPER,
            )
            apply_transition_many(
                PurchaseOrder,
                [r.order_id for r in created if r.order.status != OrderStatus.IN_RECOVERY],
                "start_recovery",
                actor=SWEEPER,
                reason=lambda o: RECOVERY_REASON,
                snapshot=lambda o: {"at": at.isoformat()},
                arguments=lambda o: {"at": at},
                related=("client",),
            )
            opened += len(created)
    return opened
