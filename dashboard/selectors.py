"""Readers of the administrators' dashboard: aggregates and LIMITed lists, never a loop over rows.

Every count is one aggregate query per model (`values(...).annotate(Count)`), every chart one
`TruncWeek` aggregate; the lists are querysets the views slice and the exports stream.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Case, Count, OuterRef, Q, QuerySet, Subquery, Sum, When
from django.db.models.functions import TruncWeek
from django.utils.translation import gettext as _

from catalogue.deadlines import PARIS, DeadlineKind, is_in_time
from catalogue.models import Deadline, Dispositif
from catalogue.selectors import AppliedDeadline, calendar_history
from payments.models import (
    LIVE_RECOVERY_STATUSES,
    ClaimStatus,
    PaymentClaim,
    Recovery,
    RecoveryStatus,
)
from payments.selectors import filing_deadlines, unfiled_claims
from sons.models import (
    ClientConflict,
    ConflictStatus,
    Deployment,
    DeploymentStatus,
    OrderStatus,
    PurchaseOrder,
    VaDecision,
    VaStatus,
    VerificationAptitude,
)
from sons.selectors import conflicts_awaiting_decision, orders_at_risk

from .charts import Chart, Series, monday, weekly_chart
from .countdown import Countdown, countdown

# --- Calendar ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarLine:
    kind: str
    label: str
    deadline: AppliedDeadline | None
    countdown: Countdown | None
    announced: Deadline | None = None  # set by an announced version, not applied yet


def calendar_lines(
    applied: dict[str, AppliedDeadline],
    now: dt.datetime,
    *,
    announced: dict[str, Deadline] | None = None,
) -> list[CalendarLine]:
    """Every kind of deadline, in the order of the life of a prestation, as in force, with
    what an announced version (« arrêté à paraître ») would set, shown apart."""
    announced = announced or {}
    lines = []
    for kind in DeadlineKind:
        deadline = applied.get(kind.value)
        lines.append(
            CalendarLine(
                kind=kind.value,
                label=str(kind.label),
                deadline=deadline,
                countdown=countdown(deadline.at, now) if deadline else None,
                announced=announced.get(kind.value),
            )
        )
    return lines


def has_announced_version(dispositif: Dispositif) -> bool:
    return any(v.is_pending for v in dispositif.calendar_versions.all())


def next_deadline(lines: Iterable[CalendarLine]) -> CalendarLine | None:
    """The first deadline still ahead (None when every known deadline has passed)."""
    ahead = [line for line in lines if line.countdown and not line.countdown.passed]
    return min(ahead, key=lambda line: line.deadline.at) if ahead else None


@dataclass
class HistoryVersion:
    version: object
    deadlines: list[dict] = field(default_factory=list)


def history_with_moves(dispositif: Dispositif) -> list[HistoryVersion]:
    """Each calendar version, oldest first, and for each deadline it sets whether it moved one
    an earlier version had set (and from when)."""
    seen: dict[str, Deadline] = {}
    out = []
    for version in calendar_history(dispositif=dispositif):
        entry = HistoryVersion(version=version)
        for deadline in version.deadlines.all():
            before = seen.get(deadline.kind)
            moved = before is not None and before.at != deadline.at
            entry.deadlines.append(
                {
                    "label": deadline.get_kind_display(),
                    "at": deadline.at,
                    "shown": deadline.shown,
                    "moved_from": before.at if moved else None,
                    "moved_from_shown": before.shown if moved else "",
                }
            )
            if not version.is_pending:
                seen[deadline.kind] = deadline
        out.append(entry)
    return out


# --- Counts by state and weekly figures --------------------------------------------------------


@dataclass(frozen=True)
class StateCounts:
    key: str
    title: str
    rows: list[tuple[str, str, int]]  # (value, label, count) for every state, zeros included
    total: int


def _state_counts(key: str, title: str, found: dict[str, int], choices) -> StateCounts:
    rows = [(value, str(label), found.get(value, 0)) for value, label in choices]
    return StateCounts(key, title, rows, sum(found.values()))


def _week(field_name: str, *, until, instant: bool = True):
    """The Monday of the ISO week (Paris time) of `field_name` when it is at most `until`, else
    NULL: what a row adds to a weekly chart, computed in the GROUP BY of its counts."""
    week = TruncWeek(field_name, tzinfo=PARIS) if instant else TruncWeek(field_name)
    return Case(When(**{f"{field_name}__lte": until}, then=week), default=None)


@dataclass
class Figures:
    counts: list[StateCounts]
    charts: list[Chart]


def dispositif_figures(dispositif: Dispositif, at: dt.datetime) -> Figures:
    """The dispositif's orders, deployments, VA, claims and recoveries by state, and its weekly
    charts (orders signed, VA signed, money claimed and paid, up to `at`): one aggregate query
    per model, the counts and the chart of a model grouped together."""
    orders_by_week: dict[dt.date, int] = defaultdict(int)
    order_states: dict[str, int] = defaultdict(int)
    for status, week, n in (
        PurchaseOrder.objects.filter(dispositif=dispositif)
        .order_by()
        .values_list("status", _week("signed_at", until=at))
        .annotate(n=Count("pk"))
    ):
        order_states[status] += n
        if week is not None:
            orders_by_week[monday(week)] += n

    vas_by_week: dict[dt.date, int] = defaultdict(int)
    va_states: dict[str, int] = defaultdict(int)
    signed_decision = Q(decision__outcome=VaDecision.Outcome.SIGNED, decision__decided_at__lte=at)
    for status, week, n in (
        VerificationAptitude.objects.filter(order__dispositif=dispositif)
        .order_by()
        .values_list(
            "status",
            Case(
                When(signed_decision, then=TruncWeek("decision__decided_at", tzinfo=PARIS)),
                default=None,
            ),
        )
        .annotate(n=Count("pk"))
    ):
        va_states[status] += n
        if week is not None:
            vas_by_week[monday(week)] += n

    claimed: dict[dt.date, int] = defaultdict(int)
    paid: dict[dt.date, int] = defaultdict(int)
    claim_states: dict[str, int] = defaultdict(int)
    for status, filed_week, paid_week, n, amount, paid_amount in (
        PaymentClaim.objects.filter(order__dispositif=dispositif)
        .order_by()
        .values_list(
            "status",
            _week("submitted_at", until=at),
            _week("paid_on", until=at.astimezone(PARIS).date(), instant=False),
        )
        .annotate(n=Count("pk"), amount=Sum("amount_ttc_cents"), paid=Sum("paid_amount_cents"))
    ):
        claim_states[status] += n
        if filed_week is not None:
            claimed[monday(filed_week)] += amount or 0
        if paid_week is not None and paid_amount is not None:
            paid[monday(paid_week)] += paid_amount

    def states(queryset: QuerySet) -> dict[str, int]:
        return dict(queryset.order_by().values_list("status").annotate(n=Count("pk")))

    counts = [
        _state_counts("orders", _("Bons de commande (BDC)"), order_states, OrderStatus.choices),
        _state_counts(
            "deployments",
            _("Déploiements"),
            states(Deployment.objects.filter(order__dispositif=dispositif)),
            DeploymentStatus.choices,
        ),
        _state_counts("vas", _("Vérifications d'aptitude (VA)"), va_states, VaStatus.choices),
        _state_counts("claims", _("Demandes de paiement"), claim_states, ClaimStatus.choices),
        _state_counts(
            "recoveries",
            _("Recouvrements"),
            states(Recovery.objects.filter(order__dispositif=dispositif)),
            RecoveryStatus.choices,
        ),
    ]
    charts = [
        weekly_chart(
            "orders",
            _("BDC signés par semaine"),
            [Series(_("BDC signés"), "series-a", orders_by_week)],
        ),
        weekly_chart(
            "vas", _("VA signées par semaine"), [Series(_("VA signées"), "series-a", vas_by_week)]
        ),
        weekly_chart(
            "money",
            _("Montants demandés et payés par semaine (TTC)"),
            [
                Series(_("Demandé (dépôt à l'ASP)"), "series-a", claimed),
                Series(_("Payé par l'ASP"), "series-b", paid),
            ],
            money=True,
        ),
    ]
    return Figures(counts=counts, charts=charts)


def overview(at: dt.datetime) -> dict[int, dict[str, int]]:
    """Per dispositif: orders, live orders, orders at risk, conflicts running, recoveries open
    (one grouped query per figure, whatever the number of dispositifs)."""
    figures: dict[int, dict[str, int]] = {}

    def add(name: str, rows) -> None:
        for dispositif_id, n in rows:
            figures.setdefault(dispositif_id, {})[name] = n

    add(
        "orders",
        PurchaseOrder.objects.order_by()
        .values_list("dispositif")
        .annotate(n=Count("pk"))
        .values_list("dispositif", "n"),
    )
    add(
        "at_risk",
        orders_at_risk(at=at, dispositifs=Dispositif.objects.only("pk"))
        .order_by()
        .values_list("dispositif")
        .annotate(n=Count("pk"))
        .values_list("dispositif", "n"),
    )
    add(
        "conflicts",
        ClientConflict.objects.filter(status=ConflictStatus.OPEN)
        .order_by()
        .values_list("dispositif")
        .annotate(n=Count("pk"))
        .values_list("dispositif", "n"),
    )
    add(
        "conflicts_to_decide",
        conflicts_awaiting_decision()
        .order_by()
        .values_list("dispositif")
        .annotate(n=Count("pk"))
        .values_list("dispositif", "n"),
    )
    add(
        "recoveries",
        Recovery.objects.filter(status__in=LIVE_RECOVERY_STATUSES)
        .order_by()
        .values_list("order__dispositif")
        .annotate(n=Count("pk"))
        .values_list("order__dispositif", "n"),
    )
    return figures


# --- Lists -------------------------------------------------------------------------------------


def at_risk_orders(dispositif: Dispositif, at: dt.datetime) -> QuerySet[PurchaseOrder]:
    """The dispositif's orders at risk (the one rule: `sons.selectors.orders_at_risk`), with
    the firm date of their live deployment, if any. Lists are in the order of their keys (the
    BDC reference), so that a page or a capped count stops at its LIMIT instead of sorting
    every matching row first."""
    firm_date = Deployment.objects.live().filter(order=OuterRef("pk")).values("firm_date")[:1]
    # Only the key of the dispositif: the selector de-duplicates dispositifs joined to their
    # orders, and comparing whole rows (long texts) costs more than the rest of the query.
    return (
        orders_at_risk(at=at, dispositifs=Dispositif.objects.filter(pk=dispositif.pk).only("pk"))
        .select_related("vendor", "client")
        .annotate(firm_date=Subquery(firm_date))
        .order_by("pk")
    )


def claims_to_file(
    dispositif: Dispositif, at: dt.datetime, applied: dict[str, AppliedDeadline]
) -> QuerySet[PaymentClaim]:
    """Claims still to file (`payments.selectors.unfiled_claims`) whose filing deadline in
    force is still ahead (or not published yet)."""
    deadlines = filing_deadlines(applied)
    open_kinds = [kind for kind, d in deadlines.items() if d is None or is_in_time(at, d.at)]
    return (
        unfiled_claims()
        .filter(order__dispositif=dispositif, kind__in=open_kinds)
        .select_related("order__vendor", "order__client")
        .order_by("pk")
    )


def running_conflicts(dispositif: Dispositif) -> QuerySet[ClientConflict]:
    return (
        ClientConflict.objects.filter(dispositif=dispositif, status=ConflictStatus.OPEN)
        .select_related("client")
        .prefetch_related("positions__order__vendor")
        .order_by("respond_by", "pk")
    )


def conflicts_to_decide(dispositif: Dispositif) -> QuerySet[ClientConflict]:
    """The dispositif's conflicts awaiting the administration's decision
    (`sons.selectors.conflicts_awaiting_decision`)."""
    return (
        conflicts_awaiting_decision()
        .filter(dispositif=dispositif)
        .select_related("client")
        .prefetch_related("positions__order__vendor")
        .order_by("respond_by", "pk")
    )


def open_recoveries(dispositif: Dispositif) -> QuerySet[Recovery]:
    return (
        Recovery.objects.filter(order__dispositif=dispositif, status__in=LIVE_RECOVERY_STATUSES)
        .select_related("order__vendor", "order__client")
        .order_by("pk")
    )
