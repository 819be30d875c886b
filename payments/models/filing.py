"""Filings to the paying agency: one JSON file and one zip of attachments per périmètre chunk."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from catalogue.models import Dispositif, Vendor

from .claim import ClaimKind


class FilingStatus(models.TextChoices):
    GENERATED = "generated", _("Généré")
    TRANSMITTED = "transmitted", _("Transmis à l'ASP")
    ACKNOWLEDGED = "acknowledged", _("Pris en compte par l'ASP")
    SET_ASIDE = "set_aside", _("Écarté : hors délai, non transmis")


class AspFiling(ConcurrentTransitionMixin, models.Model):
    """One « demande » as the ASP receives it: a vendor, a dispositif, a kind, numbered lines."""

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="filings")
    dispositif = models.ForeignKey(Dispositif, on_delete=models.PROTECT, related_name="filings")
    kind = models.CharField(
        _("nature"),
        max_length=16,
        # The claims' kinds, and the notices of completion (payments.models.completion).
        choices=[*ClaimKind.choices, ("achevement", _("Notification d'achèvement"))],
    )
    sequence = models.PositiveIntegerField(_("numéro d'ordre"))
    name = models.CharField(_("nom du fichier"), max_length=120, unique=True, editable=False)
    schema_version = models.CharField(_("version du schéma"), max_length=16)
    status = FSMField(
        _("état"),
        max_length=16,
        choices=FilingStatus.choices,
        default=FilingStatus.GENERATED,
        protected=True,
    )
    created_at = models.DateTimeField(_("créé le"))
    line_count = models.PositiveIntegerField(_("nombre de lignes"), default=0)
    total_ttc_cents = models.BigIntegerField(_("total demandé TTC (centimes)"), default=0)
    json_file = models.FileField(_("fichier JSON"), upload_to="asp/", blank=True)
    json_sha256 = models.CharField(_("empreinte du JSON"), max_length=64, blank=True)
    zip_file = models.FileField(_("pièces jointes (zip)"), upload_to="asp/", blank=True)
    zip_sha256 = models.CharField(_("empreinte du zip"), max_length=64, blank=True)
    transmitted_at = models.DateTimeField(_("transmis le"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("pris en compte le"), null=True, blank=True)
    set_aside_at = models.DateTimeField(_("écarté le"), null=True, blank=True, editable=False)
    set_aside_reason = models.TextField(_("motif de l'écart"), blank=True, editable=False)

    class Meta:
        verbose_name = _("dépôt ASP")
        verbose_name_plural = _("dépôts ASP")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "dispositif", "kind", "sequence"], name="filing_unique_sequence"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def file_stem(*, kind: str, dispositif: Dispositif, vendor: Vendor, sequence: int) -> str:
        """Deterministic file stem: SONS_<kind>_<dispositif>_<SIRET>_<sequence>."""
        return f"SONS_{kind}_{dispositif.code}_{vendor.siret}_{sequence:04d}"

    @transition(
        field=status,
        source=FilingStatus.GENERATED,
        target=FilingStatus.TRANSMITTED,
        custom={"label": _("Marquer transmis")},
    )
    def transmit(self, *, at: dt.datetime) -> None:
        self.transmitted_at = at

    @transition(
        field=status,
        source=FilingStatus.GENERATED,
        target=FilingStatus.SET_ASIDE,
        custom={"label": _("Écarter (hors délai, non transmis)")},
    )
    def set_aside(self, *, at: dt.datetime, grounds: str) -> None:
        """Its lines were late at the instant it was to be transmitted: it never reaches the
        ASP, its files stay as built (`payments.services.filings.transmit_filing`)."""
        self.set_aside_at = at
        self.set_aside_reason = grounds

    @transition(
        field=status,
        source=[FilingStatus.GENERATED, FilingStatus.TRANSMITTED],
        target=FilingStatus.ACKNOWLEDGED,
        custom={"label": _("Marquer pris en compte")},
    )
    def acknowledge(self, *, at: dt.datetime) -> None:
        self.transmitted_at = self.transmitted_at or at
        self.acknowledged_at = at


class FeedbackImport(models.Model):
    """A feedback file from the agency, kept with its hash so a second import changes nothing."""

    sha256 = models.CharField(_("empreinte"), max_length=64, unique=True)
    file_name = models.CharField(_("fichier"), max_length=255)
    imported_at = models.DateTimeField(_("importé le"))
    item_count = models.PositiveIntegerField(_("décisions"))
    moved_count = models.PositiveIntegerField(_("demandes modifiées"))

    class Meta:
        verbose_name = _("retour de l'ASP importé")
        verbose_name_plural = _("retours de l'ASP importés")

    def __str__(self) -> str:
        return self.file_name
