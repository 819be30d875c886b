"""The deployment of an order: install, configure, train, until the client verifies it."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from catalogue.deadlines import is_in_time, start_of_day_paris
from core.errors import RuleViolation

from .order import PurchaseOrder
from .parts import OrderPart


class DeploymentStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Planifié (date ferme)")
    IN_PROGRESS = "in_progress", _("En cours")
    INSTALLED = "installed", _("Installé")
    VERIFIED = "verified", _("Vérifié")
    ABANDONED = "abandoned", _("Abandonné")


LIVE_DEPLOYMENT_STATUSES = [
    DeploymentStatus.SCHEDULED,
    DeploymentStatus.IN_PROGRESS,
    DeploymentStatus.INSTALLED,
    DeploymentStatus.VERIFIED,
]


def firm_date_fits(firm_date: dt.date, realisation_deadline_at: dt.datetime | None) -> bool:
    """A firm date fits when its day starts before the end of réalisation (that day included)."""
    if realisation_deadline_at is None:
        return True
    return is_in_time(start_of_day_paris(firm_date), realisation_deadline_at)


class DeploymentQuerySet(models.QuerySet):
    def live(self) -> DeploymentQuerySet:
        """The deployments that hold the order's one live place: any but abandoned."""
        return self.filter(status__in=LIVE_DEPLOYMENT_STATUSES)


class Deployment(ConcurrentTransitionMixin, OrderPart):
    order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, related_name="deployments", verbose_name=_("BDC")
    )
    status = FSMField(
        _("état"),
        max_length=16,
        choices=DeploymentStatus.choices,
        default=DeploymentStatus.SCHEDULED,
        protected=True,
    )
    firm_date = models.DateField(_("date ferme de réalisation"))
    firm_date_confirmed_at = models.DateTimeField(_("date ferme confirmée le"))
    started_at = models.DateTimeField(_("commencé le"), null=True, blank=True, editable=False)
    installed_at = models.DateTimeField(_("installé le"), null=True, blank=True, editable=False)
    verified_at = models.DateTimeField(_("vérifié le"), null=True, blank=True, editable=False)
    abandoned_at = models.DateTimeField(_("abandonné le"), null=True, blank=True, editable=False)
    abandon_reason = models.TextField(_("motif de l'abandon"), blank=True, editable=False)

    objects = DeploymentQuerySet.as_manager()

    class Meta:
        verbose_name = _("déploiement")
        verbose_name_plural = _("déploiements")
        # The deployments of one week the dashboard's tally reads afresh (dashboard.tally).
        indexes = [
            models.Index(
                fields=["dispositif", "firm_date_confirmed_at"], name="deployment_confirmed"
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(status__in=LIVE_DEPLOYMENT_STATUSES),
                name="deployment_one_live_per_order",
            )
        ]

    def __str__(self) -> str:
        return f"Déploiement {self.order.reference} (date ferme {self.firm_date:%d/%m/%Y})"

    @transition(
        field=status,
        source=DeploymentStatus.SCHEDULED,
        target=DeploymentStatus.IN_PROGRESS,
        custom={"label": _("Commencer")},
    )
    def start(self, *, at: dt.datetime) -> None:
        self.started_at = at

    @transition(
        field=status,
        source=DeploymentStatus.IN_PROGRESS,
        target=DeploymentStatus.INSTALLED,
        custom={"label": _("Déclarer installé")},
    )
    def install(self, *, at: dt.datetime) -> None:
        self.installed_at = at

    @transition(
        field=status,
        source=DeploymentStatus.INSTALLED,
        target=DeploymentStatus.VERIFIED,
        custom={"label": _("Déclarer vérifié")},
    )
    def verify(self, *, at: dt.datetime) -> None:
        self.verified_at = at

    @transition(
        field=status,
        source=[
            DeploymentStatus.SCHEDULED,
            DeploymentStatus.IN_PROGRESS,
            DeploymentStatus.INSTALLED,
        ],
        target=DeploymentStatus.ABANDONED,
        custom={"label": _("Abandonner")},
    )
    def abandon(self, *, at: dt.datetime, abandon_reason: str) -> None:
        if not abandon_reason.strip():
            raise RuleViolation(
                "abandon_reason_required",
                _("L'abandon d'un déploiement doit être motivé."),
                field="abandon_reason",
            )
        self.abandoned_at = at
        self.abandon_reason = abandon_reason.strip()
