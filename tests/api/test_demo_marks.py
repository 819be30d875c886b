"""Nothing unofficial looks official (issue 14, point 7): an order or a claim priced on a demo
tariff says so in the API (`amount_is_demo`), in the list as in the detail, and a real one
never does."""

import pytest

from catalogue.models import Tariff
from tests.api.conftest import signed_order

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("demo", [True, False], ids=["demo", "real"])
def test_orders_and_claims_say_whether_their_amount_is_a_demo_value(side_a, dispositif, demo):
    Tariff.objects.filter(dispositif=dispositif).update(is_demo=demo)
    order = signed_order(side_a, dispositif)
    assert order["amount_is_demo"] is demo
    assert side_a.api.get(f"/api/v1/orders/{order['id']}/").json()["amount_is_demo"] is demo
    (listed,) = side_a.api.get("/api/v1/orders/").json()["results"]
    assert listed["amount_is_demo"] is demo
    claim = side_a.api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
    assert claim["amount_is_demo"] is demo
    (listed,) = side_a.api.get("/api/v1/claims/").json()["results"]
    assert listed["amount_is_demo"] is demo
