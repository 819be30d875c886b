"""Money: integer euro cents end to end, Decimal only for rates and unit prices; never float.

The one rounding rule of the engine: half up to the cent (« arrondi commercial »), applied once,
to the final amount, never to intermediate terms.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def _as_decimal(value: Decimal | int | str) -> Decimal:
    if isinstance(value, float):
        raise TypeError("Les montants ne sont jamais des flottants.")
    return value if isinstance(value, Decimal) else Decimal(value)


def round_cents(amount_in_cents: Decimal | int | str) -> int:
    """Rounds an amount expressed in cents (possibly fractional) to whole cents, half up."""
    return int(_as_decimal(amount_in_cents).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def euros_to_cents(euros: Decimal | int | str) -> int:
    """'1234.56' euros -> 123456 cents, with the engine's rounding rule."""
    return round_cents(_as_decimal(euros) * 100)


def ttc_from_ht(ht_cents: int, vat_rate: Decimal) -> int:
    """TTC from HT at a VAT rate (e.g. Decimal('0.20')), rounded once with the engine's rule."""
    return round_cents(Decimal(ht_cents) * (1 + _as_decimal(vat_rate)))


def apply_rate(cents: int, rate: Decimal) -> int:
    """A percentage of an amount (e.g. the advance rate), rounded with the engine's rule."""
    return round_cents(Decimal(cents) * _as_decimal(rate))


def format_euros(cents: int) -> str:
    """French display: 9 166,57 €."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    grouped = f"{euros:,}".replace(",", "\u202f")
    return f"{sign}{grouped},{rest:02d}\u00a0€"
