"""The prestation of a BDC (HOP vague 2's « vague 2 » or « vague 1 + vague 2 ») is chosen at the
portal's doors as at the API's: the BDC form offers the prestations of the dispositifs that have
several, the file has a « prestation » column (code or label), and both go through the orders
command, which refuses « vague 1 + vague 2 » to a client financed in vague 1 under that field
(esante.gouv.fr FAQ SONS; SONS.md « Calendar and deadlines »)."""

from __future__ import annotations

import pytest

from sons.models import PurchaseOrder
from tests.api.test_prestation_variant import VARIANTS
from tests.payments.factories import open_dispositif
from tests.portal.conftest import vendor_order, vendor_referencing
from tests.portal.test_bulk import HEADER, UNSIGNED, csv_bytes, line, upload
from tests.responses import text
from tests.sons.factories import ClientFactory, record_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def hop(vendor, staff):
    """The vendor's solution referenced on HOP-PFI vague 1 and on HOP-DPI vague 2 (two
    prestations); a client with a BDC on vague 1, another never financed."""
    v1 = vendor_referencing(vendor, staff, open_dispositif(code="HOP-PFI-V1"))
    v2 = vendor_referencing(
        vendor, staff, open_dispositif(code="HOP-DPI-V2", vague=2, prestation_variants=VARIANTS)
    )
    financed = ClientFactory()
    held = vendor_order(vendor, staff, referencing=v1, signed=False, client=financed)
    fresh = ClientFactory()
    record_for(fresh, vendor)
    return v2, financed, held, fresh


def form(referencing, client, variant) -> dict:
    return {
        "client": client.pk,
        "dispositif": referencing.dispositif.code,
        "prestation_variant": variant,
        "solution_version": referencing.solution_version.pk,
        "installation_scenario": "DPI, serveur de l'établissement",
    }


def test_the_bdc_form_offers_the_prestations_and_the_command_judges_them(staff_client, hop):
    v2, financed, held, fresh = hop
    page = text(staff_client.get("/portail/bdc/nouveau/"))
    assert "Prestation Ségur vague 1 + vague 2" in page and 'label="HOP-DPI-V2"' in page

    before = PurchaseOrder.objects.count()
    refused = staff_client.post("/portail/bdc/nouveau/", form(v2, financed, "v1_v2"))
    assert refused.status_code == 400
    page = text(refused)
    assert "réservée aux établissements financés ni par HOP-DPI-V1 ni par HOP-PFI-V1" in page
    assert held.reference in page
    assert 'id="id_prestation_variant-erreur-1"' in page  # under its field
    assert PurchaseOrder.objects.count() == before

    created = staff_client.post("/portail/bdc/nouveau/", form(v2, fresh, "v1_v2"))
    assert created.status_code == 302, text(created)
    order = PurchaseOrder.objects.get(client=fresh)
    assert order.prestation_variant == "v1_v2"
    assert "Prestation Ségur vague 1 + vague 2" in text(staff_client.get(created["Location"]))


def test_the_file_names_the_prestation_by_its_code_or_its_label(staff_client, hop):
    from portal.models import BulkImport, ImportStatus

    v2, financed, _held, _fresh = hop
    header = [*HEADER, "prestation"]
    rows = [
        [*line(v2, 1, **UNSIGNED), "Prestation Ségur vague 2"],
        [*line(v2, 2, **UNSIGNED), "v1_v2"],
        [*line(v2, 3, **UNSIGNED), "v3"],
    ]
    # Line 4 asks « vague 1 + vague 2 » for the client financed in vague 1.
    financed_line = line(
        v2, 4, **UNSIGNED, client_rpps=financed.rpps, client_nom=financed.legal_name
    )
    rows.append([*financed_line, "Prestation Ségur vague 1 + vague 2"])
    upload(staff_client, csv_bytes(rows, header=header))
    bulk = BulkImport.objects.get()
    assert bulk.status == ImportStatus.INVALID
    found = {(e["line"], e["column"], e["code"]) for e in bulk.errors}
    assert found == {
        (4, "prestation", "prestation_variant_unknown"),
        (5, "prestation", "prestation_variant_not_eligible"),
    }

    clean = rows[:2]
    upload(staff_client, csv_bytes(clean, header=header))
    bulk = BulkImport.objects.latest("pk")
    assert bulk.status == ImportStatus.VALID, bulk.errors
    staff_client.post(f"/portail/imports/{bulk.pk}/confirmer/")
    made = dict(
        PurchaseOrder.objects.filter(dispositif=v2.dispositif).values_list(
            "client__legal_name", "prestation_variant"
        )
    )
    assert made == {"Dr Client 1": "v2", "Dr Client 2": "v1_v2"}
