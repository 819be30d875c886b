"""The purchase order (bon de commande, BDC) of a Prestation Ségur, as a state machine."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import F
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from catalogue.deadlines import DeadlineKind, format_deadline, format_paris, is_in_time
from catalogue.models import Dispositif, Referencing, SolutionVersion, Tariff, Vendor
from catalogue.selectors import deadline_passed, referencing_in_force
from core.clock import first_of
from core.errors import RuleViolation
from core.guards import Refusal, guard
from core.versioning import Versioned

from .client import Client, ClientRelationship


class OrderStatus(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    CONDITIONAL = "conditional", _("Signé sous condition de référencement")
    SIGNED = "signed", _("Signé")
    LAPSED = "lapsed", _("Caduc (référencement hors délai)")
    CANCELLED = "cancelled", _("Annulé")
    DEFAULTED = "defaulted", _("Défaillance du fournisseur")
    COMPLETED = "completed", _("Soldé")
    IN_RECOVERY = "in_recovery", _("En recouvrement")


# An order that holds (or may hold) the client's one financing for the dispositif.
LIVE_ORDER_STATUSES = [
    OrderStatus.DRAFT,
    OrderStatus.CONDITIONAL,
    OrderStatus.SIGNED,
    OrderStatus.COMPLETED,
]
# A signed claim on the client: what puts two vendors in conflict.
CLAIMING_STATUSES = [OrderStatus.CONDITIONAL, OrderStatus.SIGNED, OrderStatus.COMPLETED]


# -- The rules that guard the BDC's transitions (core.guards), judged at the act's instant. --


@guard("orders_deadline_passed", field="signed_at")
def orders_open(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """A BDC is signed before the end of orders in force for its dispositif."""
    deadline = deadline_passed(dispositif=order.dispositif, kind=DeadlineKind.ORDERS, at=at)
    if deadline is None:
        return None
    return _(
        "Les commandes de ce dispositif devaient être signées avant le %(deadline)s ; ce BDC "
        "est signé le %(at)s."
    ) % {
        "deadline": format_deadline(deadline.at, seconds=True, zone=True),
        "at": format_paris(at, seconds=True),
    }


def _not_referenced(order: PurchaseOrder, at: dt.datetime) -> bool:
    return (
        referencing_in_force(
            solution_version=order.solution_version, dispositif=order.dispositif, at=at
        )
        is None
    )


@guard("solution_not_referenced", field="solution_version")
def solution_referenced(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """A firm signature needs the version referenced under the dispositif at that instant."""
    if not _not_referenced(order, at):
        return None
    return _("%(version)s n'est pas encore référencée pour le dispositif %(code)s.") % {
        "version": order.solution_version,
        "code": order.dispositif.code,
    }


@guard("solution_not_referenced", field="solution_version")
def conditional_allowed(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """A signature before referencing, where the dispositif admits one."""
    if order.dispositif.allows_conditional_orders:
        return None
    return _(
        "%(version)s n'est pas référencée pour le dispositif %(code)s, qui n'admet pas "
        "de commande sous condition de référencement."
    ) % {"version": order.solution_version, "code": order.dispositif.code}


@guard("referencing_outside_window", field="referencing")
def referenced_in_window(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """A conditional BDC becomes firm when its version was referenced inside its window."""
    referencing = referencing_in_force(
        solution_version=order.solution_version, dispositif=order.dispositif, at=at
    )
    if referencing is None:
        return Refusal(
            "solution_not_referenced",
            _("%(version)s n'est pas encore référencée pour le dispositif %(code)s.")
            % {"version": order.solution_version, "code": order.dispositif.code},
            "referencing",
        )
    if referencing.decided_at is not None and is_in_time(
        referencing.decided_at, order.conditional_until
    ):
        return None
    return _(
        "La solution devait être référencée avant le %(until)s pour confirmer ce BDC "
        "signé sous condition."
    ) % {"until": format_paris(order.conditional_until, seconds=True)}


@guard("conditional_window_open", field="conditional_until")
def conditional_window_closed(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """A conditional BDC lapses once its referencing window is over."""
    if not is_in_time(at, order.conditional_until):
        return None
    return _("Le délai de référencement court jusqu'au %(until)s : le BDC n'est pas caduc.") % {
        "until": format_paris(order.conditional_until, seconds=True)
    }


class SignatureMethod(models.TextChoices):
    HANDWRITTEN = "handwritten", _("Signature manuscrite (scan)")
    CPS = "cps", _("Carte CPS")
    PRO_SANTE_CONNECT = "psc", _("Pro Santé Connect")
    RGS = "rgs", _("Certificat RGS")
    ONLINE_CODE = "otp", _("Signature en ligne (code à usage unique reçu par courriel)")


@dataclass(frozen=True)
class OrderSignature:
    """The client's signature of a BDC and the amount it freezes."""

    at: dt.datetime
    orders_deadline_at: dt.datetime | None
    signatory_name: str
    signatory_role: str
    method: str
    amount: dict[str, Any]


