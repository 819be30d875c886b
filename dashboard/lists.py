"""The four lists of a dispositif's dashboard: what they hold, how they filter, their columns.

One definition per list serves its page, its preview on the dispositif page and its CSV and
XLSX exports, so the exports hold exactly the rows the filtered page shows.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import DeadlineKind
from catalogue.models import Dispositif, Referencing, Vendor
from catalogue.selectors import AppliedDeadline
from core.identifiers import normalize_finess, normalize_rpps, normalize_siren, normalize_siret
from payments.models import (
    ClaimKind,
    ClaimStatus,
    PaymentClaim,
    Recovery,
    RecoveryCause,
    RecoveryStatus,
)
from sons.models import ConflictPosition, OrderStatus, PurchaseOrder
from sons.selectors import order_by_reference

from . import selectors
from .countdown import countdown

TEXT, MONEY, INSTANT, DATE = "text", "money", "instant", "date"


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]  # text, cents (MONEY), aware datetime (INSTANT) or date
    kind: str = TEXT
    link: Callable[[Any], str] | None = None  # the page the cell leads to, on the web page
    deadline: bool = False  # an INSTANT that is a deadline: shown by `format_deadline`


def order_admin_url(order_id: int) -> str:
    return reverse("admin:sons_purchaseorder_change", args=[order_id])


@dataclass(frozen=True)
class Context:
    """What a list needs to know besides its filters."""

    dispositif: Dispositif
    at: dt.datetime
    calendar: dict[str, AppliedDeadline]


# --- Filters -----------------------------------------------------------------------------------


class FilterForm(forms.Form):
    """The GET form of a list; the fields a list does not use are removed."""

    fournisseur = forms.ModelChoiceField(
        label=_("Fournisseur"),
        queryset=Vendor.objects.none(),
        required=False,
        empty_label=_("Tous"),
    )
    etat = forms.ChoiceField(label=_("État"), required=False)
    nature = forms.ChoiceField(label=_("Nature"), required=False)
    cause = forms.ChoiceField(label=_("Cause"), required=False)
    recherche = forms.CharField(
        label=_("Référence du BDC, identifiant ou nom du client"),
        required=False,
        max_length=100,
        help_text=_("Ex. BDC-00000012, un RPPS, un FINESS, un SIRET ou le début d'un nom."),
    )

    def __init__(self, data, *, dispositif: Dispositif, choices: dict[str, list], **kwargs):
        super().__init__(data, **kwargs)
        # Who can hold orders under the dispositif: the vendors that filed a referencing there,
        # and the distributors (they sell others' referenced solutions). Read from the catalogue:
        # looking for the vendors among the orders would scan every order of every vendor.
        referenced = Referencing.objects.filter(vendor=OuterRef("pk"), dispositif=dispositif)
        self.fields["fournisseur"].queryset = Vendor.objects.filter(
            Q(Exists(referenced)) | Q(kind=Vendor.Kind.DISTRIBUTEUR)
        ).order_by("name")
        self.fields["recherche"].widget.attrs["aria-describedby"] = "id_recherche_aide"
        for name in ("etat", "nature", "cause"):
            if name in choices:
                self.fields[name].choices = [("", _("Tous")), *choices[name]]
            else:
                del self.fields[name]
        for field in self.fields.values():  # the State's design system's controls
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = "fr-select" if is_select else "fr-input"

    def filters(self) -> dict[str, Any]:
        """The valid filters (an invalid one is shown with its error and not applied)."""
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v not in ("", None)}


def search_q(text: str, prefix: str) -> Q:
    """A BDC reference, a client identifier (RPPS, FINESS, SIRET, SIREN, as typed or spaced),
    or a part of the client's name. `prefix` leads from the listed row to its order."""
    text = text.strip()
    order = order_by_reference(text)
    if order is not None:
        return Q(**{f"{prefix}pk": order.pk})
    matches = Q()
    for field, normalize in (
        ("rpps", normalize_rpps),
        ("finess", normalize_finess),
        ("siret", normalize_siret),
        ("siren", normalize_siren),
    ):
        with contextlib.suppress(ValidationError):
            matches |= Q(**{f"{prefix}client__{field}": normalize(text)})
    if matches:
        return matches
    return Q(**{f"{prefix}client__legal_name__icontains": text})


