"""Clients (bénéficiaires): the professionals and sites whose software update the State pays."""

from __future__ import annotations

import contextlib
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.identifiers import (
    normalize_finess,
    normalize_rpps,
    normalize_siren,
    normalize_siret,
    validate_finess,
    validate_rpps,
    validate_siren,
    validate_siret,
)
from core.versioning import Versioned


class ClientKind(models.TextChoices):
    MEDECIN_LIBERAL = "medecin_liberal", _("Médecin libéral")
    SAGE_FEMME = "sage_femme", _("Sage-femme")
    CHIRURGIEN_DENTISTE = "chirurgien_dentiste", _("Chirurgien-dentiste")
    PARAMEDICAL = "paramedical", _("Professionnel paramédical")
    CENTRE_DE_SANTE = "centre_de_sante", _("Centre de santé")
    MSP = "msp", _("Maison de santé pluriprofessionnelle (MSP)")
    ETABLISSEMENT_DE_SANTE = "etablissement_de_sante", _("Établissement de santé")
    ESMS = "esms", _("Établissement ou service médico-social (ESMS)")
    OFFICINE = "officine", _("Officine")
    LABORATOIRE = "laboratoire", _("Laboratoire de biologie médicale")
    CABINET_IMAGERIE = "cabinet_imagerie", _("Cabinet d'imagerie")
    OPERATEUR_MSSANTE = "operateur_mssante", _("Opérateur de messagerie MSSanté")


PROFESSIONALS = {
    ClientKind.MEDECIN_LIBERAL,
    ClientKind.SAGE_FEMME,
    ClientKind.CHIRURGIEN_DENTISTE,
    ClientKind.PARAMEDICAL,
}

# Which identifiers a kind of client must carry: one of each inner tuple.
REQUIRED_IDENTIFIERS: dict[str, tuple[tuple[str, ...], ...]] = {
    **{kind: (("rpps",),) for kind in PROFESSIONALS},
    ClientKind.OPERATEUR_MSSANTE: (("siret", "siren"),),
    **{
        kind: (("finess", "siret"),)
        for kind in ClientKind.values
        if kind not in PROFESSIONALS and kind != ClientKind.OPERATEUR_MSSANTE
    },
}

IDENTIFIER_LABELS = {"rpps": "RPPS", "finess": "FINESS", "siret": "SIRET", "siren": "SIREN"}
NORMALIZERS = {
    "rpps": normalize_rpps,
    "finess": normalize_finess,
    "siret": normalize_siret,
    "siren": normalize_siren,
}


class Client(models.Model):
    """The client's public identity, shared by every vendor: its nature, its identifiers and its
    name. What a signing flow or a tariff relies on (contact details, MSSanté address,
    characteristics) belongs to each vendor's own relationship with it (`ClientRelationship`),
    which no other vendor can read or change: an identifier is public and proves nothing."""

    kind = models.CharField(_("nature"), max_length=32, choices=ClientKind.choices)
    legal_name = models.CharField(_("nom ou raison sociale"), max_length=255)
    rpps = models.CharField(_("RPPS"), max_length=11, blank=True, validators=[validate_rpps])
    finess = models.CharField(
        _("FINESS géographique"), max_length=9, blank=True, validators=[validate_finess]
    )
    siret = models.CharField(_("SIRET"), max_length=14, blank=True, validators=[validate_siret])
    siren = models.CharField(
        _("SIREN de la personne morale"), max_length=9, blank=True, validators=[validate_siren]
    )
    is_demo = models.BooleanField(_("donnée de démonstration"), default=False)

    class Meta:
        verbose_name = _("client (bénéficiaire)")
        verbose_name_plural = _("clients (bénéficiaires)")
        ordering = ["legal_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["rpps"], condition=~models.Q(rpps=""), name="client_unique_rpps"
            ),
            models.UniqueConstraint(
                fields=["finess"], condition=~models.Q(finess=""), name="client_unique_finess"
            ),
            models.UniqueConstraint(
                fields=["siret"], condition=~models.Q(siret=""), name="client_unique_siret"
            ),
        ]
        indexes = [models.Index(fields=["kind"])]

    def __str__(self) -> str:
        return f"{self.legal_name} ({self.identifier_label})"

    @property
    def identifier_label(self) -> str:
        for field in ("rpps", "finess", "siret", "siren"):
            if getattr(self, field):
                return f"{IDENTIFIER_LABELS[field]} {getattr(self, field)}"
        return "—"

    @property
    def identifiers(self) -> dict[str, str]:
        return {
            f: getattr(self, f) for f in ("rpps", "finess", "siret", "siren") if getattr(self, f)
        }

    def clean_fields(self, exclude=None) -> None:
        # Canonical form first (CPx "8"+RPPS to RPPS, no spaces), so the checks see what is stored.
        for field, normalize in NORMALIZERS.items():
            value = getattr(self, field)
            if value:
                with contextlib.suppress(ValidationError):
                    setattr(self, field, normalize(value))
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        errors: dict[str, list] = {}
        for alternatives in REQUIRED_IDENTIFIERS.get(self.kind, ()):
            if not any(getattr(self, f) for f in alternatives):
                names = " ou ".join(IDENTIFIER_LABELS[f] for f in alternatives)
                errors.setdefault(alternatives[0], []).append(
                    _("Un client de nature « %(kind)s » doit avoir un %(names)s.")
                    % {"kind": self.get_kind_display(), "names": names}
                )
        if self.siret and self.siren and self.siret[:9] != self.siren:
            errors.setdefault("siren", []).append(
                _("Le SIREN %(siren)s ne correspond pas au SIRET %(siret)s.")
                % {"siren": self.siren, "siret": self.siret}
            )
        if errors:
            raise ValidationError(errors)


