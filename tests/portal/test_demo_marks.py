"""Nothing unofficial looks official (issue 14, point 7): the portal's order, claim and filing
pages mark an amount priced on a demo tariff « [DÉMO] », beside the amount, and never a real
one. The order page also shows LGC vague 2's usage gate, its one rate over the observation
period and the monthly figures beside it (SONS.md, life of a Prestation, step 9)."""

import datetime as dt
from decimal import Decimal

import pytest

from catalogue.models import Tariff, UsageGate
from payments.models import AspFiling, ClaimKind, PaymentClaim
from sons.services import gates
from tests.payments.factories import open_dispositif
from tests.portal.conftest import vendor_order, vendor_referencing
from tests.responses import text

pytestmark = pytest.mark.django_db

MARK = "[DÉMO]"


@pytest.fixture(params=[True, False], ids=["demo", "real"])
def demo(request):
    return request.param


@pytest.fixture
def order(vendor, staff, demo):
    dispositif = open_dispositif()
    Tariff.objects.filter(dispositif=dispositif).update(is_demo=demo)
    return vendor_order(
        vendor,
        staff,
        referencing=vendor_referencing(vendor, staff, dispositif=dispositif),
        pdf=True,
    )


def test_the_order_pages_mark_a_demo_amount_only(staff_client, order, demo):
    detail = text(staff_client.get(f"/portail/bdc/{order.pk}/"))
    assert "1 800,00\xa0€ TTC" in detail.replace("\u202f", " ")
    assert (MARK in detail) is demo
    assert ("Barème de démonstration : montant fictif, sans valeur officielle." in detail) is demo
    listing = text(staff_client.get("/portail/bdc/"))
    assert order.reference in listing
    assert (MARK in listing) is demo


def test_the_claim_and_filing_pages_mark_a_demo_amount_only(
    staff_client, order, demo, django_capture_on_commit_callbacks
):
    staff_client.post(f"/portail/demandes/ouvrir/{order.pk}/avance/")
    claim = PaymentClaim.objects.get(order=order, kind=ClaimKind.AVANCE)
    page = text(staff_client.get(f"/portail/demandes/{claim.pk}/"))
    assert "540,00\xa0€ TTC" in page
    assert (MARK in page) is demo
    assert (MARK in text(staff_client.get(f"/portail/bdc/{order.pk}/"))) is demo

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/portail/depots/constituer/",
            {"dispositif": order.dispositif_id, "kind": ClaimKind.AVANCE},
        )
    filing = AspFiling.objects.get()
    page = text(staff_client.get(f"/portail/depots/{filing.pk}/"))
    assert "540,00\xa0€" in page
    assert (MARK in page) is demo
    listing = text(staff_client.get("/portail/demandes/"))
    assert filing.name in listing
    assert (MARK in listing) is demo


def test_step_9_the_order_page_shows_the_period_rate_and_the_monthly_figures(
    staff_client, vendor, staff
):
    dispositif = open_dispositif()
    UsageGate.objects.create(
        dispositif=dispositif,
        prestation="secondary",
        indicator="mes_documents_sent_ratio",
        label="Documents envoyés à Mon espace santé",
        comparison="gt",
        threshold=Decimal("0.60"),
        observation_months=6,
    )
    order = vendor_order(
        vendor, staff, referencing=vendor_referencing(vendor, staff, dispositif=dispositif)
    )
    page = text(staff_client.get(f"/portail/bdc/{order.pk}/"))
    assert "Conditions d'usage" in page and "Aucune mesure d'usage reçue." in page
    for number, sent in enumerate([70, 70, 70, 70, 70, 40], start=1):
        gates.record_usage(order=order, month=dt.date(2026, number, 1), produced=100, sent=sent)
    page = text(staff_client.get(f"/portail/bdc/{order.pk}/"))
    assert "atteinte" in page and "non atteinte" not in page
    assert "Taux de 65 % sur 6 mois consécutifs (01/2026 à 06/2026)" in page
    assert "390 documents envoyés sur 600 produits" in page
    for shown in ("01/2026", "06/2026", "40 %", "70 %"):
        assert shown in page, shown
