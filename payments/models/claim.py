"""Payment claims to the paying agency (ASP): avance, solde, secondary prestation, compensation."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.errors import RuleViolation
from core.guards import guard
from sons.models import PurchaseOrder
from sons.models.parts import OrderPart

from ..rules import paid_amount_admissible


class ClaimKind(models.TextChoices):
    AVANCE = "avance", _("Demande d'avance")
    SOLDE = "solde", _("Demande de solde")
    SECONDAIRE = "secondaire", _("Prestation secondaire")
    COMPENSATION = "compensation", _("Compensation d'une avance (client retiré du périmètre)")


class ClaimStatus(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    READY = "ready", _("Prête (règles vérifiées)")
    SUBMITTED = "submitted", _("Déposée à l'ASP")
    TO_CORRECT = "to_correct", _("À modifier (ASP)")
    VALIDATED = "validated", _("Validée (ASP)")
    PAID = "paid", _("Décidée et payée")
    REJECTED = "rejected", _("Rejetée (ASP)")
    CANCELLED = "cancelled", _("Annulée")


# A claim that still holds its place: a second one of the same kind on the order is refused.
LIVE_CLAIM_STATUSES = [
    ClaimStatus.DRAFT,
    ClaimStatus.READY,
    ClaimStatus.SUBMITTED,
    ClaimStatus.TO_CORRECT,
    ClaimStatus.VALIDATED,
    ClaimStatus.PAID,
]
# A claim the agency has (or had) in hand: filed by the vendor, not sent back.
FILED_CLAIM_STATUSES = [ClaimStatus.SUBMITTED, ClaimStatus.VALIDATED, ClaimStatus.PAID]
# A claim still to file: the vendor has not filed it yet (the sweep may mark it late).
UNFILED_CLAIM_STATUSES = [ClaimStatus.DRAFT, ClaimStatus.READY]
# The kinds a vendor files (a compensation travels in its solde's filing).
FILABLE_CLAIM_KINDS = [ClaimKind.AVANCE, ClaimKind.SOLDE, ClaimKind.SECONDAIRE]


@guard("claim_rules_unmet", field="status")
def claim_rules_met(claim: PaymentClaim, at: dt.datetime):
    """Every rule of the claim's kind holds at `at` (declared in payments.acts)."""
    from payments.acts import claim_rules_met as judge

    return judge(claim, at)


@guard("filing_deadline_passed", field="status")
def filing_deadline_not_passed(claim: PaymentClaim, at: dt.datetime) -> str | None:
    """The filing deadline in force at the deposit instant `at` has not passed (SONS.md, life
    of a Prestation, step 4): `payments.selectors.past_filing_deadline` on this claim."""
    from payments.selectors import filing_deadline_missed

    reason = filing_deadline_missed(claim, at)
    if reason is None:
        return None
    return _("Demande hors délai : l'échéance de dépôt en vigueur est passée (%(reason)s).") % {
        "reason": reason
    }


