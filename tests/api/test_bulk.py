"""Bulk creation and update of orders and clients: all or nothing, per-item errors (index, field,
rule), large bulks as a task with a status endpoint."""

import pytest

from api.models import BulkJob
from core.models import JournalEntry
from sons.models import Client, ClientRelationship, PurchaseOrder
from tests.api.conftest import SIGNATURE, create_order
from tests.sons.factories import valid_finess, valid_rpps

pytestmark = pytest.mark.django_db


def new_clients(side, count, start=0):
    from sons.services.clients import prepared_client, register_clients

    rows = {
        n: prepared_client(
            {
                "kind": "medecin_liberal",
                "legal_name": f"Dr Masse {n}",
                "rpps": valid_rpps(50000 + n),
            }
        )
        for n in range(start, start + count)
    }
    registered = register_clients(vendor=side.vendor, clients=rows, actor=side.user)
    return [pk for pk, _new in registered.values()]


def item(side, dispositif, client, **overrides):
    body = {
        "client": client,
        "dispositif": dispositif.code,
        "solution_version": side.version.pk,
        "installation_scenario": "Poste de travail",
        "vendor_reference": f"CRM-{client}",
    }
    body.update(overrides)
    return body


def test_a_bulk_creates_every_order_and_journals_each(side_a, dispositif):
    clients = new_clients(side_a, 5)
    response = side_a.api.post(
        "/api/v1/orders/bulk/", {"items": [item(side_a, dispositif, c) for c in clients]}
    )
    assert response.status_code == 200
    job = response.json()
    assert (job["state"], job["item_count"], job["errors"]) == ("succeeded", 5, [])
    assert [r["index"] for r in job["results"]] == [0, 1, 2, 3, 4]
    ids = [r["id"] for r in job["results"]]
    orders = PurchaseOrder.objects.filter(pk__in=ids)
    assert {o.client_id for o in orders} == set(clients)
    assert {o.vendor_reference for o in orders} == {f"CRM-{c}" for c in clients}
    journal = JournalEntry.objects.filter(
        content_type__model="purchaseorder", transition="create", object_id__in=map(str, ids)
    )
    assert journal.count() == 5 and {e.actor for e in journal} == {side_a.user}
    assert side_a.api.get(response["Location"]).json()["state"] == "succeeded"


def test_a_malformed_item_refuses_the_bulk_naming_index_and_field(side_a, dispositif):
    clients = new_clients(side_a, 3)
    items = [item(side_a, dispositif, c) for c in clients]
    items[1]["client"] = "pas un nombre"
    del items[2]["installation_scenario"]
    response = side_a.api.post("/api/v1/orders/bulk/", {"items": items})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["index"], e["field"], e["code"]) for e in errors] == [
        (1, "items[1].client", "invalid"),
        (2, "items[2].installation_scenario", "required"),
    ]
    assert PurchaseOrder.objects.count() == 0


def test_unknown_references_refuse_the_bulk_naming_each(side_a, side_b, dispositif):
    clients = new_clients(side_a, 3)
    items = [item(side_a, dispositif, c) for c in clients]
    items[0]["client"] = side_b.client.pk
    items[2]["dispositif"] = "INCONNU"
    response = side_a.api.post("/api/v1/orders/bulk/", {"items": items})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bulk_invalid"
    assert [(e["index"], e["field"], e["code"]) for e in body["errors"]] == [
        (0, "items[0].client", "does_not_exist"),
        (2, "items[2].dispositif", "does_not_exist"),
    ]
    assert PurchaseOrder.objects.count() == 0
    assert BulkJob.objects.get().state == "failed"


def test_a_rule_refusing_one_item_refuses_them_all(side_a, dispositif):
    clients = new_clients(side_a, 4)
    create_order(side_a, dispositif, client=clients[3])
    items = [item(side_a, dispositif, c) for c in clients]
    items.append(item(side_a, dispositif, clients[0]))  # a second order for the same client
    response = side_a.api.post("/api/v1/orders/bulk/", {"items": items})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "bulk_refused"
    assert [(e["index"], e["field"], e["code"]) for e in body["errors"]] == [
        (3, "items[3].client", "order_already_open"),
        (4, "items[4].client", "order_already_open"),
    ]
    assert PurchaseOrder.objects.count() == 1


