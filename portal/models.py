"""What the vendor portal keeps of its own: failed sign-ins (the lockouts) and bulk order files.

Neither is a domain object with a state machine: a lock is a counter, a bulk file is a job
record whose progress a page follows. Both are written by `portal.services` only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.models import Vendor


class LoginFailure(models.Model):
    """Failed sign-ins for one username from one address; locked once they are too many."""

    username = models.CharField(_("identifiant"), max_length=150)
    ip_address = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    failures = models.PositiveIntegerField(_("échecs"), default=0)
    last_failed_at = models.DateTimeField(_("dernier échec le"))
    locked_until = models.DateTimeField(_("bloqué jusqu'au"), null=True, blank=True)

    class Meta:
        verbose_name = _("échec de connexion au portail")
        verbose_name_plural = _("échecs de connexion au portail")
        constraints = [
            models.UniqueConstraint(
                fields=["username", "ip_address"], name="portal_loginfailure_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.username} ({self.ip_address}) : {self.failures}"


class SignInThrottle(models.Model):
    """Failed sign-ins counted across usernames for one address, or across addresses for one
    account, over a window of PORTAL_LOCKOUT_MINUTES; locked once they are too many. The pair
    (username, address) has its own, lower, limit in LoginFailure."""

    class Scope(models.TextChoices):
        ADDRESS = "address", _("adresse IP (tous identifiants)")
        ACCOUNT = "account", _("identifiant (toutes adresses)")

    scope = models.CharField(_("portée"), max_length=8, choices=Scope.choices)
    key = models.CharField(_("adresse ou identifiant"), max_length=150)
    failures = models.PositiveIntegerField(_("échecs"), default=0)
    window_started_at = models.DateTimeField(_("premier échec compté le"))
    last_failed_at = models.DateTimeField(_("dernier échec le"))
    locked_until = models.DateTimeField(_("bloqué jusqu'au"), null=True, blank=True)

    class Meta:
        verbose_name = _("limite de connexion")
        verbose_name_plural = _("limites de connexion (par adresse, par compte)")
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="portal_signinthrottle_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.key} : {self.failures}"


class ImportStatus(models.TextChoices):
    CHECKING = "checking", _("Vérification en cours")
    INVALID = "invalid", _("Erreurs à corriger")
    VALID = "valid", _("Prêt à être confirmé")
    PROCESSING = "processing", _("Création en cours")
    DONE = "done", _("Terminé")
    FAILED = "failed", _("Échec")


class BulkImport(models.Model):
    """A file of orders a vendor uploaded: checked line by line, created once confirmed."""

    vendor = models.ForeignKey(
        Vendor, on_delete=models.PROTECT, related_name="+", verbose_name=_("fournisseur")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("déposé par"),
    )
    created_at = models.DateTimeField(_("déposé le"))
    file = models.FileField(_("fichier"), upload_to="portail/imports/")
    file_name = models.CharField(_("nom du fichier"), max_length=255)
    sha256 = models.CharField(_("empreinte SHA-256"), max_length=64)
    status = models.CharField(
        _("état"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.CHECKING
    )
    total_rows = models.PositiveIntegerField(_("lignes"), default=0)
    processed_rows = models.PositiveIntegerField(_("lignes traitées"), default=0)
    errors = models.JSONField(_("erreurs"), default=list, blank=True)
    planned = models.JSONField(_("BDC prévus, par état"), default=dict, blank=True)
    created_orders = models.JSONField(_("BDC créés"), default=list, blank=True)
    confirmed_at = models.DateTimeField(_("confirmé le"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("dépôt de BDC en masse")
        verbose_name_plural = _("dépôts de BDC en masse")
        ordering = ["-id"]
        indexes = [models.Index(fields=["vendor", "created_at"])]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 0
        return min(100, self.processed_rows * 100 // self.total_rows)

    @property
    def in_progress(self) -> bool:
        return self.status in (ImportStatus.CHECKING, ImportStatus.PROCESSING)