# --- Lists -------------------------------------------------------------------------------------


def _client_identifier(client) -> str:
    return client.identifier_label


def _display(model, name: str) -> Callable[[Any], str]:
    """What `get_<name>_display()` gives for a row of `model`, its choices read once: Django
    rebuilds and hashes every translated choice at each call, that is at each cell."""
    field = model._meta.get_field(name)
    labels = dict(field.flatchoices)

    def label(row) -> str:
        value = getattr(row, field.attname)
        return str(labels.get(value, value))

    return label


_decision_display = _display(ConflictPosition, "decision")


class DashboardList(abc.ABC):
    """One list of the dashboard: each subclass says which rows it lists (`queryset`)."""

    slug: str
    title: str
    description: str
    empty: str
    order_prefix: str  # from the listed row to its order ("" for orders themselves)
    choices: dict[str, list] = {}
    columns: list[Column] = []

    @abc.abstractmethod
    def queryset(self, ctx: Context) -> QuerySet: ...

    def filtered(self, ctx: Context, filters: dict[str, Any]) -> QuerySet:
        queryset = self.queryset(ctx)
        p = self.order_prefix
        if "fournisseur" in filters:
            queryset = queryset.filter(**{f"{p}vendor": filters["fournisseur"]})
        if "etat" in filters:
            queryset = queryset.filter(status=filters["etat"])
        if "nature" in filters:
            queryset = queryset.filter(kind=filters["nature"])
        if "cause" in filters:
            queryset = queryset.filter(cause=filters["cause"])
        if "recherche" in filters:
            queryset = queryset.filter(search_q(filters["recherche"], p))
        return queryset

    def rows(self, queryset: QuerySet, keys: list[int]) -> QuerySet:
        """The rows of `keys`, found in `queryset` (this list, filtered) a moment before, as
        the list shows them."""
        return queryset.filter(pk__in=keys)

    def decorate(self, rows, ctx: Context):
        """The rows as listed, with what the page shows besides their columns."""
        yield from rows

    def deadline_note(self, ctx: Context) -> str:
        return ""


class OrdersAtRisk(DashboardList):
    slug = "bdc-a-risque"
    title = _("BDC à risque")
    description = _(
        "BDC signés, pas encore livrés (ni VA signée, ni MOM, ni PV pilote), alors que la fin "
        "de réalisation en vigueur approche."
    )
    empty = _("Aucun BDC à risque.")
    order_prefix = ""
    choices = {
        "etat": [
            (OrderStatus.SIGNED.value, OrderStatus.SIGNED.label),
            (OrderStatus.CONDITIONAL.value, OrderStatus.CONDITIONAL.label),
        ]
    }
    columns = [
        Column(_("BDC"), lambda o: o.reference, link=lambda o: order_admin_url(o.pk)),
        Column(_("Fournisseur"), lambda o: o.vendor.name),
        Column(_("Client"), lambda o: o.client.legal_name),
        Column(_("Identifiant du client"), lambda o: _client_identifier(o.client)),
        Column(_("État"), _display(PurchaseOrder, "status")),
        Column(_("Signé le"), lambda o: o.signed_at, INSTANT),
        Column(_("Montant TTC"), lambda o: o.amount_ttc_cents, MONEY),
        Column(_("Date ferme"), lambda o: o.firm_date, DATE),
    ]

    def queryset(self, ctx: Context) -> QuerySet:
        return selectors.at_risk_orders(ctx.dispositif, ctx.at, ctx.calendar)

    def rows(self, queryset: QuerySet, keys: list[int]) -> QuerySet:
        # Read by their keys alone: judging the orders at risk again (their evidence of
        # completion, for five rows) would cost as much as finding them.
        return selectors.shown_at_risk(PurchaseOrder.objects.filter(pk__in=keys))

    def deadline_note(self, ctx: Context) -> str:
        return _deadline_note(ctx, "realisation")


