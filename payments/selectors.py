"""Readers of payments: each rule about claims and recoveries written once, as a condition over a
set of rows. The per-object answer is the same condition read on one row (or a pure function the
condition is built from): the sweep, the services, the portal, the dashboard and the reminders
all call these."""

from __future__ import annotations

import datetime as dt
import functools
import operator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Subquery, Sum, Value, When

from catalogue.deadlines import DeadlineKind, format_deadline
from catalogue.models import Dispositif
from catalogue.selectors import AppliedDeadline, passed_deadlines
from sons.models import OrderStatus, PurchaseOrder
from sons.selectors import accepted, realisation_missed

from .models import (
    FILED_CLAIM_STATUSES,
    LIVE_CLAIM_STATUSES,
    LIVE_RECOVERY_STATUSES,
    UNFILED_CLAIM_STATUSES,
    ClaimKind,
    ClaimStatus,
    PaymentClaim,
    Recovery,
    RecoveryCause,
)

# -- filings and their deadlines ----------------------------------------------------------------

# Which deadline closes the filing of each kind of claim.
FILING_DEADLINES = (
    ([ClaimKind.AVANCE], DeadlineKind.ADVANCES),
    ([ClaimKind.SOLDE, ClaimKind.SECONDAIRE, ClaimKind.COMPENSATION], DeadlineKind.SOLDES),
)


def kinds_in_filing(kind: str) -> list[str]:
    """The claim kinds a filing of `kind` carries: a solde filing also carries the
    compensations of the clients removed from its périmètre."""
    return [ClaimKind.SOLDE, ClaimKind.COMPENSATION] if kind == ClaimKind.SOLDE else [kind]


def filing_kind_of(claim_kind: str) -> str:
    """The kind of filing a claim of `claim_kind` travels in."""
    return ClaimKind.SOLDE if claim_kind == ClaimKind.COMPENSATION else claim_kind


def filing_deadlines(applied: dict[str, AppliedDeadline]) -> dict[str, AppliedDeadline | None]:
    """For each kind of claim, the filing deadline in force, from a calendar already read."""
    return {
        kind: applied.get(deadline_kind)
        for kinds, deadline_kind in FILING_DEADLINES
        for kind in kinds
    }


def unfiled_claims() -> QuerySet[PaymentClaim]:
    """Claims still to file: not filed by the vendor, not marked late (by the sweep, or by a
    filing that left them out)."""
    return PaymentClaim.objects.filter(
        status__in=UNFILED_CLAIM_STATUSES, deadline_missed_at__isnull=True
    )


def filing_late_reason(deadline: AppliedDeadline) -> str:
    """Why a claim is late against `deadline`, as the claim, the journal and the vendor read it."""
    return (
        f"{DeadlineKind(deadline.kind).label} le {format_deadline(deadline.at)} "
        f"({deadline.version.legal_reference})"
    )


def filing_deadline_conditions(
    claims: QuerySet[PaymentClaim], at: dt.datetime
) -> list[tuple[Q, str]]:
    """THE rule « the filing deadline has passed » (SONS.md, life of a Prestation, step 4: the
    instant that counts is the deposit at the ASP): for the dispositifs of `claims`, a condition
    on the claims (and the rule behind it) per dispositif and kind of deadline whose deadline in
    force at `at` has passed by `at`. One calendar lookup per dispositif, never one per claim."""
    due = []
    dispositifs = Dispositif.objects.filter(
        Exists(claims.order_by().filter(dispositif=OuterRef("pk")))
    )
    for kinds, deadline_kind in FILING_DEADLINES:
        for dispositif, deadline in passed_deadlines(
            dispositifs=dispositifs, kind=deadline_kind, at=at
        ):
            due.append((Q(dispositif=dispositif, kind__in=kinds), filing_late_reason(deadline)))
    return due