class PurchaseOrder(ConcurrentTransitionMixin, Versioned):
    """Bon de commande (BDC): the client orders the Prestation Ségur from the vendor."""

    vendor = models.ForeignKey(
        Vendor, on_delete=models.PROTECT, related_name="orders", verbose_name=_("fournisseur")
    )
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="orders", verbose_name=_("client")
    )
    dispositif = models.ForeignKey(
        Dispositif, on_delete=models.PROTECT, related_name="orders", verbose_name=_("dispositif")
    )
    solution_version = models.ForeignKey(
        SolutionVersion,
        on_delete=models.PROTECT,
        related_name="orders",
        verbose_name=_("version de solution"),
    )
    referencing = models.ForeignKey(
        Referencing,
        on_delete=models.PROTECT,
        related_name="orders",
        null=True,
        blank=True,
        editable=False,
        verbose_name=_("référencement"),
    )
    vendor_reference = models.CharField(_("référence du fournisseur"), max_length=64, blank=True)
    # Which of the dispositif's prestations (`Dispositif.prestation_variants`, e.g. HOP vague 2's
    # « vague 1 + vague 2 »); empty where the dispositif offers one prestation only.
    prestation_variant = models.CharField(
        _("variante de la prestation"), max_length=16, blank=True, default=""
    )
    installation_scenario = models.CharField(_("scénario d'installation"), max_length=255)
    status = FSMField(
        _("état"),
        max_length=16,
        choices=OrderStatus.choices,
        default=OrderStatus.DRAFT,
        protected=True,
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    signed_at = models.DateTimeField(_("signé le"), null=True, blank=True, editable=False)
    signatory_name = models.CharField(_("signataire"), max_length=255, blank=True, editable=False)
    signatory_role = models.CharField(
        _("qualité du signataire"), max_length=128, blank=True, editable=False
    )
    signature_method = models.CharField(
        _("mode de signature"),
        max_length=16,
        choices=SignatureMethod.choices,
        blank=True,
        editable=False,
    )
    amount_ht_cents = models.PositiveBigIntegerField(
        _("montant HT (centimes)"), null=True, blank=True, editable=False
    )
    amount_ttc_cents = models.PositiveBigIntegerField(
        _("montant TTC (centimes)"), null=True, blank=True, editable=False
    )
    vat_rate = models.DecimalField(
        _("taux de TVA"), max_digits=5, decimal_places=4, null=True, blank=True, editable=False
    )
    tariff = models.ForeignKey(
        Tariff, on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    pricing_snapshot = models.JSONField(
        _("éléments du calcul du montant"), default=dict, blank=True, editable=False
    )
    conditional_until = models.DateTimeField(
        _("référencement attendu avant le"), null=True, blank=True, editable=False
    )
    ended_at = models.DateTimeField(_("clos le"), null=True, blank=True, editable=False)
    sworn_statement = models.TextField(_("déclaration sur l'honneur"), blank=True, editable=False)
    client_renunciation = models.TextField(_("renonciation du client"), blank=True, editable=False)
    default_reason = models.TextField(_("motif de la défaillance"), blank=True, editable=False)
    client_notified_at = models.DateTimeField(
        _("client informé le"), null=True, blank=True, editable=False
    )
    agency_notified_at = models.DateTimeField(
        _("ASP informée le"), null=True, blank=True, editable=False
    )
    firm_date_flagged_at = models.DateTimeField(
        _("signalé sans date ferme le"), null=True, blank=True, editable=False
    )
    pdf = models.FileField(_("BDC (PDF)"), upload_to="bdc/", blank=True, editable=False)
    pdf_sha256 = models.CharField(_("empreinte du BDC"), max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("bon de commande (BDC)")
        verbose_name_plural = _("bons de commande (BDC)")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "client", "dispositif"],
                condition=models.Q(status__in=LIVE_ORDER_STATUSES),
                name="order_one_live_per_vendor_client_dispositif",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_ht_cents__isnull=True) | models.Q(amount_ht_cents__gt=0),
                name="order_amount_never_zero",
            ),
        ]
        indexes = [
            models.Index(fields=["dispositif", "status"], name="order_dispositif_status"),
            # The orders still owing their prestation (sons.selectors.OWING_DELIVERY) of a
            # dispositif in the order of their keys: the orders at risk are judged from them, a
            # list stopping at its LIMIT without reading the other dispositifs' rows.
            models.Index(
                fields=["dispositif", "id"],
                include=["created_at", "signed_at"],
                condition=models.Q(status__in=["conditional", "signed"]),
                name="order_owing_by_dispositif",
            ),
            models.Index(fields=["vendor", "status"]),
            models.Index(fields=["client", "dispositif"]),
            # The orders of one week the dashboard's tally reads afresh (dashboard.tally): by
            # the instant they count from (the first of their creation and their signature)
            # and by their signature.
            models.Index(
                F("dispositif"), first_of("created_at", "signed_at"), name="order_dispositif_since"
            ),
            models.Index(fields=["dispositif", "signed_at"], name="order_dispositif_signed"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} – {self.client.legal_name}"

    @cached_property
    def contact(self) -> ClientRelationship:
        """The vendor's own record of the client (contact details, MSSanté address, figures
        the tariff reads); an empty, unsaved one when the vendor has recorded nothing."""
        return ClientRelationship.objects.filter(
            vendor_id=self.vendor_id, client_id=self.client_id
        ).first() or ClientRelationship(vendor_id=self.vendor_id, client_id=self.client_id)

    @property
    def reference(self) -> str:
        return self.reference_of(self.pk)

    @staticmethod
    def reference_of(pk: int | None) -> str:
        """« BDC-00000012 »: the reference is the id, so a related row can name it unloaded."""
        return f"BDC-{pk:08d}" if pk else "BDC-(nouveau)"

    def _record_signature(self, signature: OrderSignature) -> None:
        """What a signature, firm or conditional, writes on the BDC: a named signatory and the
        amount frozen (the end of orders is the transitions' guard)."""
        if not signature.signatory_name.strip():
            raise RuleViolation(
                "signatory_required",
                _("Le nom du signataire du BDC est obligatoire."),
                field="signatory_name",
            )
        amount = signature.amount
        self.signed_at = signature.at
        self.signatory_name = signature.signatory_name.strip()
        self.signatory_role = signature.signatory_role.strip()
        self.signature_method = signature.method
        self.amount_ht_cents = amount["ht_cents"]
        self.amount_ttc_cents = amount["ttc_cents"]
        self.vat_rate = Decimal(amount["vat_rate"])
        self.tariff_id = amount["tariff_id"]
        self.pricing_snapshot = amount["snapshot"]

    @transition(
        field=status,
        source=OrderStatus.DRAFT,
        target=OrderStatus.SIGNED,
        conditions=[orders_open, solution_referenced],
        custom={"label": _("Signer le BDC")},
    )
    def sign(self, *, signature: OrderSignature, referencing: Referencing) -> None:
        self._record_signature(signature)
        self.referencing = referencing

    @transition(
        field=status,
        source=OrderStatus.DRAFT,
        target=OrderStatus.CONDITIONAL,
        conditions=[orders_open, conditional_allowed],
        custom={"label": _("Signer sous condition de référencement")},
    )
    def sign_conditionally(self, *, signature: OrderSignature, window_end: dt.datetime) -> None:
        self._record_signature(signature)
        self.conditional_until = window_end

    @transition(
        field=status,
        source=OrderStatus.CONDITIONAL,
        target=OrderStatus.SIGNED,
        conditions=[referenced_in_window],
        custom={"label": _("Confirmer (solution référencée)")},
    )
    def confirm_referencing(self, *, referencing: Referencing) -> None:
        self.referencing = referencing

    @transition(
        field=status,
        source=OrderStatus.CONDITIONAL,
        target=OrderStatus.LAPSED,
        conditions=[conditional_window_closed],
        custom={"label": _("Constater la caducité")},
    )
    def lapse(self, *, at: dt.datetime) -> None:
        self.ended_at = at

    @transition(
        field=status,
        source=[OrderStatus.DRAFT, OrderStatus.CONDITIONAL, OrderStatus.SIGNED],
        target=OrderStatus.CANCELLED,
        custom={"label": _("Annuler le BDC")},
    )
    def cancel(self, *, at: dt.datetime, sworn_statement: str, client_renunciation: str) -> None:
        if self.status != OrderStatus.DRAFT and not sworn_statement.strip():
            raise RuleViolation(
                "sworn_statement_required",
                _("L'annulation d'un BDC signé exige une déclaration sur l'honneur."),
                field="sworn_statement",
            )
        self.sworn_statement = sworn_statement.strip()
        self.client_renunciation = client_renunciation.strip()
        self.ended_at = at

    @transition(
        field=status,
        source=[OrderStatus.CONDITIONAL, OrderStatus.SIGNED],
        target=OrderStatus.CANCELLED,
        custom={"label": _("Écarter (décision sur un conflit de financement)")},
    )
    def set_aside(self, *, at: dt.datetime) -> None:
        """Another vendor's order was chosen for the client's one financing: this one ends as
        cancelled, by the administration's decision (journaled with its reason), not by a
        sworn statement of the vendor, so `sworn_statement` stays as the vendor left it."""
        self.ended_at = at

    @transition(
        field=status,
        source=[OrderStatus.CONDITIONAL, OrderStatus.SIGNED],
        target=OrderStatus.DEFAULTED,
        custom={"label": _("Déclarer la défaillance du fournisseur")},
    )
    def declare_default(self, *, at: dt.datetime, default_reason: str) -> None:
        if not default_reason.strip():
            raise RuleViolation(
                "default_reason_required",
                _(
                    "La déclaration de défaillance doit dire pourquoi la prestation ne sera pas "
                    "réalisée."
                ),
                field="default_reason",
            )
        self.default_reason = default_reason.strip()
        self.ended_at = at

    @transition(
        field=status,
        source=OrderStatus.SIGNED,
        target=OrderStatus.COMPLETED,
        custom={"label": _("Solder")},
    )
    def complete(self, *, at: dt.datetime) -> None:
        self.ended_at = at

    @transition(
        field=status,
        source=[
            OrderStatus.CONDITIONAL,
            OrderStatus.SIGNED,
            OrderStatus.LAPSED,
            OrderStatus.CANCELLED,
            OrderStatus.DEFAULTED,
            OrderStatus.COMPLETED,
        ],
        target=OrderStatus.IN_RECOVERY,
        custom={"label": _("Mettre en recouvrement")},
    )
    def start_recovery(self, *, at: dt.datetime) -> None:
        self.ended_at = self.ended_at or at