class ClaimsToFile(DashboardList):
    slug = "demandes-a-deposer"
    title = _("Demandes à déposer avant la prochaine échéance")
    description = _(
        "Demandes de paiement en brouillon ou prêtes, pas encore déposées à l'ASP, dont "
        "l'échéance de dépôt en vigueur n'est pas passée."
    )
    empty = _("Aucune demande en attente de dépôt.")
    order_prefix = "order__"
    choices = {
        "etat": [
            (ClaimStatus.DRAFT.value, ClaimStatus.DRAFT.label),
            (ClaimStatus.READY.value, ClaimStatus.READY.label),
        ],
        "nature": list(ClaimKind.choices),
    }
    columns = [
        Column(
            _("BDC"),
            lambda c: PurchaseOrder.reference_of(c.order_id),
            link=lambda c: order_admin_url(c.order_id),
        ),
        Column(_("Fournisseur"), lambda c: c.order.vendor.name),
        Column(_("Client"), lambda c: c.order.client.legal_name),
        Column(_("Identifiant du client"), lambda c: _client_identifier(c.order.client)),
        Column(_("Nature"), _display(PaymentClaim, "kind")),
        Column(_("État"), _display(PaymentClaim, "status")),
        Column(_("Montant TTC"), lambda c: c.amount_ttc_cents, MONEY),
        Column(_("Créée le"), lambda c: c.created_at, INSTANT),
        Column(_("À déposer avant le"), lambda c: c.filing_deadline, INSTANT, deadline=True),
        Column(_("Compte à rebours"), lambda c: c.filing_countdown),
    ]

    def queryset(self, ctx: Context) -> QuerySet:
        return selectors.claims_to_file(ctx.dispositif, ctx.at, ctx.calendar)

    def decorate(self, rows, ctx: Context):
        """Each claim with its filing deadline and countdown (from the calendar already read)."""
        deadlines = selectors.filing_deadlines(ctx.calendar)
        for claim in rows:
            deadline = deadlines.get(claim.kind)
            claim.filing_deadline = deadline.at if deadline else None
            claim.filing_countdown = countdown(deadline.at, ctx.at).label if deadline else ""
            yield claim

    def deadline_note(self, ctx: Context) -> str:
        return " ; ".join((_deadline_note(ctx, "advances"), _deadline_note(ctx, "soldes")))


class RunningConflicts(DashboardList):
    slug = "conflits"
    title = _("Conflits de financement en cours")
    description = _(
        "Deux fournisseurs revendiquent le même client : chacun répond avant la fin du 10e jour "
        "ouvré."
    )
    empty = _("Aucun conflit en cours.")
    order_prefix = "positions__order__"
    choices: dict[str, list] = {}
    columns = [
        Column(_("Client"), lambda c: c.client.legal_name),
        Column(_("Identifiant du client"), lambda c: _client_identifier(c.client)),
        Column(_("Ouvert le"), lambda c: c.opened_at, INSTANT),
        Column(_("Réponses attendues avant le"), lambda c: c.respond_by, INSTANT),
        Column(_("Compte à rebours"), lambda c: c.countdown.label),
        Column(
            _("Positions"),
            lambda c: " ; ".join(
                f"{p.order.vendor.name} ({p.order.reference}) : {_decision_display(p)}"
                for p in c.positions.all()
            ),
        ),
    ]

    def queryset(self, ctx: Context) -> QuerySet:
        return selectors.running_conflicts(ctx.dispositif, ctx.at)

    def filtered(self, ctx: Context, filters: dict[str, Any]) -> QuerySet:
        # A conflict matches when one of its positions does: filtered through EXISTS, so a
        # conflict is never listed twice.
        queryset = self.queryset(ctx)
        if "fournisseur" in filters or "recherche" in filters:
            positions = ConflictPosition.objects.filter(conflict=OuterRef("pk"))
            if "fournisseur" in filters:
                positions = positions.filter(order__vendor=filters["fournisseur"])
            if "recherche" in filters:
                positions = positions.filter(search_q(filters["recherche"], "order__"))
            queryset = queryset.filter(Exists(positions))
        return queryset

    def decorate(self, rows, ctx: Context):
        for conflict in rows:
            conflict.countdown = countdown(conflict.respond_by, ctx.at)
            yield conflict


