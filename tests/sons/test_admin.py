"""The administrators' view of the demo world: every page opens, every change uses a service."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from core.models import JournalEntry
from sons.models import OrderStatus, PurchaseOrder

# The demo world signs VA, whose PDFs render after commit: real commits are needed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_world():
    call_command("load_dispositifs")
    call_command("seed_demo", force=True)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_an_order_page_shows_amounts_buttons_and_solde_conditions(demo_world, admin_client):
    order = PurchaseOrder.objects.filter(status=OrderStatus.SIGNED, client__rpps__gt="").first()
    html = admin_client.get(
        reverse("admin:sons_purchaseorder_change", args=[order.pk])
    ).content.decode()
    assert "1\u202f500,00\u00a0€" in html
    assert 'name="status"' not in html
    assert "Annuler le BDC" in html and "Déclarer la défaillance" in html
    assert "solde" in html.lower()


def test_cancelling_through_the_admin_asks_for_the_sworn_statement(demo_world, admin_client):
    order = PurchaseOrder.objects.filter(status=OrderStatus.SIGNED).first()
    url = reverse("admin:sons_purchaseorder_transition", args=[order.pk, "cancel"])
    refused = admin_client.post(url, {"sworn_statement": "", "client_renunciation": ""})
    assert refused.status_code == 200
    assert "déclaration sur l&#x27;honneur" in refused.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.SIGNED
    done = admin_client.post(
        url, {"sworn_statement": "Je déclare sur l'honneur…", "client_renunciation": ""}
    )
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert JournalEntry.objects.for_object(order).last().transition == "cancel"


@pytest.mark.django_db
def test_only_rows_with_a_creating_service_can_be_added(client, admin_user):
    client.force_login(admin_user)
    for path in (
        "/admin/sons/purchaseorder/add/",
        "/admin/sons/deployment/add/",
        "/admin/sons/verificationaptitude/add/",
        "/admin/sons/onpreseries/add/",
        "/admin/catalogue/referencing/add/",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'name="status"' not in page.content.decode()
    for path in (
        "/admin/payments/paymentclaim/add/",
        "/admin/payments/aspfiling/add/",
        "/admin/payments/recovery/add/",
        "/admin/sons/clientconflict/add/",
        "/admin/sons/pilotperimeter/add/",
    ):
        assert client.get(path).status_code == 403, path


@pytest.mark.django_db
def test_adding_an_order_in_the_admin_goes_through_the_service(client, admin_user):
    from tests.sons.factories import ClientFactory, lgc_dispositif, referenced

    client.force_login(admin_user)
    ref = referenced(dispositif=lgc_dispositif(), actor=admin_user)
    customer = ClientFactory()
    response = client.post(
        "/admin/sons/purchaseorder/add/",
        {
            "vendor": ref.solution_version.solution.editor.pk,
            "client": customer.pk,
            "dispositif": ref.dispositif.pk,
            "solution_version": ref.solution_version.pk,
            "installation_scenario": "Poste unique",
            "vendor_reference": "CRM-42",
        },
    )
    assert response.status_code == 302
    order = PurchaseOrder.objects.get(client=customer)
    assert order.status == OrderStatus.DRAFT
    assert JournalEntry.objects.for_object(order).get().transition == "create"