def test_a_bulk_corrects_orders_under_their_etags(side_a, dispositif):
    clients = new_clients(side_a, 2)
    first, second = (create_order(side_a, dispositif, client=c) for c in clients)
    side_a.api.post(f"/api/v1/orders/{second['id']}/sign/", SIGNATURE)
    second = side_a.api.get(f"/api/v1/orders/{second['id']}/").json()
    response = side_a.api.post(
        "/api/v1/orders/bulk/",
        {
            "items": [
                {"id": first["id"], "if_match": first["etag"], "installation_scenario": "Serveur"},
                {"id": second["id"], "if_match": second["etag"], "vendor_reference": "NOUVEAU"},
            ]
        },
    )
    assert response.status_code == 200, response.json()
    assert [r["created"] for r in response.json()["results"]] == [False, False]
    assert PurchaseOrder.objects.get(pk=first["id"]).installation_scenario == "Serveur"
    assert PurchaseOrder.objects.get(pk=second["id"]).vendor_reference == "NOUVEAU"


def test_a_stale_etag_or_a_forbidden_change_refuses_the_bulk(side_a, dispositif):
    clients = new_clients(side_a, 3)
    orders = [create_order(side_a, dispositif, client=c) for c in clients]
    side_a.api.post(f"/api/v1/orders/{orders[2]['id']}/sign/", SIGNATURE)
    current = side_a.api.get(f"/api/v1/orders/{orders[2]['id']}/").json()
    response = side_a.api.post(
        "/api/v1/orders/bulk/",
        {
            "items": [
                {"id": orders[0]["id"], "if_match": orders[0]["etag"], "vendor_reference": "A"},
                {"id": orders[1]["id"], "if_match": '"perime"', "vendor_reference": "B"},
                {"id": orders[2]["id"], "if_match": current["etag"], "installation_scenario": "C"},
            ]
        },
    )
    assert response.status_code == 409
    assert [(e["index"], e["code"]) for e in response.json()["errors"]] == [
        (1, "precondition_failed"),
        (2, "order_not_draft"),
    ]
    assert PurchaseOrder.objects.get(pk=orders[0]["id"]).vendor_reference != "A"


def test_an_update_needs_its_etag_and_keeps_its_references(side_a, dispositif):
    order = create_order(side_a, dispositif)
    response = side_a.api.post(
        "/api/v1/orders/bulk/", {"items": [{"id": order["id"], "client": side_a.client.pk}]}
    )
    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("items[0].if_match", "precondition_required"),
        ("items[0].client", "field_not_updatable"),
    ]


def test_a_large_bulk_runs_as_a_task_with_a_status(
    side_a, dispositif, settings, django_capture_on_commit_callbacks
):
    settings.API_BULK_SYNC_MAX_ITEMS = 2
    clients = new_clients(side_a, 3)
    with django_capture_on_commit_callbacks(execute=True):
        response = side_a.api.post(
            "/api/v1/orders/bulk/", {"items": [item(side_a, dispositif, c) for c in clients]}
        )
    assert response.status_code == 202
    location = response["Location"]
    status = side_a.api.get(location).json()
    # in-process tasks (no broker): the job ran after its request committed
    assert status["state"] == "succeeded" and len(status["results"]) == 3
    assert BulkJob.objects.get().payload == []


def test_a_task_bulk_reports_its_refusals_in_its_status(
    side_a, dispositif, django_capture_on_commit_callbacks
):
    clients = new_clients(side_a, 2)
    create_order(side_a, dispositif, client=clients[1])
    with django_capture_on_commit_callbacks(execute=True):
        response = side_a.api.post(
            "/api/v1/orders/bulk/",
            {"items": [item(side_a, dispositif, c) for c in clients]},
            HTTP_PREFER="respond-async",
        )
    assert response.status_code == 202
    assert response["Preference-Applied"] == "respond-async"
    status = side_a.api.get(response["Location"]).json()
    assert status["state"] == "failed"
    assert status["errors"] == [
        {
            "index": 1,
            "field": "client",
            "code": "order_already_open",
            "message": status["errors"][0]["message"],
        }
    ]
    assert PurchaseOrder.objects.count() == 1


