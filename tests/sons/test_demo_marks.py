"""Nothing unofficial looks official (issue 14, point 7): one answer to « is this amount a demo
value? » (`sons.demo_marks`) and the admin's order and claim pages that use it."""

import pytest

from catalogue.models import Tariff
from payments.models import ClaimKind
from payments.services import claims
from sons.demo_marks import amount_is_demo, demo_mark_html, with_demo_mark
from sons.models import PurchaseOrder
from tests.payments.factories import open_dispositif, signed_now

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("demo", [True, False], ids=["demo", "real"])
def test_an_order_and_its_claim_are_demo_when_their_tariff_is(admin_user, client, demo):
    dispositif = open_dispositif()
    Tariff.objects.filter(dispositif=dispositif).update(is_demo=demo)
    order = signed_now(admin_user, dispositif=dispositif)
    claim = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user)
    assert amount_is_demo(order) is demo and amount_is_demo(claim) is demo
    assert with_demo_mark("1 800,00 €", order) == ("1 800,00 € [DÉMO]" if demo else "1 800,00 €")
    assert ("[DÉMO]" in demo_mark_html(claim)) is demo

    client.force_login(admin_user)
    page = client.get(f"/admin/sons/purchaseorder/{order.pk}/change/").content.decode()
    assert ("[DÉMO]" in page) is demo
    page = client.get("/admin/payments/paymentclaim/").content.decode()
    assert ("[DÉMO]" in page) is demo


def test_the_mark_is_the_one_frozen_with_the_amount_at_signature(admin_user):
    """The amount and what it rests on are frozen at signature (pricing_snapshot): the mark is
    read from there, without a query per row on lists; an order whose snapshot predates the
    mark falls back on its tariff."""
    order = signed_now(admin_user)
    assert order.pricing_snapshot["tariff_is_demo"] is False
    assert not amount_is_demo(order)
    PurchaseOrder.objects.filter(pk=order.pk).update(
        pricing_snapshot={k: v for k, v in order.pricing_snapshot.items() if k != "tariff_is_demo"}
    )
    Tariff.objects.filter(pk=order.tariff_id).update(is_demo=True)
    order.refresh_from_db()
    assert amount_is_demo(order)


def test_only_what_shows_an_amount_is_judged():
    assert amount_is_demo(None) is False and amount_is_demo(True) is True
    with pytest.raises(TypeError, match="str"):
        amount_is_demo("1 500,00 €")
