"""Vendors (éditeurs and distributeurs), their mandates, solutions and versions."""

from __future__ import annotations

import contextlib

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.identifiers import (
    normalize_bic,
    normalize_iban,
    normalize_siret,
    siren_of_siret,
    validate_bic,
    validate_iban,
    validate_siret,
)


class Vendor(models.Model):
    """A fournisseur: the éditeur of a software, or its official distributeur."""

    class Kind(models.TextChoices):
        EDITEUR = "editeur", _("Éditeur")
        DISTRIBUTEUR = "distributeur", _("Distributeur officiel")

    kind = models.CharField(_("nature"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("raison sociale"), max_length=255)
    siret = models.CharField(_("SIRET"), max_length=14, unique=True, validators=[validate_siret])
    cnda_nie = models.CharField(
        _("numéro CNDA (NIE)"), max_length=32, blank=True, help_text=_("Identifiant de l'éditeur.")
    )
    iban = models.CharField(_("IBAN"), max_length=34, blank=True, validators=[validate_iban])
    bic = models.CharField(_("BIC"), max_length=11, blank=True, validators=[validate_bic])
    contact_name = models.CharField(_("contact"), max_length=255, blank=True)
    contact_email = models.EmailField(_("courriel du contact"), blank=True)
    contact_phone = models.CharField(_("téléphone du contact"), max_length=32, blank=True)
    is_demo = models.BooleanField(_("donnée de démonstration"), default=False)

    class Meta:
        verbose_name = _("fournisseur")
        verbose_name_plural = _("fournisseurs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def siren(self) -> str:
        return siren_of_siret(self.siret)

    def clean_fields(self, exclude=None) -> None:
        # Canonical form first (no spaces, upper case), so the field checks see what is stored;
        # a value that cannot be normalised is left as typed for the validators to explain.
        for field, normalize in (
            ("siret", normalize_siret),
            ("iban", normalize_iban),
            ("bic", normalize_bic),
        ):
            value = getattr(self, field)
            if value:
                with contextlib.suppress(ValidationError):
                    setattr(self, field, normalize(value))
        super().clean_fields(exclude=exclude)


class DistributionMandate(models.Model):
    """The mandate by which an éditeur makes a distributeur its official distributor."""

    editor = models.ForeignKey(
        Vendor,
        on_delete=models.PROTECT,
        related_name="mandates_given",
        limit_choices_to={"kind": Vendor.Kind.EDITEUR},
        verbose_name=_("éditeur"),
    )
    distributor = models.ForeignKey(
        Vendor,
        on_delete=models.PROTECT,
        related_name="mandates_received",
        limit_choices_to={"kind": Vendor.Kind.DISTRIBUTEUR},
        verbose_name=_("distributeur"),
    )
    reference = models.CharField(_("référence du mandat"), max_length=64)
    valid_from = models.DateField(_("valable à partir du"))
    valid_until = models.DateField(_("valable jusqu'au"), null=True, blank=True)

    class Meta:
        verbose_name = _("mandat de distribution")
        verbose_name_plural = _("mandats de distribution")
        constraints = [
            models.UniqueConstraint(
                fields=["editor", "distributor", "reference"], name="mandate_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(editor=models.F("distributor")), name="mandate_two_parties"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.distributor} pour {self.editor} ({self.reference})"

    def covers(self, day) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


class Solution(models.Model):
    editor = models.ForeignKey(
        Vendor,
        on_delete=models.PROTECT,
        related_name="solutions",
        limit_choices_to={"kind": Vendor.Kind.EDITEUR},
        verbose_name=_("éditeur"),
    )
    name = models.CharField(_("nom commercial"), max_length=255)
    software_type = models.CharField(_("type de logiciel"), max_length=32)

    class Meta:
        verbose_name = _("solution")
        verbose_name_plural = _("solutions")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["editor", "name"], name="solution_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class SolutionVersion(models.Model):
    solution = models.ForeignKey(Solution, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(_("version"), max_length=64)
    cnda_nil = models.CharField(
        _("numéro CNDA (NIL)"), max_length=32, blank=True, help_text=_("Identifiant du logiciel.")
    )
    released_on = models.DateField(_("date de diffusion"), null=True, blank=True)

    class Meta:
        verbose_name = _("version de solution")
        verbose_name_plural = _("versions de solution")
        ordering = ["solution", "version"]
        constraints = [
            models.UniqueConstraint(fields=["solution", "version"], name="solutionversion_unique")
        ]

    def __str__(self) -> str:
        return f"{self.solution.name} {self.version}"


class VendorMember(models.Model):
    """A person who works for one vendor on the portal and the API (never for two)."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("administrateur du fournisseur")
        STAFF = "staff", _("collaborateur")

    user = models.OneToOneField(
        "auth.User",
        on_delete=models.CASCADE,
        related_name="vendor_membership",
        verbose_name=_("utilisateur"),
    )
    vendor = models.ForeignKey(
        Vendor, on_delete=models.PROTECT, related_name="members", verbose_name=_("fournisseur")
    )
    role = models.CharField(_("rôle"), max_length=8, choices=Role.choices, default=Role.STAFF)

    class Meta:
        verbose_name = _("membre d'un fournisseur")
        verbose_name_plural = _("membres des fournisseurs")

    def __str__(self) -> str:
        return f"{self.user} ({self.vendor})"

    @property
    def is_vendor_admin(self) -> bool:
        return self.role == self.Role.ADMIN