class PaymentClaim(ConcurrentTransitionMixin, OrderPart):
    order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, related_name="claims", verbose_name=_("BDC")
    )
    kind = models.CharField(_("nature"), max_length=16, choices=ClaimKind.choices)
    status = FSMField(
        _("état"),
        max_length=16,
        choices=ClaimStatus.choices,
        default=ClaimStatus.DRAFT,
        protected=True,
    )
    amends = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="amendment",
        verbose_name=_("avenant à la demande"),
    )
    amount_ht_cents = models.BigIntegerField(_("montant demandé HT (centimes)"))
    amount_ttc_cents = models.BigIntegerField(_("montant demandé TTC (centimes)"))
    created_at = models.DateTimeField(_("créée le"))
    ready_at = models.DateTimeField(_("prête le"), null=True, blank=True, editable=False)
    filing = models.ForeignKey(
        "payments.AspFiling",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="claims",
        editable=False,
        verbose_name=_("dépôt ASP"),
    )
    line_number = models.PositiveIntegerField(_("ligne"), null=True, blank=True, editable=False)
    submitted_at = models.DateTimeField(_("déposée le"), null=True, blank=True, editable=False)
    validated_at = models.DateTimeField(_("validée le"), null=True, blank=True, editable=False)
    paid_on = models.DateField(_("payée le"), null=True, blank=True, editable=False)
    paid_amount_cents = models.BigIntegerField(
        _("montant payé (centimes)"), null=True, blank=True, editable=False
    )
    agency_reason = models.TextField(_("motif de l'ASP"), blank=True, editable=False)
    invoice_number = models.CharField(_("n° de facture"), max_length=64, blank=True)
    invoice_date = models.DateField(_("date de facture"), null=True, blank=True)
    invoice_amount_ttc_cents = models.BigIntegerField(
        _("montant de la facture TTC (centimes)"), null=True, blank=True
    )
    invoice_pdf = models.FileField(_("facture (PDF)"), upload_to="factures/", blank=True)
    invoice_sha256 = models.CharField(_("empreinte de la facture"), max_length=64, blank=True)
    checks = models.JSONField(_("vérifications"), default=dict, blank=True, editable=False)
    deadline_missed_at = models.DateTimeField(
        _("échéance de dépôt dépassée le"), null=True, blank=True, editable=False
    )
    deadline_missed_reason = models.TextField(
        _("motif : échéance de dépôt dépassée"), blank=True, editable=False
    )
    deadline_missed_notified_at = models.DateTimeField(
        _("fournisseur averti du retard le"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("demande de paiement")
        verbose_name_plural = _("demandes de paiement")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "kind"],
                condition=models.Q(status__in=LIVE_CLAIM_STATUSES, amends__isnull=True),
                name="claim_one_live_per_order_and_kind",
            ),
            models.UniqueConstraint(
                fields=["filing", "line_number"], name="claim_unique_line_in_filing"
            ),
            models.CheckConstraint(
                condition=models.Q(kind="compensation")
                | models.Q(amount_ht_cents__gt=0, amount_ttc_cents__gt=0),
                name="claim_amount_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "status"]),
            # The claims of one week the dashboard's tally reads afresh (dashboard.tally).
            models.Index(fields=["dispositif", "created_at"], name="claim_dispositif_created"),
            models.Index(fields=["dispositif", "submitted_at"], name="claim_dispositif_submitted"),
            models.Index(fields=["dispositif", "paid_on"], name="claim_dispositif_paid"),
            # The claims still to file of a dispositif (`payments.selectors.unfiled_claims`) in
            # the order of their keys: a list of them stops at its LIMIT without reading the
            # filed ones, nor any row (its filters on the kind and the creation read the index).
            models.Index(
                fields=["dispositif", "id"],
                include=["kind", "created_at"],
                condition=models.Q(
                    status__in=UNFILED_CLAIM_STATUSES, deadline_missed_at__isnull=True
                ),
                name="claim_unfiled_by_dispositif",
            ),
        ]

    def __str__(self) -> str:
        avenant = " (avenant)" if self.amends_id else ""
        # The label straight from the enum: 10,000 claims journaled at once name themselves.
        kind = ClaimKind(self.kind).label
        return f"{kind}{avenant} – {PurchaseOrder.reference_of(self.order_id)}"

    @transition(
        field=status,
        source=ClaimStatus.DRAFT,
        target=ClaimStatus.READY,
        conditions=[claim_rules_met],
        custom={"label": _("Vérifier et marquer prête")},
    )
    def make_ready(self, *, at: dt.datetime, checks: dict) -> None:
        self.ready_at = at
        self.checks = checks

    @transition(
        field=status,
        source=ClaimStatus.READY,
        target=ClaimStatus.SUBMITTED,
        conditions=[filing_deadline_not_passed],
        custom={"label": _("Déposer dans un fichier ASP")},
    )
    def submit(self, *, at: dt.datetime, filing_id: int, line_number: int) -> None:
        self.submitted_at = at
        self.filing_id = filing_id
        self.line_number = line_number
        # In time at this instant (its guard): a mark of an earlier deadline, since moved by
        # a newer calendar version, no longer holds (the journal keeps it).
        self.deadline_missed_at = None
        self.deadline_missed_reason = ""
        self.deadline_missed_notified_at = None

    @transition(
        field=status,
        source=ClaimStatus.SUBMITTED,
        target=ClaimStatus.READY,
        custom={"label": _("Retirer d'un dépôt écarté avant transmission")},
    )
    def withdraw_from_filing(self) -> None:
        """Its filing was set aside before it reached the ASP (`transmit_filing`): the claim
        was never deposited and leaves the filing."""
        self.submitted_at = None
        self.filing = None
        self.line_number = None

    @transition(
        field=status,
        source=ClaimStatus.SUBMITTED,
        target=ClaimStatus.VALIDATED,
        custom={"label": _("Validée par l'ASP")},
    )
    def validate(self, *, at: dt.datetime) -> None:
        self.validated_at = at

    @transition(
        field=status,
        source=[ClaimStatus.SUBMITTED, ClaimStatus.VALIDATED],
        target=ClaimStatus.PAID,
        custom={"label": _("Décidée et payée")},
    )
    def pay(self, *, paid_on: dt.date, paid_amount_cents: int) -> None:
        if not paid_amount_admissible(
            claimed_cents=self.amount_ttc_cents, paid_cents=paid_amount_cents
        ):
            raise RuleViolation(
                "paid_amount_invalid",
                _("Le montant payé (%(paid)s c) doit être positif et au plus celui demandé."),
                field="paid_amount_cents",
                paid=paid_amount_cents,
            )
        self.paid_on = paid_on
        self.paid_amount_cents = paid_amount_cents

    @transition(
        field=status,
        source=ClaimStatus.SUBMITTED,
        target=ClaimStatus.TO_CORRECT,
        custom={"label": _("À modifier (ASP)")},
    )
    def ask_correction(self, *, agency_reason: str) -> None:
        self._require_reason(agency_reason)
        self.agency_reason = agency_reason.strip()

    @transition(
        field=status,
        source=ClaimStatus.TO_CORRECT,
        target=ClaimStatus.DRAFT,
        custom={"label": _("Reprendre en brouillon")},
    )
    def reopen(self) -> None:
        self.filing = None
        self.line_number = None
        self.ready_at = None

    @transition(
        field=status,
        source=[ClaimStatus.SUBMITTED, ClaimStatus.VALIDATED],
        target=ClaimStatus.REJECTED,
        custom={"label": _("Rejetée (ASP)")},
    )
    def reject(self, *, agency_reason: str) -> None:
        self._require_reason(agency_reason)
        self.agency_reason = agency_reason.strip()

    @transition(
        field=status,
        source=[ClaimStatus.DRAFT, ClaimStatus.READY, ClaimStatus.TO_CORRECT],
        target=ClaimStatus.CANCELLED,
        custom={"label": _("Annuler la demande")},
    )
    def cancel(self) -> None:
        """Withdrawn before the agency decides (a client removed from the périmètre...)."""

    def _require_reason(self, reason: str) -> None:
        if not reason.strip():
            raise RuleViolation(
                "agency_reason_required",
                _("L'ASP doit donner son motif."),
                field="agency_reason",
            )
