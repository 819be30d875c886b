"""The home page: deadlines in force for the vendor's dispositifs and what to do before each,
counts by state, the orders at risk."""

import pytest

from catalogue.deadlines import format_paris
from catalogue.selectors import calendar_in_force
from tests.portal.conftest import vendor_order, vendor_referencing
from tests.responses import text

pytestmark = pytest.mark.django_db


def test_the_home_page_says_what_to_do_before_each_deadline(
    staff_client, vendor, staff, other_vendor, settings
):
    settings.ORDERS_AT_RISK_DAYS = 60  # the réalisation of the test calendar ends in 50 days
    referencing = vendor_referencing(vendor, staff)
    signed = vendor_order(vendor, staff, referencing=referencing)
    vendor_order(vendor, staff, referencing=referencing, signed=False)
    vendor_order(other_vendor, staff, referencing=vendor_referencing(other_vendor, staff))
    response = staff_client.get("/portail/")
    page = text(response)
    in_force = calendar_in_force(dispositif=referencing.dispositif, at=response.context["at"])
    assert "Fin des commandes (BDC)" in page
    assert format_paris(in_force["orders"].at) in page
    (item,) = response.context["dispositifs"]
    todo = {row.label: {label: count for label, count, _link in row.todo} for row in item.deadlines}
    assert todo == {
        "Fin des commandes (BDC)": {"BDC à faire signer": 1},
        "Fin des demandes d'avance": {"Demandes d'avance à déposer": 1},
        "Confirmation d'une date ferme de réalisation": {"Dates fermes à confirmer": 1},
        # SONS.md « End of réalisation, exactly »: notify the completion (or file the solde).
        "Fin de réalisation": {
            "Achèvements à notifier à l'ASP (ou soldes à déposer)": 1,
            "VA à faire signer": 0,
        },
        "Fin des demandes de solde": {
            "Demandes de solde à préparer": 0,
            "Demandes prêtes à déposer": 0,
        },
    }
    counts = {label: n for _code, label, n in response.context["status_counts"]}
    assert counts["Brouillon"] == 1 and counts["Signé"] == 1
    assert [o.pk for o in response.context["at_risk"]] == [signed.pk]
    assert signed.reference in page


def test_a_vendor_without_orders_is_told_where_to_start(staff_client):
    assert "Vous n'avez pas encore de BDC" in text(staff_client.get("/portail/"))
