"""Dispositifs (couloir x type de logiciel x vague), their versioned calendars and tariffs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import DeadlineKind, WindowUnit, start_of_day_paris
from catalogue.rules import TariffKind, TariffSpec, Term, Tier


class Couloir(models.TextChoices):
    MEDECINS_DE_VILLE = "medecins_de_ville", _("Médecins de ville")
    HOPITAL = "hopital", _("Hôpital")
    IMAGERIE = "imagerie", _("Imagerie")
    BIOLOGIE = "biologie", _("Biologie médicale")
    OFFICINES = "officines", _("Officines")
    OPERATEURS_MSSANTE = "operateurs_mssante", _("Opérateurs MSSanté")
    MEDICO_SOCIAL = "medico_social", _("Médico-social")
    SAGES_FEMMES = "sages_femmes", _("Sages-femmes")
    CHIRURGIENS_DENTISTES = "chirurgiens_dentistes", _("Chirurgiens-dentistes")
    PARAMEDICAUX = "paramedicaux", _("Paramédicaux")


class Acceptance(models.TextChoices):
    VA = "va", _("Vérification d'aptitude (VA)")
    MOM = "mom", _("Mise en ordre de marche (MOM)")
    VA_OR_MOM = "va_or_mom", _("VA ou MOM")
    PILOT_PV = "pilot_pv", _("PV d'installation pilote")


class Prestation(models.TextChoices):
    MAIN = "main", _("Prestation principale")
    SECONDARY = "secondary", _("Prestation secondaire")


class Dispositif(models.Model):
    """One SONS: one couloir x one software type x one vague, governed by one arrêté."""

    code = models.SlugField(_("code"), max_length=40, unique=True, help_text="ex. MDV-LGC-V1")
    couloir = models.CharField(_("couloir"), max_length=32, choices=Couloir.choices)
    software_type = models.CharField(_("type de logiciel"), max_length=32)
    vague = models.PositiveSmallIntegerField(_("vague"), validators=[MinValueValidator(1)])
    title = models.CharField(_("intitulé"), max_length=255)
    arrete = models.TextField(_("arrêté"), blank=True)
    jorf_date = models.DateField(_("date de publication au JORF"), null=True, blank=True)
    nor = models.CharField(_("NOR"), max_length=20, blank=True)
    advance_rate = models.DecimalField(
        _("taux d'avance"),
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text=_("Part du montant versée en avance, ex. 0,30 pour 30 %."),
    )
    acceptance = models.CharField(
        _("document de recette exigé"), max_length=16, choices=Acceptance.choices, blank=True
    )
    cutoff_time = models.TimeField(_("heure limite par défaut"), default=dt.time(14, 0))
    conditional_window_amount = models.PositiveIntegerField(
        _("délai des commandes sous condition"),
        null=True,
        blank=True,
        help_text=_("Vide : commandes sous condition de référencement non admises ou non connues."),
    )
    conditional_window_unit = models.CharField(
        _("unité du délai"), max_length=8, choices=WindowUnit.choices, blank=True
    )
    pilot_size = models.PositiveSmallIntegerField(
        _("taille du périmètre pilote"),
        null=True,
        blank=True,
        help_text=_(
            "Nombre d'établissements pilotes exigés avant les soldes ; vide si sans objet."
        ),
    )
    requires_on_preseries = models.BooleanField(
        _("présérie Ordonnance numérique exigée"), default=False
    )
    acceptance_statements = models.JSONField(
        _("attestations de la VA"),
        default=list,
        blank=True,
        help_text=_(
            "Ce que le client atteste en signant la VA, propre au dispositif ; vide : "
            "l'attestation générale de bon fonctionnement."
        ),
    )
    sources = models.TextField(_("sources"), blank=True)

    class Meta:
        verbose_name = _("dispositif")
        verbose_name_plural = _("dispositifs")
        ordering = ["vague", "couloir", "code"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(conditional_window_amount__isnull=True, conditional_window_unit="")
                    | models.Q(
                        conditional_window_amount__isnull=False,
                        conditional_window_unit__in=WindowUnit.values,
                    )
                ),
                name="dispositif_conditional_window_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} – {self.title}"

    @property
    def allows_conditional_orders(self) -> bool:
        return self.conditional_window_amount is not None

    def missing_data(self) -> list[str]:
        """What the catalogue does not know yet (shown in the admin, never invented)."""
        missing = []
        if self.advance_rate is None:
            missing.append(str(_("taux d'avance")))
        if not self.acceptance:
            missing.append(str(_("document de recette")))
        if not self.arrete:
            missing.append(str(_("arrêté")))
        if not self.tariffs.exists():
            missing.append(str(_("barème")))
        known = set(
            Deadline.objects.filter(version__dispositif=self).values_list("kind", flat=True)
        )
        for kind in (
            DeadlineKind.ORDERS,
            DeadlineKind.ADVANCES,
            DeadlineKind.REALISATION,
            DeadlineKind.SOLDES,
        ):
            if kind not in known:
                missing.append(str(_("échéance : %(kind)s") % {"kind": kind.label}))
        return missing


class UsageGate(models.Model):
    """A usage threshold that must be met before a payment (e.g. 10 DMP documents with INS)."""

    class Comparison(models.TextChoices):
        GTE = "gte", "≥"
        GT = "gt", ">"

    dispositif = models.ForeignKey(Dispositif, on_delete=models.CASCADE, related_name="usage_gates")
    prestation = models.CharField(_("prestation"), max_length=16, choices=Prestation.choices)
    indicator = models.SlugField(_("indicateur"), max_length=64)
    label = models.CharField(_("libellé"), max_length=255)
    comparison = models.CharField(_("comparaison"), max_length=4, choices=Comparison.choices)
    threshold = models.DecimalField(_("seuil"), max_digits=12, decimal_places=4)
    observation_months = models.PositiveSmallIntegerField(
        _("période d'observation (mois)"), null=True, blank=True
    )

    class Meta:
        verbose_name = _("condition d'usage")
        verbose_name_plural = _("conditions d'usage")
        constraints = [
            models.UniqueConstraint(
                fields=["dispositif", "prestation", "indicator"], name="usagegate_unique"
            )
        ]

    def __str__(self) -> str:
        return self.label


class CalendarVersion(models.Model):
    """One published version of a dispositif's calendar (founding arrêté or arrêté modificatif).

    A version lists only the deadlines it sets or moves; for each kind, the deadline in force at
    an instant comes from the newest version published at or before that instant.
    """

    dispositif = models.ForeignKey(
        Dispositif, on_delete=models.CASCADE, related_name="calendar_versions"
    )
    legal_reference = models.CharField(_("référence juridique"), max_length=500)
    founding = models.BooleanField(
        _("calendrier initial"),
        default=False,
        help_text=_("Le calendrier de l'arrêté fondateur, en vigueur dès l'origine du dispositif."),
    )
    published_on = models.DateField(
        _("publié le"),
        null=True,
        blank=True,
        help_text=_(
            "Vide quand la date de publication n'est pas connue : un calendrier initial s'applique "
            "alors dès l'origine, une modification n'est pas appliquée tant que la date manque."
        ),
    )
    nor = models.CharField(_("NOR"), max_length=20, blank=True)
    source = models.TextField(_("source"), blank=True)

    class Meta:
        verbose_name = _("version du calendrier")
        verbose_name_plural = _("versions du calendrier")
        ordering = ["dispositif", "-founding", models.F("published_on").asc(nulls_last=True)]
        constraints = [
            models.UniqueConstraint(
                fields=["dispositif", "legal_reference"], name="calendarversion_unique_reference"
            ),
        ]

    def __str__(self) -> str:
        if self.published_on:
            return f"{self.legal_reference} (publié le {self.published_on:%d/%m/%Y})"
        return f"{self.legal_reference} ({'initial' if self.founding else 'publication à venir'})"

    @property
    def is_pending(self) -> bool:
        """A modification whose publication is not recorded: shown, never applied."""
        return self.published_on is None and not self.founding

    @property
    def in_force_from(self) -> dt.datetime | None:
        """None for a founding calendar without a known date: in force from the start."""
        return start_of_day_paris(self.published_on) if self.published_on else None


class Deadline(models.Model):
    version = models.ForeignKey(CalendarVersion, on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField(_("échéance"), max_length=32, choices=DeadlineKind.choices)
    at = models.DateTimeField(_("date et heure limites"))

    class Meta:
        verbose_name = _("échéance")
        verbose_name_plural = _("échéances")
        ordering = ["version", "at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "kind"], name="deadline_unique_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} : {self.at:%d/%m/%Y %H:%M}"


class Tariff(models.Model):
    """A tariff schedule (barème) of a dispositif's prestation, amounts in euro cents HT."""

    dispositif = models.ForeignKey(Dispositif, on_delete=models.CASCADE, related_name="tariffs")
    prestation = models.CharField(
        _("prestation"), max_length=16, choices=Prestation.choices, default=Prestation.MAIN
    )
    kind = models.CharField(_("type de barème"), max_length=16, choices=TariffKind.choices)
    vat_rate = models.DecimalField(
        _("taux de TVA"), max_digits=5, decimal_places=4, default=Decimal("0.20")
    )
    flat_cents = models.PositiveBigIntegerField(_("forfait HT (centimes)"), null=True, blank=True)
    characteristic = models.SlugField(
        _("caractéristique du client (tranches)"), max_length=64, blank=True
    )
    base_amount = models.DecimalField(
        _("part fixe HT (€)"), max_digits=14, decimal_places=4, default=Decimal(0)
    )
    cap_cents = models.PositiveBigIntegerField(_("plafond HT (centimes)"), null=True, blank=True)
    is_demo = models.BooleanField(
        _("barème de démonstration"),
        default=False,
        help_text=_("Barème fictif du jeu de démonstration : jamais présenté comme officiel."),
    )
    source = models.TextField(_("source"), blank=True)

    class Meta:
        verbose_name = _("barème")
        verbose_name_plural = _("barèmes")
        constraints = [
            models.UniqueConstraint(fields=["dispositif", "prestation"], name="tariff_unique"),
            models.CheckConstraint(
                condition=~models.Q(kind=TariffKind.FLAT) | models.Q(flat_cents__gt=0),
                name="tariff_flat_positive",
            ),
        ]

    def __str__(self) -> str:
        demo = " [DÉMO]" if self.is_demo else ""
        return f"{self.dispositif.code} – {self.get_prestation_display()}{demo}"

    def spec(self) -> TariffSpec:
        return TariffSpec(
            kind=self.kind,
            vat_rate=self.vat_rate,
            flat_cents=self.flat_cents,
            characteristic=self.characteristic,
            tiers=tuple(
                Tier(lower=t.lower, upper=t.upper, amount_cents=t.amount_cents)
                for t in self.tiers.order_by("lower")
            ),
            base_amount=self.base_amount,
            terms=tuple(
                Term(characteristic=t.characteristic, unit_amount=t.unit_amount)
                for t in self.terms.order_by("id")
            ),
            cap_cents=self.cap_cents,
        )


