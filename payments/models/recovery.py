"""Recovery (mise en recouvrement) of sums received for a prestation that was not delivered."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.errors import RuleViolation
from sons.models import PurchaseOrder
from sons.models.parts import OrderPart


class RecoveryStatus(models.TextChoices):
    OPEN = "open", _("Ouvert")
    NOTIFIED = "notified", _("Notifié au fournisseur")
    SETTLED = "settled", _("Soldé (remboursé)")
    CANCELLED = "cancelled", _("Annulé")


class RecoveryCause(models.TextChoices):
    DEFAULT = "default", _("Défaillance du fournisseur après une avance payée")
    REALISATION = "realisation", _("Fin de réalisation dépassée sans achèvement")
    CONTROL = "control", _("Contrôle a posteriori")
    CANCELLED = "cancelled", _("BDC annulé ou écarté après une avance payée")


# A recovery under way: a second one on the same order is refused, the sweep opens none.
LIVE_RECOVERY_STATUSES = [RecoveryStatus.OPEN, RecoveryStatus.NOTIFIED]


class Recovery(ConcurrentTransitionMixin, OrderPart):
    order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, related_name="recoveries", verbose_name=_("BDC")
    )
    cause = models.CharField(_("cause"), max_length=16, choices=RecoveryCause.choices)
    status = FSMField(
        _("état"),
        max_length=16,
        choices=RecoveryStatus.choices,
        default=RecoveryStatus.OPEN,
        protected=True,
    )
    received_cents = models.BigIntegerField(_("sommes reçues (centimes)"))
    offset_cents = models.BigIntegerField(_("sommes compensées (centimes)"))
    amount_cents = models.BigIntegerField(_("montant à recouvrer (centimes)"))
    opened_at = models.DateTimeField(_("ouvert le"))
    reason = models.TextField(_("motif"))
    notice_pdf = models.FileField(
        _("avis de recouvrement (PDF)"), upload_to="recouvrements/", blank=True
    )
    notice_sha256 = models.CharField(_("empreinte de l'avis"), max_length=64, blank=True)
    notified_at = models.DateTimeField(_("notifié le"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("clos le"), null=True, blank=True, editable=False)
    settled_cents = models.BigIntegerField(
        _("montant remboursé (centimes)"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("recouvrement")
        verbose_name_plural = _("recouvrements")
        # The dashboard's figures of a dispositif, by state (sons.models.parts).
        indexes = [
            models.Index(
                fields=["dispositif", "status"],
                include=["opened_at", "notified_at", "closed_at"],
                name="recovery_by_dispositif",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(status__in=["open", "notified"]),
                name="recovery_one_live_per_order",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_cents__gt=0), name="recovery_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Recouvrement {self.order.reference}"

    @transition(
        field=status,
        source=RecoveryStatus.OPEN,
        target=RecoveryStatus.NOTIFIED,
        custom={"label": _("Notifier (avis de recouvrement)")},
    )
    def notify(self, *, at: dt.datetime) -> None:
        self.notified_at = at

    @transition(
        field=status,
        source=RecoveryStatus.NOTIFIED,
        target=RecoveryStatus.SETTLED,
        custom={"label": _("Constater le remboursement")},
    )
    def settle(self, *, at: dt.datetime, settled_cents: int) -> None:
        if settled_cents != self.amount_cents:
            raise RuleViolation(
                "recovery_amount_mismatch",
                _("Le remboursement (%(paid)s c) doit égaler le montant recouvré (%(due)s c)."),
                field="settled_cents",
                paid=settled_cents,
                due=self.amount_cents,
            )
        self.settled_cents = settled_cents
        self.closed_at = at

    @transition(
        field=status,
        source=[RecoveryStatus.OPEN, RecoveryStatus.NOTIFIED],
        target=RecoveryStatus.CANCELLED,
        custom={"label": _("Annuler le recouvrement")},
    )
    def cancel(self, *, at: dt.datetime) -> None:
        self.closed_at = at
