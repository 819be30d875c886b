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
from core.money import euros_to_cents, format_euros, ttc_from_ht


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
    # A tiered tariff whose amounts are maxima (officines: 625 € to 875 € HT by turnover) and
    # whose tier bounds may not be public: then nothing is computed until they are entered.
    amount_is_maximum: bool = False
    tier_bounds_known: bool = True
    floor_cents: int | None = None


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
        if not spec.tier_bounds_known:
            raise RuleViolation(
                "tariff_bounds_unknown",
                _(
                    "Les bornes des tranches de ce barème (selon « %(name)s ») ne sont pas "
                    "publiques%(range)s : un administrateur doit les saisir avant tout calcul."
                ),
                field=spec.characteristic,
                name=spec.characteristic,
                range=_tier_range(spec),
            )
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


def _tier_range(spec: TariffSpec) -> str:
    if spec.floor_cents is None or spec.cap_cents is None:
        return ""
    return str(
        _(" (montant maximal de %(floor)s à %(cap)s HT)")
        % {"floor": format_euros(spec.floor_cents), "cap": format_euros(spec.cap_cents)}
    )


def tier_amounts_problem(spec: TariffSpec) -> str | None:
    """Why entered tiers contradict the public range of a tiered tariff, or None."""
    for tier in spec.tiers:
        below = spec.floor_cents is not None and tier.amount_cents < spec.floor_cents
        above = spec.cap_cents is not None and tier.amount_cents > spec.cap_cents
        if below or above:
            return str(
                _("La tranche à %(amount)s HT sort de la fourchette publique%(range)s.")
                % {"amount": format_euros(tier.amount_cents), "range": _tier_range(spec)}
            )
    return None


def tiers_are_contiguous(tiers: Sequence[Tier]) -> bool:
    """Tiers sorted, without gap or overlap, only the last one open."""
    ordered = sorted(tiers, key=lambda t: t.lower)
    for current, following in itertools.pairwise(ordered):
        if current.upper is None or current.upper != following.lower:
            return False
    return True


def highest_ht_cents(spec: TariffSpec) -> int | None:
    """The most a tariff can pay HT, whatever the client's figures: its flat amount, its highest
    tier, its cap; None when nothing bounds it (a formula without a cap, no tier)."""
    if spec.kind == TariffKind.FLAT:
        return spec.flat_cents
    if spec.kind == TariffKind.TIERED:
        return max((tier.amount_cents for tier in spec.tiers), default=None)
    return spec.cap_cents


def demo_tariff_problem(
    *, spec: TariffSpec, is_demo: bool, prestation: str, public_max_ht_cents: int | None
) -> str | None:
    """Why a demo tariff may not stand, or None: a demo value stays within what is public, so a
    demo tariff of the main prestation never pays more than the public maximum when one is
    known (SONS.md, Money: officines 625 € to 875 € HT), and an unbounded one is refused then."""
    if not is_demo or public_max_ht_cents is None or prestation != "main":
        return None
    highest = highest_ht_cents(spec)
    if highest is None or highest > public_max_ht_cents:
        shown = (
            _("n'a pas de plafond")
            if highest is None
            else _("va jusqu'à %(amount)s HT") % {"amount": format_euros(highest)}
        )
        return str(
            _(
                "Un barème de démonstration ne dépasse pas le montant maximal public "
                "(%(max)s HT) : celui-ci %(shown)s."
            )
            % {"max": format_euros(public_max_ht_cents), "shown": shown}
        )
    return None
