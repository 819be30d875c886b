"""ETags derive from a row version that every write raises, whoever sends it: the portal, the
admin, the sweep, a set-based UPDATE, a bulk_update, raw SQL. An integrator holding the former
ETag is then refused (412) instead of overwriting a change it has not seen."""

import datetime as dt
import re

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from api import services as api_services
from api.models import WebhookSubscription
from catalogue.models import Dispositif, VendorMember
from core import versioning
from payments.sweep import sweep
from sons.models import ClientRelationship, OrderStatus, PurchaseOrder
from tests.api.conftest import SIGNATURE, create_order, signed_order
from tests.factories import SolutionVersionFactory
from tests.portal.conftest import make_member, sign_in

pytestmark = pytest.mark.django_db


def order_url(order_id) -> str:
    return f"/api/v1/orders/{order_id}/"


def etag(side, order_id) -> str:
    response = side.api.get(order_url(order_id))
    assert response.status_code == 200
    return response["ETag"]


def assert_superseded(side, order_id, former: str) -> None:
    """The order's ETag changed, and the former one no longer lets a correction through."""
    assert etag(side, order_id) != former
    refused = side.api.patch(order_url(order_id), {"vendor_reference": "PERDU"}, if_match=former)
    assert refused.status_code == 412
    assert refused.json()["code"] == "precondition_failed"
    assert PurchaseOrder.objects.get(pk=order_id).vendor_reference != "PERDU"


def test_a_portal_correction_changes_the_etag(side_a, dispositif, client):
    order = create_order(side_a, dispositif)
    former = etag(side_a, order["id"])
    sign_in(client, make_member(side_a.vendor, role=VendorMember.Role.STAFF))
    response = client.post(
        reverse("portal:order_update", args=[order["id"]]),
        {"installation_scenario": "Serveur du cabinet", "vendor_reference": "PORTAIL-1"},
    )
    assert response.status_code == 302
    assert_superseded(side_a, order["id"], former)


def test_an_admin_change_changes_the_etag(side_a, dispositif, admin_client):
    order = signed_order(side_a, dispositif)
    former = etag(side_a, order["id"])
    response = admin_client.post(
        reverse("admin:sons_purchaseorder_transition", args=[order["id"], "cancel"]),
        {"sworn_statement": "Je déclare sur l'honneur…", "client_renunciation": ""},
    )
    assert response.status_code == 302
    assert PurchaseOrder.objects.get(pk=order["id"]).status == OrderStatus.CANCELLED
    assert_superseded(side_a, order["id"], former)


def test_a_queryset_update_changes_the_etag(side_a, dispositif):
    order = create_order(side_a, dispositif)
    former = etag(side_a, order["id"])
    PurchaseOrder.objects.filter(pk=order["id"]).update(vendor_reference="MASSE")
    assert_superseded(side_a, order["id"], former)


def test_a_bulk_update_changes_the_etag(side_a, dispositif):
    order = create_order(side_a, dispositif)
    former = etag(side_a, order["id"])
    row = PurchaseOrder.objects.get(pk=order["id"])
    row.vendor_reference = "LOT"
    PurchaseOrder.objects.bulk_update([row], ["vendor_reference"])
    assert_superseded(side_a, order["id"], former)


def test_a_raw_sql_update_changes_the_etag(side_a, dispositif):
    order = create_order(side_a, dispositif)
    former = etag(side_a, order["id"])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {PurchaseOrder._meta.db_table} SET vendor_reference = %s WHERE id = %s",
            ["SQL", order["id"]],
        )
    assert_superseded(side_a, order["id"], former)


def test_a_sweep_move_changes_the_etag(side_a, dispositif):
    Dispositif.objects.filter(pk=dispositif.pk).update(
        conditional_window_amount=4, conditional_window_unit="months"
    )
    version = SolutionVersionFactory(solution=side_a.version.solution, version="9.9")
    order = create_order(side_a, dispositif, solution_version=version.pk)
    side_a.api.post(f"{order_url(order['id'])}sign/", SIGNATURE)
    conditional = PurchaseOrder.objects.get(pk=order["id"])
    assert conditional.status == OrderStatus.CONDITIONAL
    former = etag(side_a, order["id"])
    assert sweep(conditional.conditional_until + dt.timedelta(seconds=1))["lapse"] == 1
    assert PurchaseOrder.objects.get(pk=order["id"]).status == OrderStatus.LAPSED
    assert_superseded(side_a, order["id"], former)