def past_filing_deadline(claims: QuerySet[PaymentClaim], at: dt.datetime) -> QuerySet:
    """Those of `claims` whose filing deadline in force at `at` has passed (`at` being the
    instant they would be deposited), each with its reason (`filing_late_reason`), in one
    query. The sweep, the building and the transmission of a filing and the `submit` guard
    read this one rule."""
    conditions = filing_deadline_conditions(claims, at)
    if not conditions:
        return claims.none().annotate(filing_late_reason=Value(""))
    reason = Case(*(When(condition, then=Value(r)) for condition, r in conditions), default=None)
    return claims.filter(functools.reduce(operator.or_, [c for c, _r in conditions])).annotate(
        filing_late_reason=reason
    )


# Answers of `past_filing_deadline` already read for a set of claims at one instant (see
# `filing_deadlines_judged`): (instant, ids judged, {id: reason} of the late ones).
_JUDGED: ContextVar[tuple[dt.datetime, frozenset[int], dict[int, str]] | None] = ContextVar(
    "payments_filing_deadlines_judged", default=None
)


@contextmanager
def filing_deadlines_judged(claims: QuerySet[PaymentClaim], at: dt.datetime):
    """Judges `claims` once with `past_filing_deadline` at `at` (one query) and, inside the
    block, gives each of them that answer when `filing_deadline_missed` is asked about it at
    the same instant: a bulk `submit` judges its guard on every row without a query per row.
    Yields {id: reason} of the late ones. Call it under the claims' locks."""
    ids = frozenset(claims.values_list("pk", flat=True))
    late = dict(past_filing_deadline(claims, at).values_list("pk", "filing_late_reason"))
    token = _JUDGED.set((at, ids, late))
    try:
        yield late
    finally:
        _JUDGED.reset(token)


def filing_deadline_missed(claim: PaymentClaim, at: dt.datetime) -> str | None:
    """The per-claim answer: `past_filing_deadline` on one row (or its answer for the set the
    row was judged with, at the same instant). The reason when late at `at`, else None."""
    judged = _JUDGED.get()
    if judged is not None and judged[0] == at and claim.pk in judged[1]:
        return judged[2].get(claim.pk)
    return (
        past_filing_deadline(PaymentClaim.objects.filter(pk=claim.pk), at)
        .values_list("filing_late_reason", flat=True)
        .first()
    )


def late_claim_conditions(at: dt.datetime) -> list[tuple[Q, str]]:
    """Unfiled claims whose filing deadline in force has passed at `at` (the sweep): the
    conditions of `filing_deadline_conditions` over `unfiled_claims`."""
    return filing_deadline_conditions(unfiled_claims(), at)


def late_claims(at: dt.datetime) -> QuerySet[PaymentClaim]:
    """The unfiled claims whose filing deadline has passed at `at` (the sweep marks them)."""
    return past_filing_deadline(unfiled_claims(), at)


# -- which orders a claim may be opened on --------------------------------------------------------


def live_claim(kind: str) -> Exists:
    """The outer order holds a live claim of `kind` (one per order and kind: a second is
    refused, the database says so too)."""
    return Exists(
        PaymentClaim.objects.filter(
            order=OuterRef("pk"), kind=kind, status__in=LIVE_CLAIM_STATUSES, amends__isnull=True
        )
    )


def filed_claim(kinds: list[str]) -> Exists:
    """The outer order has a claim of one of `kinds` in the agency's hands."""
    return Exists(
        PaymentClaim.objects.filter(
            order=OuterRef("pk"), kind__in=kinds, status__in=FILED_CLAIM_STATUSES
        )
    )


def avance_order_states(*, allows_conditional: bool) -> list[str]:
    """The order states that admit an avance: signed, or signed under condition of referencing
    where the dispositif admits such orders (`Dispositif.allows_conditional_orders`)."""
    if allows_conditional:
        return [OrderStatus.SIGNED, OrderStatus.CONDITIONAL]
    return [OrderStatus.SIGNED]