class TariffTier(models.Model):
    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="tiers")
    lower = models.DecimalField(_("à partir de (inclus)"), max_digits=16, decimal_places=2)
    upper = models.DecimalField(
        _("jusqu'à (exclu)"), max_digits=16, decimal_places=2, null=True, blank=True
    )
    amount_cents = models.PositiveBigIntegerField(_("montant HT (centimes)"))

    class Meta:
        verbose_name = _("tranche")
        verbose_name_plural = _("tranches")
        ordering = ["tariff", "lower"]
        constraints = [
            models.UniqueConstraint(fields=["tariff", "lower"], name="tariffier_unique_lower"),
            models.CheckConstraint(
                condition=models.Q(upper__isnull=True) | models.Q(upper__gt=models.F("lower")),
                name="tariffier_upper_above_lower",
            ),
        ]

    def __str__(self) -> str:
        return f"[{self.lower} ; {self.upper or '∞'}[ → {self.amount_cents} c"


class TariffTerm(models.Model):
    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="terms")
    characteristic = models.SlugField(_("caractéristique du client"), max_length=64)
    unit_amount = models.DecimalField(_("montant unitaire HT (€)"), max_digits=14, decimal_places=4)

    class Meta:
        verbose_name = _("terme de la formule")
        verbose_name_plural = _("termes de la formule")
        constraints = [
            models.UniqueConstraint(
                fields=["tariff", "characteristic"], name="tariffterm_unique_characteristic"
            )
        ]

    def __str__(self) -> str:
        return f"{self.unit_amount} € × {self.characteristic}"
