"""A demo value stays within what is public (issue 14, point 7; SONS.md « Money »: officines,
LGO vague 1, a maximum of 625 € to 875 € HT): the catalogue records the public maximum, and
no demo tariff, from the data file, `seed_demo` or the admin, pays more than it."""

import json

import pytest
from django.core.exceptions import ValidationError

from catalogue.catalogue import load_catalogue
from catalogue.models import Dispositif, Tariff, TariffTier
from catalogue.rules import TariffKind, TariffSpec, Tier, demo_tariff_problem, highest_ht_cents
from catalogue.selectors import price
from sons.management.commands.seed_demo import Command as SeedDemo
from tests.factories import DispositifFactory

LGO_PUBLIC_MAX = 87500  # 875,00 € HT


def flat(cents):
    return TariffSpec(kind=TariffKind.FLAT, vat_rate=0, flat_cents=cents)


def test_the_most_a_tariff_pays_whatever_the_client():
    assert highest_ht_cents(flat(150000)) == 150000
    tiers = (
        Tier(lower=0, upper=10, amount_cents=62500),
        Tier(lower=10, upper=None, amount_cents=87500),
    )
    assert highest_ht_cents(TariffSpec(kind=TariffKind.TIERED, vat_rate=0, tiers=tiers)) == 87500
    assert highest_ht_cents(TariffSpec(kind=TariffKind.TIERED, vat_rate=0)) is None
    capped = TariffSpec(kind=TariffKind.LINEAR_CAPPED, vat_rate=0, cap_cents=25000000)
    assert highest_ht_cents(capped) == 25000000
    assert highest_ht_cents(TariffSpec(kind=TariffKind.LINEAR_CAPPED, vat_rate=0)) is None


@pytest.mark.parametrize(
    ("spec", "is_demo", "prestation", "public_max", "refused"),
    [
        (flat(150000), True, "main", LGO_PUBLIC_MAX, True),  # the former LGO demo amount
        (flat(87500), True, "main", LGO_PUBLIC_MAX, False),  # at the maximum: within it
        (flat(87501), True, "main", LGO_PUBLIC_MAX, True),
        (flat(150000), True, "main", None, False),  # nothing public to stay within
        (flat(150000), False, "main", LGO_PUBLIC_MAX, False),  # a real tariff is the text's
        (flat(150000), True, "secondary", LGO_PUBLIC_MAX, False),  # the maximum is the main's
        (TariffSpec(kind=TariffKind.LINEAR_CAPPED, vat_rate=0), True, "main", 87500, True),
    ],
)
def test_a_demo_tariff_never_exceeds_a_known_public_maximum(
    spec, is_demo, prestation, public_max, refused
):
    problem = demo_tariff_problem(
        spec=spec, is_demo=is_demo, prestation=prestation, public_max_ht_cents=public_max
    )
    assert (problem is not None) is refused
    if refused:
        assert "montant maximal public (875,00\xa0€ HT)" in problem


@pytest.mark.django_db
def test_the_catalogue_records_the_officines_public_maximum():
    load_catalogue()
    assert Dispositif.objects.get(code="OFF-LGO-V1").public_max_ht_cents == LGO_PUBLIC_MAX


@pytest.mark.django_db
def test_seed_demo_prices_officines_within_the_public_maximum():
    load_catalogue()
    SeedDemo()._demo_tariffs()
    demo = Tariff.objects.filter(is_demo=True).select_related("dispositif")
    assert demo.exists()
    for tariff in demo:
        assert tariff.demo_problem() is None, tariff
    # Officines: not the 1 500 € it used to be, but demo amounts inside 625 € – 875 € HT (the
    # real tier bounds are not public: the demo's are fictitious, and so marked).
    lgo = Tariff.objects.get(dispositif__code="OFF-LGO-V1", prestation="main")
    assert lgo.is_demo
    assert highest_ht_cents(lgo.spec()) == LGO_PUBLIC_MAX
    amounts = {t.amount_cents for t in lgo.spec().tiers} or {lgo.flat_cents}
    assert all(62500 <= amount <= LGO_PUBLIC_MAX for amount in amounts)
    assert (
        price(dispositif=lgo.dispositif, characteristics={lgo.characteristic: 800_000})[1].ht_cents
        in amounts
    )
    # Where nothing public bounds the amount, the demo amount is unchanged.
    lgc = Tariff.objects.get(dispositif__code="MDV-LGC-V1", prestation="main")
    assert (lgc.is_demo, lgc.flat_cents) == (True, 150000)


@pytest.mark.django_db
def test_the_admin_refuses_a_demo_tariff_above_the_public_maximum():
    dispositif = DispositifFactory(public_max_ht_cents=LGO_PUBLIC_MAX)
    tariff = Tariff(dispositif=dispositif, kind=TariffKind.FLAT, flat_cents=150000, is_demo=True)
    with pytest.raises(ValidationError, match="montant maximal public"):
        tariff.full_clean()
    tariff.flat_cents = LGO_PUBLIC_MAX
    tariff.full_clean()
    tariff.save()
    tariff.kind, tariff.flat_cents = TariffKind.TIERED, None
    tariff.save()
    TariffTier.objects.create(tariff=tariff, lower=0, upper=None, amount_cents=90000)
    with pytest.raises(ValidationError, match="va jusqu'à 900,00"):
        tariff.full_clean()


@pytest.mark.django_db
def test_loading_a_demo_tariff_above_the_public_maximum_is_refused(tmp_path):
    data = {
        "dispositifs": [
            {
                "code": "OFF-TEST",
                "couloir": "officines",
                "software_type": "LGO",
                "vague": 1,
                "title": "Officines (essai)",
                "public_max_ht": "875.00",
                "tariffs": [{"kind": "flat", "flat_amount": "1500.00", "demo": True}],
            }
        ]
    }
    path = tmp_path / "dispositifs.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="OFF-TEST : Un barème de démonstration"):
        load_catalogue(path)
    assert not Dispositif.objects.filter(code="OFF-TEST").exists()
    data["dispositifs"][0]["tariffs"][0]["flat_amount"] = "875.00"
    path.write_text(json.dumps(data), encoding="utf-8")
    load_catalogue(path)
    assert Tariff.objects.get(dispositif__code="OFF-TEST").flat_cents == LGO_PUBLIC_MAX
