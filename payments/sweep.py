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
from django.db.models import QuerySet

from catalogue.deadlines import DeadlineKind, format_paris
from catalogue.models import Dispositif
from catalogue.selectors import passed_deadlines
from core.errors import RuleViolation
from core.journal import Change, record_transitions
from core.transitions import apply_transition_many
from sons.models import (
    ClientConflict,
    ConflictStatus,
    Decision,
    OrderStatus,
    PurchaseOrder,
)
from sons.selectors import orders_missing_firm_date

from .models import ClaimKind, ClaimStatus, PaymentClaim
from .services import recovery

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


def _lapsing(at: dt.datetime) -> QuerySet[PurchaseOrder]:
    return PurchaseOrder.objects.filter(status=OrderStatus.CONDITIONAL, conditional_until__lte=at)


def _unflagged_without_firm_date(at: dt.datetime) -> QuerySet[PurchaseOrder]:
    return orders_missing_firm_date(at=at).filter(firm_date_flagged_at__isnull=True)


def _expired_conflicts(at: dt.datetime) -> QuerySet[ClientConflict]:
    return ClientConflict.objects.filter(status=ConflictStatus.OPEN, respond_by__lte=at)


def _unfileable_claims(at: dt.datetime) -> list[tuple[PaymentClaim, str]]:
    """Claims not yet filed whose filing deadline in force has passed, per dispositif."""
    due = []
    open_claims = PaymentClaim.objects.filter(
        status__in=[ClaimStatus.DRAFT, ClaimStatus.READY], deadline_missed_at__isnull=True
    )
    with_open_claims = Dispositif.objects.filter(orders__claims__in=open_claims)
    for kinds, deadline_kind in (
        ([ClaimKind.AVANCE], DeadlineKind.ADVANCES),
        ([ClaimKind.SOLDE, ClaimKind.SECONDAIRE, ClaimKind.COMPENSATION], DeadlineKind.SOLDES),
    ):
        for dispositif, deadline in passed_deadlines(
            dispositifs=with_open_claims, kind=deadline_kind, at=at
        ):
            reason = (
                f"{DeadlineKind(deadline_kind).label} le {format_paris(deadline.at)} "
                f"({deadline.version.legal_reference})"
            )
            due.extend(
                (c, reason)
                for c in open_claims.filter(order__dispositif=dispositif, kind__in=kinds)
            )
    return due


def plan(at: dt.datetime) -> list[Move]:
    """Everything the sweep would move at `at`, with the rule that makes each move due."""
    moves = [
        Move(
            "lapse",
            str(o),
            o.pk,
            f"référencement attendu avant le {format_paris(o.conditional_until)}",
        )
        for o in _lapsing(at)
    ]
    moves += [
        Move("flag_firm_date", str(o), o.pk, "date ferme non confirmée après l'échéance")
        for o in _unflagged_without_firm_date(at)
    ]
    for conflict in _expired_conflicts(at):
        moves.append(
            Move(
                "expire_conflict",
                str(conflict),
                conflict.pk,
                f"réponses dues avant le {format_paris(conflict.respond_by)}",
            )
        )
        moves += [
            Move("lose_client", str(p.order), p.order_id, "pas de réponse dans les 10 jours ouvrés")
            for p in conflict.positions.filter(decision=Decision.PENDING).select_related("order")
        ]
    moves += [
        Move("open_recovery", str(o), o.pk, f"cause : {cause}")
        for o, cause in recovery.recoveries_due(at=at)
    ]
    moves += [
        Move("claim_deadline_missed", str(c), c.pk, reason) for c, reason in _unfileable_claims(at)
    ]
    return moves


# -- moving -----------------------------------------------------------------------------------


def sweep(at: dt.datetime) -> dict[str, int]:
    """Applies every due move at `at`; returns how many objects each step moved."""
    counts = {
        "lapse": _move_in_chunks(
            PurchaseOrder,
            list(_lapsing(at).values_list("pk", flat=True)),
            "lapse",
            [OrderStatus.CONDITIONAL],
            lambda o: {"at": at},
            lambda o: {"at": at.isoformat(), "conditional_until": o.conditional_until.isoformat()},
        ),
        "flag_firm_date": _flag(
            PurchaseOrder,
            list(_unflagged_without_firm_date(at).values_list("pk", flat=True)),
            "firm_date_flagged_at",
            "flag_missing_firm_date",
            at,
        ),
        "expire_conflict": _expire_conflicts(at),
        "open_recovery": _open_recoveries(at),
        "claim_deadline_missed": _flag(
            PaymentClaim,
            [c.pk for c, _reason in _unfileable_claims(at)],
            "deadline_missed_at",
            "flag_deadline_missed",
            at,
        ),
    }
    logger.info("sweep at=%s %s", at.isoformat(), " ".join(f"{k}={v}" for k, v in counts.items()))
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
            )
        )
    return moved


def _flag(model, ids: list[int], field: str, transition: str, at: dt.datetime) -> int:
    """Sets a dated flag (not a state) on rows not yet flagged, journaled like a move."""
    flagged = 0
    for chunk in _chunks(ids):
        with transaction.atomic():
            rows = list(
                model._default_manager.select_for_update(skip_locked=True)
                .filter(pk__in=chunk, **{f"{field}__isnull": True})
                .order_by("pk")
            )
            model._default_manager.filter(pk__in=[r.pk for r in rows]).update(**{field: at})
            record_transitions(
                [
                    Change(r, transition, r.status, r.status, "", {"at": at.isoformat()})
                    for r in rows
                ],
                actor=SWEEPER,
            )
            flagged += len(rows)
    return flagged


def _expire_conflicts(at: dt.datetime) -> int:
    """After 10 working days, a vendor that did not answer loses the client."""
    from sons.services.orders import cancel_order

    expired = 0
    for conflict_id in _expired_conflicts(at).values_list("pk", flat=True):
        with transaction.atomic():
            conflict = (
                ClientConflict.objects.select_for_update(skip_locked=True)
                .filter(pk=conflict_id, status=ConflictStatus.OPEN)
                .first()
            )
            if conflict is None:
                continue
            for position in conflict.positions.filter(decision=Decision.PENDING).select_related(
                "order"
            ):
                if position.order.status in (OrderStatus.CONDITIONAL, OrderStatus.SIGNED):
                    cancel_order(
                        order=position.order,
                        actor=SWEEPER,
                        sworn_statement=(
                            "Retrait d'office : pas de réponse au conflit de financement dans "
                            "les 10 jours ouvrés."
                        ),
                        at=at,
                    )
            apply_transition_many(
                ClientConflict,
                [conflict.pk],
                "expire",
                actor=SWEEPER,
                arguments=lambda c: {"at": at},
                snapshot=lambda c: {"at": at.isoformat(), "respond_by": c.respond_by.isoformat()},
                skip_from=[ConflictStatus.OPEN],
            )
            expired += 1
    return expired


def _open_recoveries(at: dt.datetime) -> int:
    opened = 0
    for order, cause in recovery.recoveries_due(at=at):
        try:
            recovery.open_recovery(
                order=order,
                cause=cause,
                reason="Ouvert par le balayage des échéances.",
                actor=SWEEPER,
                at=at,
            )
        except RuleViolation as exc:  # another sweep opened it first: nothing to do
            logger.info("sweep_recovery_skipped order_id=%s code=%s", order.pk, exc.code)
            continue
        opened += 1
    return opened
