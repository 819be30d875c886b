"""Money rules of the claims, pure: the advance/balance split is written once, here."""

from __future__ import annotations

from decimal import Decimal

from core.money import apply_rate


def split_advance(total_cents: int, rate: Decimal) -> tuple[int, int]:
    """(avance, solde) of an amount: the avance is the rate of it rounded once (half up), the
    solde is exactly the rest, so that avance + solde always equals the amount to the cent."""
    if total_cents < 0:
        raise ValueError("Un montant de prestation n'est jamais négatif.")
    if not Decimal(0) <= rate <= Decimal(1):
        raise ValueError("Un taux d'avance est compris entre 0 et 1.")
    advance = apply_rate(total_cents, rate)
    return advance, total_cents - advance


def paid_amount_admissible(*, claimed_cents: int, paid_cents: int) -> bool:
    """The agency pays a positive amount, at most the one claimed."""
    return 0 < paid_cents <= claimed_cents