def test_more_than_the_limit_is_refused_before_anything(side_a, dispositif, settings):
    settings.API_BULK_MAX_ITEMS = 2
    response = side_a.api.post("/api/v1/orders/bulk/", {"items": [item(side_a, dispositif, 1)] * 3})
    assert response.status_code == 400 and response.json()["code"] == "too_many_items"


def test_another_vendors_job_is_not_found(side_a, side_b, dispositif):
    clients = new_clients(side_a, 1)
    response = side_a.api.post(
        "/api/v1/orders/bulk/", {"items": [item(side_a, dispositif, clients[0])]}
    )
    assert side_b.api.get(response["Location"]).status_code == 404
    assert (
        side_a.api.get("/api/v1/bulk-jobs/pas-un-uuid-mais-presque-32-caract/").status_code == 404
    )


# -- clients -----------------------------------------------------------------------------------


def test_clients_are_created_in_bulk_and_known_ones_linked(side_a, side_b):
    known = side_b.client
    response = side_a.api.post(
        "/api/v1/clients/bulk/",
        {
            "items": [
                {"kind": "medecin_liberal", "legal_name": "Dr Un", "rpps": valid_rpps(61)},
                {"kind": "medecin_liberal", "legal_name": "Dr Connu", "rpps": known.rpps},
                {"kind": "officine", "legal_name": "Pharmacie", "finess": valid_finess(61)},
            ]
        },
    )
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    # « created » is about the vendor's own record: a client on file under another vendor is
    # one more of side A's clients (its identity shared), with a record of A's own.
    assert [r["created"] for r in results] == [True, True, True]
    assert results[1]["id"] == known.pk
    assert ClientRelationship.objects.filter(vendor=side_a.vendor).count() == 4
    assert Client.objects.get(pk=known.pk).legal_name == known.legal_name


def test_bad_clients_are_listed_with_their_index_and_rule(side_a):
    response = side_a.api.post(
        "/api/v1/clients/bulk/",
        {
            "items": [
                {"kind": "medecin_liberal", "legal_name": "Dr Sans RPPS"},
                {"kind": "medecin_liberal", "legal_name": "Dr Faux", "rpps": "12345678901"},
                {"kind": "medecin_liberal", "legal_name": "Dr Double", "rpps": valid_rpps(71)},
                {"kind": "medecin_liberal", "legal_name": "Dr Double bis", "rpps": valid_rpps(71)},
                {"legal_name": "Sans nature"},
            ]
        },
    )
    assert response.status_code == 400
    errors = [(e["index"], e["field"]) for e in response.json()["errors"]]
    assert errors == [
        (0, "items[0].rpps"),
        (1, "items[1].rpps"),
        (3, "items[3].rpps"),
        (4, "items[4].kind"),
    ]
    assert response.json()["errors"][2]["code"] == "duplicate_in_request"
    assert not Client.objects.filter(legal_name="Dr Double").exists()


def test_clients_are_corrected_in_bulk_under_their_etags(side_a):
    client = side_a.api.get(f"/api/v1/clients/{side_a.client.pk}/").json()
    ok = side_a.api.post(
        "/api/v1/clients/bulk/",
        {"items": [{"id": client["id"], "if_match": client["etag"], "city": "Nantes"}]},
    )
    assert ok.status_code == 200
    stale = side_a.api.post(
        "/api/v1/clients/bulk/",
        {"items": [{"id": client["id"], "if_match": client["etag"], "city": "Brest"}]},
    )
    assert stale.status_code == 409
    assert stale.json()["errors"][0]["code"] == "precondition_failed"
    record = ClientRelationship.objects.get(vendor=side_a.vendor, client_id=client["id"])
    assert record.city == "Nantes"
