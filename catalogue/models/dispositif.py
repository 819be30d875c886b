"""Dispositifs (couloir x type de logiciel x vague), their versioned calendars and tariffs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import (
    DeadlineKind,
    WindowUnit,
    deadline_day,
    format_deadline,
    start_of_day_paris,
)
from catalogue.rules import TariffKind, TariffSpec, Term, Tier, demo_tariff_problem


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
    public_max_ht_cents = models.PositiveBigIntegerField(
        _("montant maximal public HT (centimes)"),
        null=True,
        blank=True,
        help_text=_(
            "Le plus haut montant HT de la prestation principale que disent les sources publiques "
            "(ex. officines : 875 € HT), même quand le barème lui-même n'est pas public ; vide si "
            "non connu. Un barème de démonstration ne le dépasse jamais."
        ),
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
    prestation_variants = models.JSONField(
        _("variantes de la prestation"),
        default=list,
        blank=True,
        help_text=_(
            "Prestations distinctes offertes par le dispositif, avec leurs conditions "
            "d'éligibilité : liste de {code, label, eligibility, source}."
        ),
    )
    asp_openings = models.JSONField(
        _("ouvertures des guichets de l'ASP"),
        default=list,
        blank=True,
        help_text=_(
            "Dates et heures d'ouverture publiées par l'ASP (heure de Paris) : liste de "
            "{label, at, source}, at au format 2024-09-12T14:00."
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

    def prestation_variant(self, name: str) -> dict | None:
        """The prestation this dispositif offers under `name`, its code or its label (any case),
        or None."""
        wanted = (name or "").strip().casefold()
        for variant in self.prestation_variants or []:
            if wanted and wanted in (
                str(variant.get("code", "")).casefold(),
                str(variant.get("label", "")).casefold(),
            ):
                return variant
        return None

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
        elif self.tariffs.filter(tier_bounds_known=False).exists():
            missing.append(str(_("bornes des tranches du barème")))
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

    class Reading(models.TextChoices):
        # The values are sons.rules.PERIOD_RATE / EACH_MONTH (the rule that reads them).
        PERIOD_RATE = "period_rate", _("un taux sur toute la période d'observation")
        EACH_MONTH = "each_month", _("chaque mois de la période au-dessus du seuil")

    dispositif = models.ForeignKey(Dispositif, on_delete=models.CASCADE, related_name="usage_gates")
    prestation = models.CharField(_("prestation"), max_length=16, choices=Prestation.choices)
    indicator = models.SlugField(_("indicateur"), max_length=64)
    label = models.CharField(_("libellé"), max_length=255)
    comparison = models.CharField(_("comparaison"), max_length=4, choices=Comparison.choices)
    threshold = models.DecimalField(_("seuil"), max_digits=12, decimal_places=4)
    observation_months = models.PositiveSmallIntegerField(
        _("période d'observation (mois)"), null=True, blank=True
    )
    reading = models.CharField(
        _("lecture du seuil de taux"),
        max_length=16,
        choices=Reading.choices,
        default=Reading.PERIOD_RATE,
        help_text=_(
            "Pour un taux : un seul taux (envoyés / produits) sur une période d'au moins la durée "
            "d'observation en mois consécutifs, ou le seuil atteint chaque mois. Sans effet sur un "
            "seuil en nombre de documents."
        ),
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
    signed_on = models.DateField(
        _("signé le"),
        null=True,
        blank=True,
        help_text=_("Date de signature du texte, quand elle est connue (≠ date de publication)."),
    )
    in_force_on = models.DateField(
        _("appliqué à partir du"),
        null=True,
        blank=True,
        help_text=_(
            "Jour (0 h, heure de Paris) à partir duquel la version s'applique quand ce n'est pas "
            "le jour de la publication : l'entrée en vigueur fixée par le texte (ex. le lendemain "
            "de la publication) ou, pour une prolongation publiée à une date inconnue, sa date "
            "de signature (appliquer une prolongation plus tôt ne refuse aucun acte dans les "
            "temps). Vide : le jour de la publication."
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
        if self.in_force_on:
            return f"{self.legal_reference} (appliqué à partir du {self.in_force_on:%d/%m/%Y})"
        return f"{self.legal_reference} ({'initial' if self.founding else 'annoncé, à paraître'})"

    @property
    def is_pending(self) -> bool:
        """An announced modification (« arrêté à paraître ») whose publication is not recorded:
        shown as announced, never applied until an administrator records its publication."""
        return self.published_on is None and self.in_force_on is None and not self.founding

    @property
    def applies_from(self) -> dt.date | None:
        return self.in_force_on or self.published_on

    @property
    def in_force_from(self) -> dt.datetime | None:
        """None for a founding calendar without a known date: in force from the start."""
        day = self.applies_from
        return start_of_day_paris(day) if day else None


class Deadline(models.Model):
    version = models.ForeignKey(CalendarVersion, on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField(_("échéance"), max_length=32, choices=DeadlineKind.choices)
    at = models.DateTimeField(
        _("date et heure limites"),
        help_text=_(
            "L'instant limite. Sans heure dans la source : 24 h (heure de Paris) du jour "
            "indiqué, c'est-à-dire 0 h le lendemain."
        ),
    )
    hour_sourced = models.BooleanField(
        _("heure donnée par la source"),
        default=True,
        help_text=_(
            "Décoché : la source ne donne qu'un jour, l'échéance court jusqu'à la fin de ce jour "
            "(art. 642 CPC) ; jamais d'heure inventée."
        ),
    )

    class Meta:
        verbose_name = _("échéance")
        verbose_name_plural = _("échéances")
        ordering = ["version", "at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "kind"], name="deadline_unique_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} : {self.shown}"

    @property
    def shown(self) -> str:
        """« 30/11/2022 (fin de journée) » or « 14/12/2023 à 14:00 »."""
        return format_deadline(self.at, hour_sourced=self.hour_sourced)

    @property
    def day(self) -> dt.date:
        return deadline_day(self.at, hour_sourced=self.hour_sourced)


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
    floor_cents = models.PositiveBigIntegerField(
        _("plancher HT (centimes)"),
        null=True,
        blank=True,
        help_text=_("Le plus petit montant d'un barème par tranches, quand la source le donne."),
    )
    amount_is_maximum = models.BooleanField(
        _("montants maximaux"),
        default=False,
        help_text=_(
            "Les montants du barème sont des maxima de prise en charge (ex. officines : au plus "
            "625 € à 875 € HT selon le chiffre d'affaires), non des forfaits."
        ),
    )
    tier_bounds_known = models.BooleanField(
        _("bornes des tranches connues"),
        default=True,
        help_text=_(
            "Décoché : les bornes des tranches ne sont pas publiques, aucun montant n'est calculé "
            "tant qu'un administrateur ne les a pas saisies (puis cochez)."
        ),
    )
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

    def demo_problem(self) -> str | None:
        """Why this demo tariff exceeds what is public (catalogue.rules), or None."""
        # An unsaved row has no tiers or terms yet: its flat amount and cap say what it pays.
        spec = (
            self.spec()
            if self.pk
            else TariffSpec(
                kind=self.kind,
                vat_rate=self.vat_rate,
                flat_cents=self.flat_cents,
                cap_cents=self.cap_cents,
            )
        )
        return demo_tariff_problem(
            spec=spec,
            is_demo=self.is_demo,
            prestation=self.prestation,
            public_max_ht_cents=self.dispositif.public_max_ht_cents,
        )

    def clean(self) -> None:
        super().clean()
        if self.dispositif_id is None or (self.pk is None and self.kind == TariffKind.TIERED):
            return  # tiers come after the row: judged when they are there
        problem = self.demo_problem()
        if problem:
            raise ValidationError(problem)

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
            amount_is_maximum=self.amount_is_maximum,
            tier_bounds_known=self.tier_bounds_known,
            floor_cents=self.floor_cents,
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
