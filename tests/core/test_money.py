from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.money import apply_rate, euros_to_cents, format_euros, round_cents, ttc_from_ht


def test_half_up_at_the_half_cent():
    assert round_cents(Decimal("0.5")) == 1
    assert round_cents(Decimal("1.4999")) == 1
    assert round_cents(Decimal("2.5")) == 3  # not banker's rounding


def test_euros_to_cents():
    assert euros_to_cents("6666.67") == 666667
    assert euros_to_cents(Decimal("0.005")) == 1


def test_floats_are_refused():
    with pytest.raises(TypeError):
        euros_to_cents(0.1)


def test_ttc_at_20_percent():
    assert ttc_from_ht(916657, Decimal("0.20")) == 1099988


def test_advance_of_30_percent():
    assert apply_rate(916657, Decimal("0.30")) == 274997  # 274997.1


def test_french_display():
    assert format_euros(916657) == "9\u202f166,57\u00a0€"
    assert format_euros(5) == "0,05\u00a0€"


@given(st.integers(min_value=0, max_value=10**12))
def test_cents_round_trip(cents):
    assert euros_to_cents(Decimal(cents) / 100) == cents
