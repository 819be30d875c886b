"""The claims page separates what can be done now from what waits, and on what, and from what
a passed deadline closed; a line's state is said in the ASP's words (a filing only generated
has not reached the ASP)."""

import pytest

from payments.models import ClaimKind
from payments.services import claims, filings
from tests.payments.factories import accept_by_va
from tests.portal.conftest import vendor_order, vendor_referencing
from tests.portal.test_claims import close_avances
from tests.responses import text

pytestmark = pytest.mark.django_db


def section(page: str, heading_id: str) -> str:
    start = page.index(f'id="{heading_id}"')
    end = page.find("</section>", start)
    return page[start:end]


def test_a_solde_waiting_for_its_avance_is_not_offered(
    staff_client, vendor, staff, django_capture_on_commit_callbacks
):
    order = vendor_order(vendor, staff, referencing=vendor_referencing(vendor, staff), pdf=True)
    claims.make_ready(
        claim=claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=staff), actor=staff
    )
    accept_by_va(order, staff, django_capture_on_commit_callbacks)
    page = text(staff_client.get("/portail/demandes/"))
    waiting = section(page, "en-attente")
    assert order.reference in waiting
    assert "La dernière version de l'avance n'est pas encore payée par l'ASP." in waiting
    assert order.reference not in section(page, "maintenant")
    assert f"/portail/demandes/ouvrir/{order.pk}/solde/" not in page


def test_an_avance_offered_now_then_closed_by_its_deadline_says_what_happened(
    staff_client, vendor, staff
):
    order = vendor_order(vendor, staff, referencing=vendor_referencing(vendor, staff))
    page = text(staff_client.get("/portail/demandes/"))
    assert f"/portail/demandes/ouvrir/{order.pk}/avance/" in section(page, "maintenant")
    close_avances(order.dispositif)
    page = text(staff_client.get("/portail/demandes/"))
    late = section(page, "trop-tard")
    assert order.reference in late
    assert "Pas encore possible" not in page
    assert f"/portail/demandes/ouvrir/{order.pk}/avance/" not in page


def test_a_line_of_a_generated_filing_is_not_said_deposited(
    staff_client, vendor, staff, django_capture_on_commit_callbacks
):
    order = vendor_order(vendor, staff, referencing=vendor_referencing(vendor, staff), pdf=True)
    claims.make_ready(
        claim=claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=staff), actor=staff
    )
    with django_capture_on_commit_callbacks(execute=True):
        (filing,) = filings.build_filings(
            vendor=vendor, dispositif=order.dispositif, kind=ClaimKind.AVANCE, actor=staff
        )
    page = text(staff_client.get(f"/portail/depots/{filing.pk}/"))
    assert "Généré" in page
    assert "Déposée à l'ASP" not in page
    assert "pas encore transmis à l'ASP" in page
    staff_client.post(f"/portail/depots/{filing.pk}/transmettre/")
    page = text(staff_client.get(f"/portail/depots/{filing.pk}/"))
    assert "Déposée à l'ASP" in page
