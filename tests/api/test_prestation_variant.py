"""HOP vague 2's « vague 1 + vague 2 » prestation is only for establishments financed by neither
HOP-DPI nor HOP-PFI vague 1 (esante.gouv.fr FAQ SONS; SONS.md « Calendar and deadlines »): an
order on it for a client that holds a live order on either vague 1 dispositif is refused at its
creation, with one rule code, by the command (`save_orders`) and every API door (single, bulk)."""

from __future__ import annotations

import pytest

from core.commands import ItemsRefused
from sons.models import PurchaseOrder
from sons.services import orders as order_services
from tests.api.conftest import make_side
from tests.payments.factories import open_dispositif

pytestmark = pytest.mark.django_db

VARIANTS = [
    {"code": "v2", "label": "Prestation Ségur vague 2", "not_financed_by": []},
    {
        "code": "v1_v2",
        "label": "Prestation Ségur vague 1 + vague 2",
        "eligibility": "Établissements financés ni par HOP-DPI-V1 ni par HOP-PFI-V1",
        "not_financed_by": ["HOP-DPI-V1", "HOP-PFI-V1"],
    },
]


@pytest.fixture
def hop(django_user_model, admin_user):
    """HOP-PFI vague 1, where the vague 1 vendor signed for the hospital, and HOP-DPI vague 2,
    with its two prestations; the vague 2 vendor knows the same hospital."""
    from sons.services import clients as client_services

    pfi_v1 = open_dispositif(code="HOP-PFI-V1", couloir="hopital", software_type="PFI")
    dpi_v2 = open_dispositif(
        code="HOP-DPI-V2",
        couloir="hopital",
        software_type="DPI",
        vague=2,
        prestation_variants=VARIANTS,
    )
    first = make_side(django_user_model, admin_user, pfi_v1, "A")
    later = make_side(django_user_model, admin_user, dpi_v2, "B")
    client_services.register_client(
        vendor=later.vendor,
        actor=later.user,
        data={
            "kind": first.client.kind,
            "legal_name": first.client.legal_name,
            "rpps": first.client.rpps,
        },
    )
    financed_v1 = order_services.create_order(
        vendor=first.vendor,
        client=first.client,
        dispositif=pfi_v1,
        solution_version=first.version,
        installation_scenario="PFI, serveur",
        actor=first.user,
    )
    other = make_side(django_user_model, admin_user, dpi_v2, "C")  # a hospital never financed
    return later, first.client, other, dpi_v2, financed_v1


def body(side, client, dispositif, variant) -> dict:
    return {
        "client": client.pk,
        "dispositif": dispositif.code,
        "solution_version": side.version.pk,
        "installation_scenario": "DPI, serveur de l'établissement",
        "prestation_variant": variant,
    }


def test_the_v1_plus_v2_prestation_is_refused_to_a_client_financed_in_vague_1_at_every_door(hop):
    later, client, _other, dpi_v2, financed_v1 = hop
    item = body(later, client, dpi_v2, "v1_v2")
    before = PurchaseOrder.objects.count()

    with pytest.raises(ItemsRefused) as command:
        order_services.save_orders(vendor=later.vendor, items=[item], actor=later.user)
    (error,) = command.value.errors
    assert (error.code, error.field) == ("prestation_variant_not_eligible", "prestation_variant")
    assert "HOP-PFI-V1" in error.message and financed_v1.reference in error.message

    single = later.api.post("/api/v1/orders/", item)
    assert single.status_code == 409, single.json()
    assert single.json()["code"] == "prestation_variant_not_eligible"
    bulk = later.api.post("/api/v1/orders/bulk/", {"items": [item]})
    assert bulk.status_code in (400, 409), bulk.json()
    assert {e["code"] for e in bulk.json()["errors"]} == {"prestation_variant_not_eligible"}
    assert PurchaseOrder.objects.count() == before


def test_the_v2_prestation_stays_open_and_the_v1_plus_v2_to_a_client_never_financed(hop):
    later, client, other, dpi_v2, _financed_v1 = hop
    created = later.api.post("/api/v1/orders/", body(later, client, dpi_v2, "v2"))
    assert created.status_code == 201, created.json()
    assert created.json()["prestation_variant"] == "v2"
    fresh = other.api.post("/api/v1/orders/", body(other, other.client, dpi_v2, "v1_v2"))
    assert fresh.status_code == 201, fresh.json()


def test_an_unknown_prestation_is_refused(hop):
    later, client, _other, dpi_v2, _financed_v1 = hop
    refused = later.api.post("/api/v1/orders/", body(later, client, dpi_v2, "v3"))
    assert refused.status_code in (400, 409)
    problem = refused.json()
    codes = {e["code"] for e in problem.get("errors", [])} or {problem["code"]}
    assert codes == {"prestation_variant_unknown"}
