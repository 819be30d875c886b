"""Gates before the solde: Ordonnance numérique pre-series, pilot périmètre, usage measurements."""

from __future__ import annotations

import datetime as dt

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from catalogue.models import Referencing, SolutionVersion
from core.errors import RuleViolation

from .order import PurchaseOrder


class PreseriesStatus(models.TextChoices):
    NOT_STARTED = "not_started", _("Non commencée")
    IN_PROGRESS = "in_progress", _("En cours")
    SUBMITTED = "submitted", _("Soumise")
    VALIDATED = "validated", _("Validée")
    REJECTED = "rejected", _("Rejetée")


class OnPreseries(ConcurrentTransitionMixin, models.Model):
    """Ordonnance numérique pre-series of a solution version, run with pilot prescribers."""

    solution_version = models.OneToOneField(
        SolutionVersion, on_delete=models.PROTECT, related_name="on_preseries"
    )
    status = FSMField(
        _("état"),
        max_length=16,
        choices=PreseriesStatus.choices,
        default=PreseriesStatus.NOT_STARTED,
        protected=True,
    )
    pilots = models.JSONField(
        _("pilotes (médecins et pharmaciens)"), default=list, blank=True, editable=False
    )
    submitted_at = models.DateTimeField(_("soumise le"), null=True, blank=True, editable=False)
    decided_at = models.DateTimeField(_("décidée le"), null=True, blank=True, editable=False)
    rejection_reasons = models.TextField(_("motifs du rejet"), blank=True, editable=False)

    class Meta:
        verbose_name = _("présérie Ordonnance numérique")
        verbose_name_plural = _("préséries Ordonnance numérique")

    def __str__(self) -> str:
        return f"Présérie ON – {self.solution_version}"

    @transition(
        field=status,
        source=[PreseriesStatus.NOT_STARTED, PreseriesStatus.REJECTED],
        target=PreseriesStatus.IN_PROGRESS,
        custom={"label": _("Démarrer la présérie")},
    )
    def start(self, *, pilots: list[dict]) -> None:
        roles = {p.get("role") for p in pilots}
        if not {"medecin", "pharmacien"} <= roles:
            raise RuleViolation(
                "preseries_pilots_incomplete",
                _("La présérie exige au moins un médecin et un pharmacien pilotes."),
                field="pilots",
            )
        self.pilots = pilots
        self.rejection_reasons = ""

    @transition(
        field=status,
        source=PreseriesStatus.IN_PROGRESS,
        target=PreseriesStatus.SUBMITTED,
        custom={"label": _("Soumettre la présérie")},
    )
    def submit(self, *, at: dt.datetime) -> None:
        self.submitted_at = at

    @transition(
        field=status,
        source=PreseriesStatus.SUBMITTED,
        target=PreseriesStatus.VALIDATED,
        custom={"label": _("Valider la présérie")},
    )
    def validate(self, *, at: dt.datetime) -> None:
        self.decided_at = at

    @transition(
        field=status,
        source=PreseriesStatus.SUBMITTED,
        target=PreseriesStatus.REJECTED,
        custom={"label": _("Rejeter la présérie")},
    )
    def reject(self, *, at: dt.datetime, reasons: str) -> None:
        if not reasons.strip():
            raise RuleViolation(
                "preseries_reasons_required",
                _("Un rejet de présérie doit être motivé."),
                field="rejection_reasons",
            )
        self.decided_at = at
        self.rejection_reasons = reasons.strip()


class PilotStatus(models.TextChoices):
    OPEN = "open", _("Pilote en cours")
    PUBLISHED = "published", _("Succès du pilote publié")


class PilotPerimeter(ConcurrentTransitionMixin, models.Model):
    """The pilot périmètre of a referenced solution (HOP vague 2): N sites, then publication."""

    referencing = models.OneToOneField(
        Referencing, on_delete=models.PROTECT, related_name="pilot_perimeter"
    )
    status = FSMField(
        _("état"),
        max_length=16,
        choices=PilotStatus.choices,
        default=PilotStatus.OPEN,
        protected=True,
    )
    published_at = models.DateTimeField(
        _("succès publié le"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("périmètre pilote")
        verbose_name_plural = _("périmètres pilotes")

    def __str__(self) -> str:
        return f"Pilote {self.referencing}"

    @transition(
        field=status,
        source=PilotStatus.OPEN,
        target=PilotStatus.PUBLISHED,
        custom={"label": _("Publier le succès du pilote")},
    )
    def publish(self, *, at: dt.datetime, required_sites: int) -> None:
        sites = list(self.sites.all())
        with_pv = [s for s in sites if s.pv_signed_on is not None]
        if len(with_pv) < required_sites:
            raise RuleViolation(
                "pilot_incomplete",
                _(
                    "Le succès du pilote ne peut être publié qu'avec %(required)s sites pilotes "
                    "ayant leur PV d'installation (%(count)s à ce jour)."
                ),
                field="sites",
                required=required_sites,
                count=len(with_pv),
            )
        self.published_at = at


class PilotSite(models.Model):
    perimeter = models.ForeignKey(PilotPerimeter, on_delete=models.CASCADE, related_name="sites")
    order = models.OneToOneField(PurchaseOrder, on_delete=models.PROTECT, related_name="pilot_site")
    designated_at = models.DateTimeField(_("désigné le"))
    pv_signed_on = models.DateField(_("PV d'installation signé le"), null=True, blank=True)
    pv_sha256 = models.CharField(_("empreinte du PV"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("site pilote")
        verbose_name_plural = _("sites pilotes")

    def __str__(self) -> str:
        return f"Site pilote {self.order.client.legal_name}"


class UsageMeasurement(models.Model):
    """Documents produced and sent (DMP / Mon espace santé, INS qualifiée) in one month."""

    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="usage")
    month = models.DateField(_("mois"), help_text=_("Premier jour du mois mesuré."))
    produced = models.PositiveIntegerField(_("documents produits"))
    sent = models.PositiveIntegerField(
        _("documents envoyés avec INS qualifiée"), validators=[MinValueValidator(0)]
    )
    recorded_at = models.DateTimeField(_("enregistré le"), auto_now=True)

    class Meta:
        verbose_name = _("mesure d'usage")
        verbose_name_plural = _("mesures d'usage")
        ordering = ["order", "month"]
        constraints = [
            models.UniqueConstraint(fields=["order", "month"], name="usage_one_per_month"),
            models.CheckConstraint(
                condition=models.Q(sent__lte=models.F("produced")), name="usage_sent_le_produced"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.reference} {self.month:%m/%Y} : {self.sent}/{self.produced}"
