"""Readers of the vendor portal. Every queryset starts from the vendor the signed-in person works
for (`catalogue.access.vendor_of`), so another vendor's object is never found."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import DeadlineKind, is_in_time
from catalogue.models import (
    Dispositif,
    DistributionMandate,
    SolutionVersion,
    Vendor,
    VendorMember,
)
from catalogue.selectors import AppliedDeadline, calendar_in_force
from core.journal_display import HistoryEntry
from payments.models import AspFiling, ClaimKind, ClaimStatus, PaymentClaim
from payments.obligations import orders_concerned
from payments.selectors import claimable, filing_kind_of
from portal.models import BulkImport
from sons.history import order_history
from sons.models import (
    LIVE_VA_STATUSES,
    ClientRelationship,
    MomDeclaration,
    OrderStatus,
    PurchaseOrder,
    VaStatus,
    VerificationAptitude,
)
from sons.selectors import orders_at_risk, requirements_accepting

# -- orders -----------------------------------------------------------------------------------


def vendor_orders(vendor: Vendor) -> QuerySet[PurchaseOrder]:
    return PurchaseOrder.objects.filter(vendor=vendor).select_related(
        "client", "dispositif", "solution_version__solution", "tariff"
    )


def order_of(vendor: Vendor, pk: int) -> PurchaseOrder:
    return get_object_or_404(vendor_orders(vendor), pk=pk)


def vendor_dispositifs(vendor: Vendor) -> QuerySet[Dispositif]:
    """The dispositifs the vendor holds orders in."""
    return Dispositif.objects.filter(
        pk__in=PurchaseOrder.objects.filter(vendor=vendor).values("dispositif_id")
    )


def search_orders(
    orders: QuerySet[PurchaseOrder],
    *,
    q: str = "",
    dispositif: Dispositif | None = None,
    status: str = "",
    client: str = "",
    date_field: str = "signed_at",
    date_from: dt.datetime | None = None,
    date_until: dt.datetime | None = None,
) -> QuerySet[PurchaseOrder]:
    """The orders list's filters and search (reference « BDC-00000012 », client, identifier,
    your own reference)."""
    if dispositif is not None:
        orders = orders.filter(dispositif=dispositif)
    if status:
        orders = orders.filter(status=status)
    if client:
        orders = orders.filter(_client_matches(client))
    if date_field in ("signed_at", "created_at"):
        if date_from is not None:
            orders = orders.filter(**{f"{date_field}__gte": date_from})
        if date_until is not None:
            orders = orders.filter(**{f"{date_field}__lt": date_until})
    q = q.strip()
    if q:
        condition = _client_matches(q) | Q(vendor_reference__icontains=q)
        prefix, _sep, number = q.upper().partition("-")
        if prefix == "BDC" and number.isdigit():
            condition |= Q(pk=int(number))
        elif q.isdigit() and len(q) <= 8:
            condition |= Q(pk=int(q))
        orders = orders.filter(condition)
    return orders


def _client_matches(text: str) -> Q:
    compact = "".join(text.split())
    return (
        Q(client__legal_name__icontains=text.strip())
        | Q(client__rpps=compact)
        | Q(client__finess=compact.upper())
        | Q(client__siret=compact)
    )


def order_journal(order: PurchaseOrder, vendor: Vendor) -> list[HistoryEntry]:
    """The whole life of an order as the vendor reads it: sons.history, the one history the
    API and the admin show too (French labels, another vendor's people not named)."""
    return order_history(order, vendor=vendor)


# -- home page --------------------------------------------------------------------------------


@dataclass
class DeadlineTodo:
    """A deadline in force for one dispositif and what the vendor still has to do before it;
    `deadline` None: not published, nothing is enforced (shown « non publiée »)."""

    deadline: AppliedDeadline | None
    label: str
    passed: bool
    todo: list[tuple[str, int, str]] = field(default_factory=list)  # (label, count, link query)


@dataclass
class DispositifDeadlines:
    dispositif: Dispositif
    deadlines: list[DeadlineTodo]


def _count_by_dispositif(orders: QuerySet[PurchaseOrder]) -> dict[int, int]:
    return dict(orders.values_list("dispositif_id").annotate(n=Count("id")).order_by())


def todo_counts(vendor: Vendor) -> dict[str, dict[int, int]]:
    """Per dispositif, how many orders are waiting on each step (set-based, one query each).

    What each deadline still asks is `payments.obligations.orders_concerned`, the rule the
    reminders use too; the other steps (VA awaiting signature, soldes to prepare once the
    delivery is accepted, claims ready to file) narrow it down for the vendor's work list."""
    orders = PurchaseOrder.objects.filter(vendor=vendor)
    signed = orders.filter(status=OrderStatus.SIGNED)

    def concerned(kind: str) -> dict[int, int]:
        return _count_by_dispositif(orders_concerned(kind).filter(vendor=vendor))

    return {
        "to_sign": concerned(DeadlineKind.ORDERS),
        "advance_to_file": concerned(DeadlineKind.ADVANCES),
        "firm_date_to_confirm": concerned(DeadlineKind.FIRM_DATE),
        "to_deliver": concerned(DeadlineKind.REALISATION),
        "va_to_obtain": _count_by_dispositif(signed.filter(vas__status=VaStatus.ISSUED)),
        "solde_to_file": _count_by_dispositif(claimable(orders, ClaimKind.SOLDE)),
        "ready_to_file": dict(
            PaymentClaim.objects.filter(order__vendor=vendor, status=ClaimStatus.READY)
            .values_list("order__dispositif_id")
            .annotate(n=Count("id"))
            .order_by()
        ),
    }


# The steps a vendor takes before each kind of deadline: (counter, label, orders filter or page).
STEPS_BEFORE_DEADLINE = {
    DeadlineKind.ORDERS: [("to_sign", _("BDC à faire signer"), "?status=draft")],
    DeadlineKind.ADVANCES: [("advance_to_file", _("Demandes d'avance à déposer"), "claims")],
    DeadlineKind.FIRM_DATE: [
        ("firm_date_to_confirm", _("Dates fermes à confirmer"), "?status=signed")
    ],
    DeadlineKind.REALISATION: [
        ("to_deliver", _("Achèvements à notifier à l'ASP (ou soldes à déposer)"), "?status=signed"),
        ("va_to_obtain", _("VA à faire signer"), "vas"),
    ],
    DeadlineKind.SOLDES: [
        ("solde_to_file", _("Demandes de solde à préparer"), "claims"),
        ("ready_to_file", _("Demandes prêtes à déposer"), "claims"),
    ],
}


# Once a deadline has passed, the same counts say what happened, not what to do.
HAPPENED_AT_DEADLINE = {
    DeadlineKind.ORDERS: {
        "to_sign": _("BDC restés non signés à l'échéance : ils ne peuvent plus être signés"),
    },
    DeadlineKind.ADVANCES: {
        "advance_to_file": _("BDC sans demande d'avance déposée à temps : plus d'avance possible"),
    },
    DeadlineKind.FIRM_DATE: {
        "firm_date_to_confirm": _("BDC sans date ferme confirmée à l'échéance"),
    },
    DeadlineKind.REALISATION: {
        "to_deliver": _(
            "BDC sans achèvement notifié ni solde déposé à temps : l'avance est à rembourser"
        ),
        "va_to_obtain": _("VA émises encore en attente de signature du client"),
    },
    DeadlineKind.SOLDES: {
        "solde_to_file": _("BDC sans demande de solde déposée à temps : plus de solde possible"),
        "ready_to_file": _("Demandes prêtes mais non déposées à temps"),
    },
}


def home_deadlines(vendor: Vendor, *, at: dt.datetime) -> list[DispositifDeadlines]:
    counts = todo_counts(vendor)
    result = []
    for dispositif in vendor_dispositifs(vendor).order_by("vague", "code"):
        in_force = calendar_in_force(dispositif=dispositif, at=at)
        rows = []
        for kind in DeadlineKind.values:
            if kind not in STEPS_BEFORE_DEADLINE:
                continue
            deadline = in_force.get(kind)
            passed = deadline is not None and not is_in_time(at, deadline.at)
            happened = HAPPENED_AT_DEADLINE[kind]
            rows.append(
                DeadlineTodo(
                    deadline=deadline,
                    label=str(DeadlineKind(kind).label),
                    passed=passed,
                    todo=[
                        (
                            str(happened[key] if passed else label),
                            counts[key].get(dispositif.pk, 0),
                            link,
                        )
                        for key, label, link in STEPS_BEFORE_DEADLINE[kind]
                    ],
                )
            )
        result.append(DispositifDeadlines(dispositif=dispositif, deadlines=rows))
    return result


def status_counts(vendor: Vendor) -> list[tuple[str, str, int]]:
    counts = dict(
        PurchaseOrder.objects.filter(vendor=vendor)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [(code, label, counts.get(code, 0)) for code, label in OrderStatus.choices]


def vendor_orders_at_risk(vendor: Vendor, *, at: dt.datetime) -> QuerySet[PurchaseOrder]:
    return (
        orders_at_risk(at=at, dispositifs=vendor_dispositifs(vendor))
        .filter(vendor=vendor)
        .select_related("client", "dispositif")
        .order_by("dispositif__code", "pk")
    )


# -- VA ---------------------------------------------------------------------------------------


def vendor_vas(vendor: Vendor) -> QuerySet[VerificationAptitude]:
    return VerificationAptitude.objects.filter(order__vendor=vendor).select_related(
        "order__client", "order__dispositif"
    )


def va_of(vendor: Vendor, pk: int) -> VerificationAptitude:
    return get_object_or_404(vendor_vas(vendor), pk=pk)


def vas_awaiting_signature(vendor: Vendor) -> QuerySet[VerificationAptitude]:
    """Issued and not signed yet: the clients to chase, the oldest first."""
    return vendor_vas(vendor).filter(status=VaStatus.ISSUED).order_by("issued_at", "pk")


def orders_needing_va(vendor: Vendor) -> QuerySet[PurchaseOrder]:
    """Signed orders of a dispositif that takes a VA, with no live VA nor MOM yet (a refused
    VA calls for a new version)."""
    live_va = VerificationAptitude.objects.filter(order=OuterRef("pk"), status__in=LIVE_VA_STATUSES)
    return (
        vendor_orders(vendor)
        .filter(status=OrderStatus.SIGNED, dispositif__acceptance__in=requirements_accepting("va"))
        .exclude(Exists(live_va))
        .exclude(Exists(MomDeclaration.objects.filter(order=OuterRef("pk"))))
        .order_by("pk")
    )


# -- claims and filings -----------------------------------------------------------------------


def vendor_claims(vendor: Vendor) -> QuerySet[PaymentClaim]:
    return PaymentClaim.objects.filter(order__vendor=vendor).select_related(
        "order__client", "order__dispositif", "order__tariff", "filing"
    )


def claim_of(vendor: Vendor, pk: int) -> PaymentClaim:
    return get_object_or_404(vendor_claims(vendor), pk=pk)


def ready_claims_by_filing(vendor: Vendor) -> list[dict]:
    """Ready claims gathered as they would be filed: per dispositif and kind (those already
    left out for lateness are listed apart, with their reason)."""
    rows = (
        vendor_claims(vendor)
        .filter(status=ClaimStatus.READY, deadline_missed_at__isnull=True)
        .values("order__dispositif_id", "order__dispositif__code", "kind")
        .annotate(n=Count("id"))
        .order_by("order__dispositif__code", "kind")
    )
    result = []
    for row in rows:
        kind = filing_kind_of(row["kind"])
        result.append(
            {
                "dispositif_id": row["order__dispositif_id"],
                "dispositif_code": row["order__dispositif__code"],
                "kind": kind,
                "kind_label": ClaimKind(kind).label,
                "count": row["n"],
            }
        )
    merged: dict[tuple, dict] = {}
    for row in result:
        key = (row["dispositif_id"], row["kind"])
        if key in merged:
            merged[key]["count"] += row["count"]
        else:
            merged[key] = row
    return list(merged.values())


def vendor_filings(vendor: Vendor) -> QuerySet[AspFiling]:
    return AspFiling.objects.filter(vendor=vendor).select_related("dispositif")


def filing_of(vendor: Vendor, pk: int) -> AspFiling:
    return get_object_or_404(vendor_filings(vendor), pk=pk)


def orders_to_claim(vendor: Vendor, kind: str) -> QuerySet[PurchaseOrder]:
    """The vendor's orders a claim of `kind` may be opened on (`payments.selectors.claimable`;
    the other rules are then read by the claim's guards and `claim_blockers`)."""
    return claimable(vendor_orders(vendor), kind).order_by("dispositif__code", "pk")


# -- clients and what a new BDC may name -------------------------------------------------------


def vendor_clients(vendor: Vendor) -> QuerySet[ClientRelationship]:
    """The vendor's own records of its clients (contact details, MSSanté address), by name."""
    return (
        ClientRelationship.objects.filter(vendor=vendor)
        .select_related("client")
        .order_by("client__legal_name", "client_id")
    )


def client_record_of(vendor: Vendor, client_pk: int) -> ClientRelationship:
    return get_object_or_404(vendor_clients(vendor), client_id=client_pk)


def orderable_dispositifs() -> QuerySet[Dispositif]:
    return Dispositif.objects.order_by("vague", "code")


def distributable_versions(vendor: Vendor) -> QuerySet[SolutionVersion]:
    """The versions of the solutions the vendor edits or holds a mandate for (the mandate's
    dates and the referencing are the command's rules, judged when the BDC is created)."""
    editors = DistributionMandate.objects.filter(distributor=vendor).values("editor_id")
    return (
        SolutionVersion.objects.filter(
            Q(solution__editor=vendor) | Q(solution__editor_id__in=editors)
        )
        .select_related("solution")
        .order_by("solution__name", "version")
    )


# -- people and files -------------------------------------------------------------------------


def vendor_members(vendor: Vendor) -> QuerySet[VendorMember]:
    return (
        VendorMember.objects.filter(vendor=vendor)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username")
    )


def member_of(vendor: Vendor, pk: int) -> VendorMember:
    return get_object_or_404(vendor_members(vendor), pk=pk)


def vendor_imports(vendor: Vendor) -> QuerySet[BulkImport]:
    return BulkImport.objects.filter(vendor=vendor).select_related("created_by")


def import_of(vendor: Vendor, pk: int) -> BulkImport:
    return get_object_or_404(vendor_imports(vendor), pk=pk)
