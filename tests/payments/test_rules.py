"""The advance/balance split: avance + solde equals the amount, to the cent, always."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.rules import split_advance


@given(
    st.integers(min_value=1, max_value=100_000_000),  # 1 cent to 1,000,000 €
    st.decimals(min_value=0, max_value=1, places=4),
)
def test_avance_plus_solde_is_the_amount_for_every_amount(total, rate):
    advance, balance = split_advance(total, rate)
    assert advance + balance == total
    assert 0 <= advance <= total
    # The avance is the rate of the amount, rounded once to the nearest cent.
    assert abs(Decimal(advance) - Decimal(total) * rate) <= Decimal("0.5")


@pytest.mark.parametrize(
    ("total", "advance"),
    [(150000, 45000), (180000, 54000), (1, 0), (2, 1), (5, 2), (916657, 274997), (1099988, 329996)],
)
def test_thirty_percent_examples(total, advance):
    assert split_advance(total, Decimal("0.30")) == (advance, total - advance)


def test_half_a_cent_rounds_up():
    # 30 % of 5 cents is 1.5 cents: the avance is 2, the solde 3.
    assert split_advance(5, Decimal("0.30")) == (2, 3)


@pytest.mark.parametrize(("total", "rate"), [(-1, Decimal("0.3")), (100, Decimal("1.5"))])
def test_nonsense_is_refused(total, rate):
    with pytest.raises(ValueError):
        split_advance(total, rate)