class ConflictsAwaitingDecision(RunningConflicts):
    slug = "conflits-a-trancher"
    title = _("Conflits en attente de décision")
    description = _(
        "Les délais de réponse sont échus et plusieurs fournisseurs maintiennent leur commande : "
        "aucune n'est financée tant que l'administration (pour l'ASP) n'a pas désigné celle qui "
        "l'est (page du conflit dans l'administration, ou commande decide_conflict)."
    )
    empty = _("Aucun conflit en attente de décision.")
    columns = [
        Column(_("Client"), lambda c: c.client.legal_name),
        Column(_("Identifiant du client"), lambda c: _client_identifier(c.client)),
        Column(_("Ouvert le"), lambda c: c.opened_at, INSTANT),
        Column(_("Délais échus le"), lambda c: c.respond_by, INSTANT),
        Column(
            _("Commandes maintenues"),
            lambda c: " ; ".join(f"{o.vendor.name} ({o.reference})" for o in c.kept_orders()),
        ),
    ]

    def queryset(self, ctx: Context) -> QuerySet:
        return selectors.conflicts_to_decide(ctx.dispositif, ctx.at)

    def decorate(self, rows, ctx: Context):
        yield from rows


class OpenRecoveries(DashboardList):
    slug = "recouvrements"
    title = _("Recouvrements ouverts")
    description = _("Sommes reçues pour une prestation non réalisée, à recouvrer.")
    empty = _("Aucun recouvrement ouvert.")
    order_prefix = "order__"
    choices = {
        "etat": [
            (RecoveryStatus.OPEN.value, RecoveryStatus.OPEN.label),
            (RecoveryStatus.NOTIFIED.value, RecoveryStatus.NOTIFIED.label),
        ],
        "cause": list(RecoveryCause.choices),
    }
    columns = [
        Column(
            _("BDC"),
            lambda r: PurchaseOrder.reference_of(r.order_id),
            link=lambda r: order_admin_url(r.order_id),
        ),
        Column(_("Fournisseur"), lambda r: r.order.vendor.name),
        Column(_("Client"), lambda r: r.order.client.legal_name),
        Column(_("Identifiant du client"), lambda r: _client_identifier(r.order.client)),
        Column(_("Cause"), _display(Recovery, "cause")),
        Column(_("État"), _display(Recovery, "status")),
        Column(_("Reçu"), lambda r: r.received_cents, MONEY),
        Column(_("Compensé"), lambda r: r.offset_cents, MONEY),
        Column(_("À recouvrer"), lambda r: r.amount_cents, MONEY),
        Column(_("Ouvert le"), lambda r: r.opened_at, INSTANT),
        Column(_("Notifié le"), lambda r: r.notified_at, INSTANT),
    ]

    def queryset(self, ctx: Context) -> QuerySet:
        return selectors.open_recoveries(ctx.dispositif, ctx.at)


def _deadline_note(ctx: Context, kind: str) -> str:
    deadline = ctx.calendar.get(kind)
    if deadline is None:
        return str(
            _("%(kind)s : non publiée, rien ne s'applique") % {"kind": DeadlineKind(kind).label}
        )
    return str(
        _("%(kind)s : %(at)s (%(countdown)s)")
        % {
            "kind": DeadlineKind(kind).label,
            "at": deadline.shown,
            "countdown": countdown(deadline.at, ctx.at).label,
        }
    )


LISTS: dict[str, DashboardList] = {
    lst.slug: lst
    for lst in (
        OrdersAtRisk(),
        ClaimsToFile(),
        RunningConflicts(),
        ConflictsAwaitingDecision(),
        OpenRecoveries(),
    )
}
