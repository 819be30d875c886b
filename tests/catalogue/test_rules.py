"""Tariff rules: flat, tiers at their edges, the MSSanté operators' formula and its cap."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalogue.rules import TariffKind, TariffSpec, Term, Tier, compute_amount
from core.errors import RuleViolation
from core.money import euros_to_cents, ttc_from_ht

MSS = TariffSpec(
    kind=TariffKind.LINEAR_CAPPED,
    vat_rate=Decimal("0.20"),
    base_amount=Decimal("6666.67"),
    terms=(
        Term("applicative_mailboxes", Decimal("58.33")),
        Term("organisational_mailboxes", Decimal("20.83")),
        Term("personal_mailboxes", Decimal("5.00")),
    ),
    cap_cents=25_000_000,
)

TIERED = TariffSpec(
    kind=TariffKind.TIERED,
    vat_rate=Decimal("0.20"),
    characteristic="doctors",
    tiers=(
        Tier(Decimal(0), Decimal(2), 62500),
        Tier(Decimal(2), Decimal(5), 75000),
        Tier(Decimal(5), None, 87500),
    ),
)


def mailboxes(app, org, personal):
    return {
        "applicative_mailboxes": app,
        "organisational_mailboxes": org,
        "personal_mailboxes": personal,
    }


def test_mssante_formula_for_10_20_300_mailboxes_to_the_cent():
    # 10 x 58.33 + 20 x 20.83 + 300 x 5.00 + 6666.67 = 9166.57 EUR HT
    amount = compute_amount(MSS, mailboxes(10, 20, 300))
    assert amount.ht_cents == 916657
    assert amount.ttc_cents == 1099988  # 9166.57 x 1.20 = 10999.884 -> 10999.88


def test_mssante_cap_applies_above_250000():
    # 4000 applicative mailboxes alone give 233,320 + 6,666.67 = 239,986.67: under the cap.
    assert compute_amount(MSS, mailboxes(4000, 0, 0)).ht_cents == 23998667
    # 5000 give 298,316.67: capped at 250,000.00.
    capped = compute_amount(MSS, mailboxes(5000, 0, 0))
    assert capped.ht_cents == 25_000_000
    assert capped.ttc_cents == 30_000_000


def test_mssante_exactly_at_the_cap_and_one_cent_above():
    # base 6666.67 + 243333.33 of personal boxes at 5.00? use unit terms to land exactly:
    spec = TariffSpec(
        kind=TariffKind.LINEAR_CAPPED,
        vat_rate=Decimal("0.20"),
        base_amount=Decimal("0.01"),
        terms=(Term("units", Decimal("0.01")),),
        cap_cents=100,
    )
    assert compute_amount(spec, {"units": 98}).ht_cents == 99
    assert compute_amount(spec, {"units": 99}).ht_cents == 100
    assert compute_amount(spec, {"units": 100}).ht_cents == 100


def test_mssante_with_no_mailbox_is_the_fixed_part():
    assert compute_amount(MSS, mailboxes(0, 0, 0)).ht_cents == 666667


@pytest.mark.parametrize(
    ("doctors", "cents"),
    [(0, 62500), (1, 62500), (2, 75000), (4, 75000), (5, 87500), (120, 87500)],
)
def test_tiers_lower_bound_inclusive_upper_bound_exclusive(doctors, cents):
    assert compute_amount(TIERED, {"doctors": doctors}).ht_cents == cents


def test_tier_edges_with_decimal_characteristic():
    assert compute_amount(TIERED, {"doctors": Decimal("1.99")}).ht_cents == 62500
    assert compute_amount(TIERED, {"doctors": Decimal("2.00")}).ht_cents == 75000


def test_missing_characteristic_is_refused_with_its_name():
    with pytest.raises(RuleViolation) as exc:
        compute_amount(MSS, {"applicative_mailboxes": 1, "organisational_mailboxes": 1})
    assert exc.value.code == "characteristic_missing"
    assert exc.value.field == "personal_mailboxes"
    assert "personal_mailboxes" in exc.value.message


def test_negative_characteristic_is_refused():
    with pytest.raises(RuleViolation) as exc:
        compute_amount(TIERED, {"doctors": -1})
    assert exc.value.code == "characteristic_negative"
    assert exc.value.field == "doctors"


def test_non_numeric_characteristic_is_refused():
    with pytest.raises(RuleViolation) as exc:
        compute_amount(TIERED, {"doctors": "beaucoup"})
    assert exc.value.code == "characteristic_invalid"


def test_float_characteristic_is_a_programming_error():
    with pytest.raises(TypeError):
        compute_amount(TIERED, {"doctors": 2.5})


def test_value_outside_every_tier_is_refused():
    spec = TariffSpec(
        kind=TariffKind.TIERED,
        vat_rate=Decimal("0.20"),
        characteristic="turnover",
        tiers=(Tier(Decimal(100), None, 1000),),
    )
    with pytest.raises(RuleViolation) as exc:
        compute_amount(spec, {"turnover": 99})
    assert exc.value.code == "characteristic_out_of_tiers"


def test_flat_tariff_and_its_ttc():
    spec = TariffSpec(kind=TariffKind.FLAT, vat_rate=Decimal("0.20"), flat_cents=150000)
    amount = compute_amount(spec, {})
    assert (amount.ht_cents, amount.ttc_cents) == (150000, 180000)


def test_zero_amount_is_refused():
    spec = TariffSpec(
        kind=TariffKind.LINEAR_CAPPED,
        vat_rate=Decimal("0.20"),
        terms=(Term("boxes", Decimal("5.00")),),
    )
    with pytest.raises(RuleViolation) as exc:
        compute_amount(spec, {"boxes": 0})
    assert exc.value.code == "amount_not_positive"


def test_rounding_is_half_up_once_on_the_total():
    # 3 x 0.005 = 0.015 EUR -> 1.5 cents -> 2 cents (half up), not 3 x round(0.5) = 3 or 0.
    spec = TariffSpec(
        kind=TariffKind.LINEAR_CAPPED,
        vat_rate=Decimal("0.20"),
        terms=(Term("units", Decimal("0.005")),),
    )
    assert compute_amount(spec, {"units": 3}).ht_cents == 2


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 100_000))
def test_mssante_formula_matches_exact_decimal_arithmetic(app, org, personal):
    exact = (
        Decimal("58.33") * app
        + Decimal("20.83") * org
        + Decimal("5.00") * personal
        + Decimal("6666.67")
    )
    expected = min(euros_to_cents(exact), 25_000_000)
    amount = compute_amount(MSS, mailboxes(app, org, personal))
    assert amount.ht_cents == expected
    assert amount.ttc_cents == ttc_from_ht(expected, Decimal("0.20"))
    assert amount.ht_cents <= 25_000_000