def test_the_listed_etag_is_the_detail_etag_after_a_set_based_write(side_a, dispositif):
    order = create_order(side_a, dispositif)
    former = etag(side_a, order["id"])
    PurchaseOrder.objects.filter(pk=order["id"]).update(vendor_reference="LISTE")
    (row,) = side_a.api.get("/api/v1/orders/").json()["results"]
    assert row["etag"] == etag(side_a, order["id"]) != former


def test_the_etag_is_opaque_quoted_and_distinct_per_row(side_a, dispositif):
    first = create_order(side_a, dispositif)
    PurchaseOrder.objects.filter(pk=first["id"]).update(status=OrderStatus.CANCELLED)
    second = create_order(side_a, dispositif)
    tags = {etag(side_a, first["id"]), etag(side_a, second["id"])}
    assert len(tags) == 2  # both at version 1 before the update: the row is in the digest
    assert all(re.fullmatch(r'"[0-9a-f]{32}"', tag) for tag in tags)


def test_a_stale_copy_saved_never_brings_a_former_version_back(side_a, dispositif):
    order = create_order(side_a, dispositif)
    stale = PurchaseOrder.objects.get(pk=order["id"])
    seen = {etag(side_a, order["id"])}
    PurchaseOrder.objects.filter(pk=order["id"]).update(vendor_reference="A")
    seen.add(etag(side_a, order["id"]))
    PurchaseOrder.objects.filter(pk=order["id"]).update(vendor_reference="B")
    seen.add(etag(side_a, order["id"]))
    stale.vendor_reference = "C"
    stale.save(update_fields=["vendor_reference"])  # holds version 2, the row is at 3
    assert etag(side_a, order["id"]) not in seen
    assert PurchaseOrder.objects.get(pk=order["id"]).row_version == 4


def test_save_raises_the_version_in_memory_as_stored(side_a, dispositif):
    order = PurchaseOrder.objects.get(pk=create_order(side_a, dispositif)["id"])
    before = order.row_version
    order.vendor_reference = "MÉMOIRE"
    order.save(update_fields=["vendor_reference"])
    assert order.row_version == before + 1
    assert PurchaseOrder.objects.get(pk=order.pk).row_version == before + 1


def test_a_client_record_changed_elsewhere_refuses_the_former_etag(side_a):
    url = f"/api/v1/clients/{side_a.client.pk}/"
    former = side_a.api.get(url)["ETag"]
    ClientRelationship.objects.filter(vendor=side_a.vendor, client=side_a.client).update(
        city="Rodez"
    )
    assert side_a.api.get(url)["ETag"] != former
    refused = side_a.api.patch(url, {"city": "Albi"}, if_match=former)
    assert refused.status_code == 412
    assert ClientRelationship.objects.get(vendor=side_a.vendor, client=side_a.client).city == (
        "Rodez"
    )


def test_a_webhook_subscription_changed_elsewhere_refuses_the_former_etag(side_a):
    subscription = api_services.subscribe(
        vendor=side_a.vendor, url="https://crm.example.invalid/hooks", events=["va.signed"]
    )
    url = f"/api/v1/webhooks/{subscription.pk}/"
    former = side_a.api.get(url)["ETag"]
    WebhookSubscription.objects.filter(pk=subscription.pk).update(description="Ailleurs")
    assert side_a.api.get(url)["ETag"] != former
    assert side_a.api.patch(url, {"description": "Ici"}, if_match=former).status_code == 412
    assert WebhookSubscription.objects.get(pk=subscription.pk).description == "Ailleurs"


def test_migrate_puts_back_a_trigger_that_went_missing(side_a, dispositif):
    """SQLite drops a table's triggers when a migration rebuilds it: `migrate` checks them."""
    order = create_order(side_a, dispositif)
    versioning.remove_triggers(connection, PurchaseOrder)
    assert not versioning.has_trigger(connection, PurchaseOrder)
    versioning.ensure_triggers(apps.get_app_config("sons"), using=connection.alias, apps=apps)
    assert versioning.has_trigger(connection, PurchaseOrder)
    former = etag(side_a, order["id"])
    PurchaseOrder.objects.filter(pk=order["id"]).update(vendor_reference="REMIS")
    assert_superseded(side_a, order["id"], former)


def test_every_versioned_table_has_its_trigger():
    assert {m._meta.label for m in versioning.versioned_models()} >= {
        "sons.PurchaseOrder",
        "sons.ClientRelationship",
        "api.WebhookSubscription",
    }
    for model in versioning.versioned_models():
        assert versioning.has_trigger(connection, model), model._meta.label
