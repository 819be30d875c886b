"""One financing per client per dispositif: two vendors claiming one client are in conflict."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from catalogue.models import Dispositif

from .client import Client
from .order import PurchaseOrder


class ConflictStatus(models.TextChoices):
    OPEN = "open", _("En cours")
    SETTLED = "settled", _("Réglé")
    EXPIRED = "expired", _("Délai échu")


class Decision(models.TextChoices):
    PENDING = "pending", _("En attente de réponse")
    KEEP = "keep", _("Maintient sa commande")
    CHANGE = "change", _("Corrige sa commande")
    WITHDRAW = "withdraw", _("Retire sa commande")


class ClientConflict(ConcurrentTransitionMixin, models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="conflicts")
    dispositif = models.ForeignKey(Dispositif, on_delete=models.PROTECT, related_name="+")
    status = FSMField(
        _("état"),
        max_length=16,
        choices=ConflictStatus.choices,
        default=ConflictStatus.OPEN,
        protected=True,
    )
    opened_at = models.DateTimeField(_("ouvert le"))
    respond_by = models.DateTimeField(_("réponses attendues avant le"))
    closed_at = models.DateTimeField(_("clos le"), null=True, blank=True)

    class Meta:
        verbose_name = _("conflit de financement")
        verbose_name_plural = _("conflits de financement")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "dispositif"],
                condition=models.Q(status="open"),
                name="conflict_one_open_per_client_dispositif",
            )
        ]

    def __str__(self) -> str:
        return f"Conflit {self.client.legal_name} × {self.dispositif.code}"

    @transition(
        field=status,
        source=ConflictStatus.OPEN,
        target=ConflictStatus.SETTLED,
        custom={"label": _("Régler le conflit")},
    )
    def settle(self, *, at: dt.datetime) -> None:
        self.closed_at = at

    @transition(
        field=status,
        source=ConflictStatus.OPEN,
        target=ConflictStatus.EXPIRED,
        custom={"label": _("Constater l'échéance")},
    )
    def expire(self, *, at: dt.datetime) -> None:
        self.closed_at = at


class ConflictPosition(models.Model):
    """One vendor's order in a conflict, and what the vendor answered."""

    conflict = models.ForeignKey(ClientConflict, on_delete=models.CASCADE, related_name="positions")
    order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="positions")
    decision = models.CharField(
        _("réponse"), max_length=16, choices=Decision.choices, default=Decision.PENDING
    )
    decided_at = models.DateTimeField(_("répondu le"), null=True, blank=True)
    note = models.TextField(_("précisions"), blank=True)

    class Meta:
        verbose_name = _("position dans un conflit")
        verbose_name_plural = _("positions dans un conflit")
        constraints = [
            models.UniqueConstraint(fields=["conflict", "order"], name="position_unique_order")
        ]

    def __str__(self) -> str:
        return f"{self.order.reference} : {self.get_decision_display()}"
