"""Nothing unofficial looks official (issue 14, point 7): the administrators' lists mark an
amount priced on a demo tariff « [DÉMO] », beside the amount, and never a real one."""

import pytest

from catalogue.models import Tariff
from tests.dashboard.conftest import URL
from tests.dashboard.test_counts_and_lists import AT_RISK

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("demo", [True, False], ids=["demo", "real"])
def test_the_orders_at_risk_mark_a_demo_amount_only(staff, world, frozen, demo):
    frozen(AT_RISK)
    Tariff.objects.filter(dispositif__code="DASH-LGC-V1").update(is_demo=demo)
    order = world.order()
    response = staff.get(URL + "DASH-LGC-V1/bdc-a-risque/")
    (row,) = response.context["rows"]
    amount = next(cell for cell in row if cell["kind"] == "money")
    assert amount["text"].endswith("[DÉMO]") is demo
    assert order.reference in response.content.decode()