def admitting_avance(orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
    """Those of `orders` whose state admits an avance (`avance_order_states`, as a condition)."""
    return orders.filter(
        Q(
            dispositif__conditional_window_amount__isnull=True,
            status__in=avance_order_states(allows_conditional=False),
        )
        | Q(
            dispositif__conditional_window_amount__isnull=False,
            status__in=avance_order_states(allows_conditional=True),
        )
    )


def claimable(orders: QuerySet[PurchaseOrder], kind: str) -> QuerySet[PurchaseOrder]:
    """Those of `orders` a claim of `kind` may be opened on: no live claim of that kind, and for
    an avance a state that admits one, for a solde or a secondary prestation a signed order
    whose delivery is accepted (`sons.selectors.accepted`). The other rules (deadlines, gates,
    conflict, invoice) are what `claim_blockers` and the claim's guards then say of each."""
    orders = orders.exclude(live_claim(kind))
    if kind == ClaimKind.AVANCE:
        return admitting_avance(orders)
    return accepted(orders.filter(status=OrderStatus.SIGNED))


# -- recovery ---------------------------------------------------------------------------------


def with_recovery_amounts(orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
    """Each order with what the agency paid for it and what was offset since (two sums in one
    query); `recovery_amounts` reads them."""
    claims = PaymentClaim.objects.filter(order=OuterRef("pk")).order_by().values("order")
    received = (
        claims.filter(status=ClaimStatus.PAID)
        .exclude(kind=ClaimKind.COMPENSATION)
        .annotate(total=Sum("paid_amount_cents"))
        .values("total")
    )
    offset = (
        claims.filter(kind=ClaimKind.COMPENSATION, status__in=FILED_CLAIM_STATUSES)
        .annotate(total=Sum("amount_ttc_cents"))
        .values("total")
    )
    return orders.annotate(recovery_received=Subquery(received), recovery_offset=Subquery(offset))


def recovery_amounts(order: PurchaseOrder) -> tuple[int, int]:
    """(received, offset) of an order read through `with_recovery_amounts`."""
    return order.recovery_received or 0, -(order.recovery_offset or 0)


def solde_filed() -> QuerySet[PaymentClaim]:
    """The solde of the outer order (`OuterRef("pk")`) filed with the ASP, `submitted_at`
    saying when: evidence of completion by the end of réalisation (sons.selectors)."""
    return PaymentClaim.objects.filter(
        order=OuterRef("pk"), kind=ClaimKind.SOLDE, status__in=FILED_CLAIM_STATUSES
    )


def due_for_recovery(orders: QuerySet[PurchaseOrder], *, at: dt.datetime) -> QuerySet:
    """Those of `orders` whose recovery should be opened at `at`, each with its `cause`: a paid
    avance, no recovery under way, and either a default of the vendor, an order cancelled or
    set aside by a conflict decision (no prestation will be financed: what was received goes
    back), or a missed réalisation (`sons.selectors.realisation_missed`: neither completion
    notified nor solde filed in time). The sweep opens them; `open_recovery` checks one."""
    paid_advance = PaymentClaim.objects.filter(
        order=OuterRef("pk"), kind=ClaimKind.AVANCE, status=ClaimStatus.PAID
    )
    under_way = Recovery.objects.filter(order=OuterRef("pk"), status__in=LIVE_RECOVERY_STATUSES)
    candidates = orders.filter(Exists(paid_advance)).exclude(Exists(under_way))
    cause = Case(
        When(status=OrderStatus.DEFAULTED, then=Value(RecoveryCause.DEFAULT.value)),
        When(status=OrderStatus.CANCELLED, then=Value(RecoveryCause.CANCELLED.value)),
        default=Value(RecoveryCause.REALISATION.value),
    )
    # One WHERE: the conditions OR-ed on the same rows, no sub-select of keys.
    due = candidates.filter(
        status__in=[OrderStatus.DEFAULTED, OrderStatus.CANCELLED]
    ) | realisation_missed(candidates, at=at)
    return due.annotate(cause=cause).order_by("pk")
