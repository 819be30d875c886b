"""Readers of the administrators' dashboard: aggregates and LIMITed lists, never a loop over rows.

Every count is one aggregate query per model (`values(...).annotate(Count)`), grouped with the
model's chart by the Paris weeks the rows keep (generated columns, `core.clock.ParisMonday`), in
the order of the model's (dispositif, status, week) index; the lists are querysets the views
slice and the exports stream.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils.translation import gettext as _

from catalogue.deadlines import DeadlineKind, is_in_time
from catalogue.models import Deadline, Dispositif
from catalogue.selectors import AppliedDeadline, calendar_history
from payments.models import (
    ClaimStatus,
    PaymentClaim,
    Recovery,
    RecoveryStatus,
)
from payments.selectors import filing_deadlines, unfiled_claims
from sons.models import (
    ClientConflict,
    ConflictPosition,
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

from . import tally
from .charts import Chart, Series, weekly_chart
from .countdown import Countdown, countdown

# --- The instant judged ---------------------------------------------------------------------
# « Voir la situation à un autre instant »: what existed then, conflicts and recoveries as they
# stood. An object counts from the instant it came to be (its creation, or the act that made it:
# an order signed on paper and recorded later existed from its signature); a conflict or a
# recovery is unresolved from its opening until its closing.


def order_existed(at: dt.datetime, prefix: str = "") -> Q:
    return tally.counted(PurchaseOrder).existed(at, prefix)


def _existed(model, at: dt.datetime) -> Q:
    """When a row of `model` came to be, as a condition on `at` (the orders, the claims and
    the deployments: as their tally declares it, `dashboard.tally.COUNTED`)."""
    if model in (PurchaseOrder, PaymentClaim, Deployment):
        return tally.counted(model).existed(at)
    if model is VerificationAptitude:
        # Issued (or decided) by then; a draft never issued, from its order. The decision and
        # the order are looked up only for the VA not issued by then (the arms are read in
        # order): joining every VA to its decision or its order would read them all.
        return (
            Q(issued_at__lte=at)
            | Exists(VaDecision.objects.filter(va=OuterRef("pk"), decided_at__lte=at))
            | (
                Q(issued_at__isnull=True)
                & Exists(PurchaseOrder.objects.filter(order_existed(at), pk=OuterRef("order_id")))
            )
        )
    return Q(opened_at__lte=at)  # ClientConflict, Recovery


def standing(at: dt.datetime) -> Q:
    """A conflict or a recovery opened by `at` and not closed yet at `at`."""
    return Q(opened_at__lte=at) & (Q(closed_at__isnull=True) | Q(closed_at__gt=at))


def _window_running(at: dt.datetime) -> Exists:
    """A vendor of the conflict may still answer at `at` (the window `expired_conflicts`
    judges over when no position's own deadline is still ahead)."""
    return Exists(ConflictPosition.objects.filter(conflict=OuterRef("pk"), respond_by__gt=at))


def conflicts_running_at(at: dt.datetime) -> QuerySet[ClientConflict]:
    """Conflicts « en cours » at `at`: opened, not closed, and a vendor's window still running
    (a conflict whose every deadline has passed is no longer running, swept or not)."""
    return ClientConflict.objects.filter(standing(at)).filter(_window_running(at))


def conflicts_to_decide_at(at: dt.datetime) -> QuerySet[ClientConflict]:
    """Conflicts awaiting the administration's decision at `at`: those now awaiting it
    (`conflicts_awaiting_decision`) or decided after `at`, every window over by `at`."""
    waiting = conflicts_awaiting_decision().values("pk")
    return (
        ClientConflict.objects.filter(standing(at))
        .filter(Q(pk__in=waiting) | Q(status=ConflictStatus.DECIDED))
        .exclude(_window_running(at))
    )


def recoveries_open_at(at: dt.datetime) -> QuerySet[Recovery]:
    """Recoveries opened by `at` and not yet settled or cancelled at `at`."""
    return Recovery.objects.filter(standing(at))


def _recovery_state_at(at: dt.datetime):
    """A recovery's state at `at`: its state now once closed by then, else open or notified."""
    return Case(
        When(Q(closed_at__isnull=False, closed_at__lte=at), then=F("status")),
        When(notified_at__lte=at, then=Value(RecoveryStatus.NOTIFIED.value)),
        default=Value(RecoveryStatus.OPEN.value),
        output_field=CharField(),
    )


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


@dataclass
class Figures:
    counts: list[StateCounts]
    charts: list[Chart]


def dispositif_figures(dispositif: Dispositif, at: dt.datetime) -> Figures:
    """The dispositif's orders, deployments, VA, claims and recoveries by state, and its weekly
    charts (orders signed, VA signed, money claimed and paid, up to `at`). Only what existed at
    `at` is counted; recoveries in the state they were in at `at`. The orders, claims and
    deployments are read from the tally the database keeps (`dashboard.tally`), the VA from
    their indexes (one aggregate query each)."""
    kept = tally.figures(dispositif, at)
    order_states = kept["order"].states
    (orders_by_week,) = kept["order"].series
    claim_states = kept["claim"].states
    claimed, paid = kept["claim"].series

    va_states = dict(
        VerificationAptitude.objects.filter(
            _existed(VerificationAptitude, at), dispositif=dispositif
        )
        .order_by()
        .values_list("status")
        .annotate(n=Count("*"))
    )
    # The VA signed by `at`, by the week of their signature (the decisions' own index).
    vas_by_week = dict(
        VaDecision.objects.filter(
            dispositif=dispositif, outcome=VaDecision.Outcome.SIGNED, decided_at__lte=at
        )
        .order_by()
        .values_list("decided_week")
        .annotate(n=Count("*"))
    )

    counts = [
        _state_counts("orders", _("Bons de commande (BDC)"), order_states, OrderStatus.choices),
        _state_counts(
            "deployments", _("Déploiements"), kept["deployment"].states, DeploymentStatus.choices
        ),
        _state_counts("vas", _("Vérifications d'aptitude (VA)"), va_states, VaStatus.choices),
        _state_counts("claims", _("Demandes de paiement"), claim_states, ClaimStatus.choices),
        _state_counts(
            "recoveries",
            _("Recouvrements"),
            dict(
                Recovery.objects.filter(_existed(Recovery, at), dispositif=dispositif)
                .order_by()
                .values_list(_recovery_state_at(at))
                .annotate(n=Count("*"))
            ),
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
    """Per dispositif at `at`: orders that existed, orders at risk, conflicts running and
    awaiting a decision, recoveries open (one grouped query per figure, whatever the number of
    dispositifs)."""
    figures: dict[int, dict[str, int]] = {}

    def add(name: str, rows) -> None:
        for dispositif_id, n in rows:
            figures.setdefault(dispositif_id, {})[name] = n

    # The orders that existed, from the tally (`dashboard.tally`), not from every order.
    ids = list(Dispositif.objects.values_list("pk", flat=True))
    orders = tally.figures_by_dispositif(ids, at, subjects=("order",))
    add("orders", [(pk, sum(kept["order"].states.values())) for pk, kept in orders.items()])
    add(
        "at_risk",
        orders_at_risk(at=at, dispositifs=Dispositif.objects.only("pk"))
        .filter(order_existed(at))
        .order_by()
        .values_list("dispositif")
        .annotate(n=Count("pk"))
        .values_list("dispositif", "n"),
    )
    add(
        "conflicts",
        conflicts_running_at(at)
        .order_by()
        .values_list("dispositif")
        .annotate(n=Count("pk"))
        .values_list("dispositif", "n"),
    )
    add(
        "conflicts_to_decide",
        conflicts_to_decide_at(at)
        .order_by()
        .values_list("dispositif")
        .annotate(n=Count("pk"))
        .values_list("dispositif", "n"),
    )
    add(
        "recoveries",
        recoveries_open_at(at)
        .order_by()
        .values_list("dispositif")
        .annotate(n=Count("*"))
        .values_list("dispositif", "n"),
    )
    return figures


# --- Lists -------------------------------------------------------------------------------------


def at_risk_orders(
    dispositif: Dispositif, at: dt.datetime, applied: dict[str, AppliedDeadline]
) -> QuerySet[PurchaseOrder]:
    """The dispositif's orders at risk (the one rule: `sons.selectors.orders_at_risk`), judged
    by its end of réalisation in `applied` (the calendar in force at `at` the page has read),
    with the firm date of their live deployment, if any. Lists are in the order of their keys
    (the BDC reference), so that a page or a capped count stops at its LIMIT instead of
    sorting every matching row first."""
    realisation = applied.get(DeadlineKind.REALISATION.value)
    return shown_at_risk(
        orders_at_risk(at=at, realisations=[(dispositif, realisation)]).filter(order_existed(at))
    ).order_by("pk")


def shown_at_risk(orders: QuerySet[PurchaseOrder]) -> QuerySet[PurchaseOrder]:
    """`orders` as the list of orders at risk shows them: with their vendor, their client and
    the firm date of their live deployment, if any."""
    firm_date = Deployment.objects.live().filter(order=OuterRef("pk")).values("firm_date")[:1]
    return orders.select_related("vendor", "client").annotate(firm_date=Subquery(firm_date))


def claims_to_file(
    dispositif: Dispositif, at: dt.datetime, applied: dict[str, AppliedDeadline]
) -> QuerySet[PaymentClaim]:
    """Claims still to file (`payments.selectors.unfiled_claims`) whose filing deadline in
    force is still ahead (or not published yet)."""
    deadlines = filing_deadlines(applied)
    open_kinds = [kind for kind, d in deadlines.items() if d is None or is_in_time(at, d.at)]
    return (
        unfiled_claims()
        .filter(_existed(PaymentClaim, at), dispositif=dispositif, kind__in=open_kinds)
        .select_related("order__vendor", "order__client")
        .order_by("pk")
    )


def _conflicts_listed(
    base: QuerySet[ClientConflict], dispositif: Dispositif
) -> QuerySet[ClientConflict]:
    """The dispositif's conflicts of `base`, as their lists show them: their positions with
    their orders and vendors in one query (not one per level)."""
    positions = ConflictPosition.objects.select_related("order__vendor")
    return (
        base.filter(dispositif=dispositif)
        .select_related("client")
        .prefetch_related(Prefetch("positions", queryset=positions))
        .order_by("respond_by", "pk")
    )


def running_conflicts(dispositif: Dispositif, at: dt.datetime) -> QuerySet[ClientConflict]:
    """The dispositif's conflicts running at `at` (`conflicts_running_at`)."""
    return _conflicts_listed(conflicts_running_at(at), dispositif)


def conflicts_to_decide(dispositif: Dispositif, at: dt.datetime) -> QuerySet[ClientConflict]:
    """The dispositif's conflicts awaiting the administration's decision at `at`
    (`conflicts_to_decide_at`)."""
    return _conflicts_listed(conflicts_to_decide_at(at), dispositif)


def open_recoveries(dispositif: Dispositif, at: dt.datetime) -> QuerySet[Recovery]:
    """The dispositif's recoveries open at `at` (`recoveries_open_at`)."""
    return (
        recoveries_open_at(at)
        .filter(dispositif=dispositif)
        .select_related("order__vendor", "order__client")
        .order_by("pk")
    )