CONTACT_FIELDS = ("address", "postal_code", "city", "email", "mssante_address", "characteristics")


class ClientRelationship(Versioned):
    """One vendor's record of one client (« fiche client du fournisseur »): the addresses its
    links and codes go to, the MSSanté address its VA names, the figures its tariff reads. Only
    that vendor reads or changes it; every change is journaled."""

    vendor = models.ForeignKey(
        "catalogue.Vendor",
        on_delete=models.PROTECT,
        related_name="client_relationships",
        verbose_name=_("fournisseur"),
    )
    client = models.ForeignKey(
        Client,
        on_delete=models.PROTECT,
        related_name="relationships",
        verbose_name=_("client"),
    )
    address = models.CharField(_("adresse"), max_length=255, blank=True)
    postal_code = models.CharField(_("code postal"), max_length=5, blank=True)
    city = models.CharField(_("commune"), max_length=128, blank=True)
    email = models.EmailField(_("courriel"), blank=True)
    mssante_address = models.EmailField(_("adresse MSSanté"), blank=True)
    characteristics = models.JSONField(
        _("caractéristiques (barèmes)"),
        default=dict,
        blank=True,
        help_text=_(
            "Ce que lisent les barèmes : nombre de médecins, tranche de chiffre d'affaires…"
        ),
    )
    created_at = models.DateTimeField(_("enregistré le"), default=timezone.now)

    class Meta:
        verbose_name = _("fiche client d'un fournisseur")
        verbose_name_plural = _("fiches clients des fournisseurs")
        constraints = [
            models.UniqueConstraint(fields=["vendor", "client"], name="client_relationship_unique")
        ]

    def __str__(self) -> str:
        return f"{self.client} – {self.vendor}"

    @property
    def contact_address(self) -> str:
        """Where the client's links and codes go: the e-mail, else the MSSanté address."""
        return self.email or self.mssante_address

    @property
    def contact(self) -> dict:
        return {name: getattr(self, name) for name in CONTACT_FIELDS}

    def clean(self) -> None:
        problem = characteristics_problem(self.characteristics)
        if problem:
            raise ValidationError({"characteristics": [problem]})


def characteristics_problem(characteristics: object) -> str | None:
    """Characteristics are named non-negative numbers (integers or decimal strings, no floats)."""
    if not isinstance(characteristics, dict):
        return str(_("Les caractéristiques doivent être un objet « nom : valeur »."))
    for name, value in characteristics.items():
        if isinstance(value, (bool, float)) or value is None:
            return str(
                _("La caractéristique « %(name)s » doit être un entier, ou un décimal en texte.")
                % {"name": name}
            )
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return str(_("La caractéristique « %(name)s » n'est pas un nombre.") % {"name": name})
        if not number.is_finite() or number < 0:
            return str(
                _("La caractéristique « %(name)s » ne peut pas être négative.") % {"name": name}
            )
    return None
