"""Tariff rules (barèmes) as pure functions over plain values.

Every amount of the engine is computed here from a tariff and the client's characteristics:
HT is computed exactly in Decimal euros, rounded once to the cent (core.money), then TTC is
derived from the rounded HT at the tariff's VAT rate, rounded once again.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.errors import RuleViolation
from core.money import euros_to_cents, ttc_from_ht


class TariffKind(models.TextChoices):
    FLAT = "flat", _("Forfait")
    TIERED = "tiered", _("Forfait par tranches")
    LINEAR_CAPPED = "linear_capped", _("Formule linéaire plafonnée")


@dataclass(frozen=True)
class Tier:
    lower: Decimal  # inclusive
    upper: Decimal | None  # exclusive; None for the open top tier
    amount_cents: int


@dataclass(frozen=True)
class Term:
    characteristic: str
    unit_amount: Decimal  # euros HT per unit, may carry more than two decimals


@dataclass(frozen=True)
class TariffSpec:
    kind: str
    vat_rate: Decimal
    flat_cents: int | None = None
    characteristic: str = ""
    tiers: Sequence[Tier] = field(default_factory=tuple)
    base_amount: Decimal = Decimal(0)
    terms: Sequence[Term] = field(default_factory=tuple)
    cap_cents: int | None = None


@dataclass(frozen=True)
class Amount:
    ht_cents: int
    ttc_cents: int


def _characteristic(characteristics: Mapping[str, object], name: str) -> Decimal:
    if name not in characteristics or characteristics[name] in (None, ""):
        raise RuleViolation(
            "characteristic_missing",
            _("La caractéristique « %(name)s » du client est nécessaire au calcul du montant."),
            field=name,
            name=name,
        )
    raw = characteristics[name]
    if isinstance(raw, float):
        raise TypeError("Les caractéristiques ne sont jamais des flottants.")
    try:
        value = Decimal(str(raw)) if not isinstance(raw, Decimal) else raw
    except InvalidOperation:
        raise RuleViolation(
            "characteristic_invalid",
            _("La caractéristique « %(name)s » doit être un nombre (reçu : %(value)s)."),
            field=name,
            name=name,
            value=raw,
        ) from None
    if not value.is_finite() or value < 0:
        raise RuleViolation(
            "characteristic_negative",
            _("La caractéristique « %(name)s » ne peut pas être négative (reçu : %(value)s)."),
            field=name,
            name=name,
            value=raw,
        )
    return value


def compute_ht_cents(spec: TariffSpec, characteristics: Mapping[str, object]) -> int:
    if spec.kind == TariffKind.FLAT:
        if spec.flat_cents is None:
            raise RuleViolation(
                "tariff_incomplete", _("Le forfait de ce barème n'est pas renseigné.")
            )
        return spec.flat_cents
    if spec.kind == TariffKind.TIERED:
        value = _characteristic(characteristics, spec.characteristic)
        for tier in spec.tiers:
            if tier.lower <= value and (tier.upper is None or value < tier.upper):
                return tier.amount_cents
        raise RuleViolation(
            "characteristic_out_of_tiers",
            _("Aucune tranche du barème ne couvre « %(name)s » = %(value)s."),
            field=spec.characteristic,
            name=spec.characteristic,
            value=value,
        )
    if spec.kind == TariffKind.LINEAR_CAPPED:
        total = spec.base_amount + sum(
            (term.unit_amount * _characteristic(characteristics, term.characteristic))
            for term in spec.terms
        )
        cents = euros_to_cents(total)
        return min(cents, spec.cap_cents) if spec.cap_cents is not None else cents
    raise ValueError(f"Unknown tariff kind {spec.kind!r}")


def compute_amount(spec: TariffSpec, characteristics: Mapping[str, object]) -> Amount:
    """The prestation's amount for a client; refuses a zero amount (a BDC is never 0 €)."""
    ht = compute_ht_cents(spec, characteristics)
    if ht <= 0:
        raise RuleViolation(
            "amount_not_positive", _("Le montant de la prestation doit être strictement positif.")
        )
    return Amount(ht_cents=ht, ttc_cents=ttc_from_ht(ht, spec.vat_rate))


def tiers_are_contiguous(tiers: Sequence[Tier]) -> bool:
    """Tiers sorted, without gap or overlap, only the last one open."""
    ordered = sorted(tiers, key=lambda t: t.lower)
    for current, following in itertools.pairwise(ordered):
        if current.upper is None or current.upper != following.lower:
            return False
    return True
