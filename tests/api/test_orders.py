"""Orders through the API: create, list (filters, ordering, cursor), read with an ETag, correct
under If-Match, and every state change through the lifecycle services."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalogue.models import Dispositif
from core.models import JournalEntry
from sons.models import OrderStatus, PurchaseOrder
from tests.api.conftest import SIGNATURE, create_order, order_body, signed_order

pytestmark = pytest.mark.django_db


def test_a_vendor_creates_a_draft_order(side_a, dispositif):
    response = side_a.api.post("/api/v1/orders/", order_body(side_a, dispositif))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "draft"
    assert body["reference"] == f"BDC-{body['id']:08d}"
    assert body["dispositif"] == dispositif.code
    assert response["Location"] == f"/api/v1/orders/{body['id']}/"
    assert response["ETag"] == body["etag"]
    order = PurchaseOrder.objects.get(pk=body["id"])
    assert order.vendor == side_a.vendor
    assert JournalEntry.objects.for_object(order).get().actor == side_a.user


def test_a_version_the_vendor_does_not_distribute_is_refused_by_the_mandate_rule(
    side_a, side_b, dispositif
):
    # The rule of the portal's files and of every door: one code, vendor_not_mandated (409).
    body = order_body(side_a, dispositif, solution_version=side_b.version.pk)
    response = side_a.api.post("/api/v1/orders/", body)
    assert response.status_code == 409
    assert response.json()["code"] == "vendor_not_mandated"
    assert response.json()["field"] == "solution_version"


def test_a_version_that_does_not_exist_is_unknown(side_a, dispositif):
    body = order_body(side_a, dispositif, solution_version=10**9)
    response = side_a.api.post("/api/v1/orders/", body)
    assert response.status_code == 400
    assert response.json()["field"] == "solution_version"
    assert response.json()["errors"][0]["code"] == "does_not_exist"


def test_signing_freezes_the_amount_and_journals_the_user(side_a, dispositif):
    order = create_order(side_a, dispositif)
    response = side_a.api.post(f"/api/v1/orders/{order['id']}/sign/", SIGNATURE)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "signed"
    assert (body["amount_ht_cents"], body["amount_ttc_cents"]) == (150000, 180000)
    assert body["signature_method"] == "cps"
    entry = JournalEntry.objects.for_object(PurchaseOrder.objects.get(pk=order["id"])).last()
    assert (entry.transition, entry.actor) == ("sign", side_a.user)


def test_signing_after_the_end_of_orders_is_refused_with_the_rule(side_a, dispositif):
    from catalogue.models import Deadline

    Deadline.objects.filter(version__dispositif=dispositif, kind="orders").update(
        at=timezone.now() - dt.timedelta(days=1)
    )
    order = create_order(side_a, dispositif)
    response = side_a.api.post(f"/api/v1/orders/{order['id']}/sign/", SIGNATURE)
    assert response.status_code == 409
    assert response.json()["code"] == "orders_deadline_passed"
    assert PurchaseOrder.objects.get(pk=order["id"]).status == OrderStatus.DRAFT


def test_a_signed_order_is_cancelled_with_a_sworn_statement_only(side_a, dispositif):
    order = signed_order(side_a, dispositif)
    refused = side_a.api.post(f"/api/v1/orders/{order['id']}/cancel/", {})
    assert refused.status_code == 409
    assert refused.json()["code"] == "sworn_statement_required"
    response = side_a.api.post(
        f"/api/v1/orders/{order['id']}/cancel/",
        {"sworn_statement": "Je déclare sur l'honneur que le client renonce."},
    )
    assert response.status_code == 200 and response.json()["status"] == "cancelled"


def test_a_default_is_declared_with_its_reason(side_a, dispositif):
    order = signed_order(side_a, dispositif)
    refused = side_a.api.post(f"/api/v1/orders/{order['id']}/declare-default/", {"reason": " "})
    assert refused.status_code == 400
    response = side_a.api.post(
        f"/api/v1/orders/{order['id']}/declare-default/", {"reason": "Éditeur en liquidation"}
    )
    assert response.json()["status"] == "defaulted"


def test_confirming_a_firm_order_is_refused(side_a, dispositif):
    order = signed_order(side_a, dispositif)
    response = side_a.api.post(f"/api/v1/orders/{order['id']}/confirm/")
    assert response.status_code == 409
    assert response.json()["code"] == "transition_not_allowed"


def test_a_conditional_order_is_confirmed_once_referenced(side_a, dispositif, admin_user):
    from catalogue import services as referencing_services
    from tests.factories import SolutionVersionFactory

    Dispositif.objects.filter(pk=dispositif.pk).update(
        conditional_window_amount=4, conditional_window_unit="months"
    )
    version = SolutionVersionFactory(solution=side_a.version.solution, version="9.9")
    order = create_order(side_a, dispositif, solution_version=version.pk)
    signed = side_a.api.post(f"/api/v1/orders/{order['id']}/sign/", SIGNATURE).json()
    assert signed["status"] == "conditional" and signed["conditional_until"]
    ref = referencing_services.create_referencing(
        solution_version=version, dispositif=dispositif, vendor=side_a.vendor, actor=admin_user
    )
    ref = referencing_services.submit_referencing(referencing=ref, actor=admin_user)
    ref = referencing_services.start_review(referencing=ref, actor=admin_user)
    referencing_services.reference_solution(referencing=ref, actor=admin_user, ans_number="X")
    response = side_a.api.post(f"/api/v1/orders/{order['id']}/confirm/")
    assert response.status_code == 200 and response.json()["status"] == "signed"


def test_the_journal_lists_the_order_and_what_depends_on_it(
    side_a, dispositif, django_capture_on_commit_callbacks
):
    order = signed_order(side_a, dispositif)
    side_a.api.post(
        f"/api/v1/orders/{order['id']}/deployments/",
        {"firm_date": str(timezone.localdate() + dt.timedelta(days=2))},
    )
    with django_capture_on_commit_callbacks(execute=True):
        side_a.api.post(f"/api/v1/orders/{order['id']}/vas/", {"delivered_summary": "Fait"})
    entries = side_a.api.get(f"/api/v1/orders/{order['id']}/journal/").json()
    assert [(e["object_type"], e["transition"]) for e in entries] == [
        ("sons.purchaseorder", "create"),
        ("sons.purchaseorder", "sign"),
        ("sons.deployment", "schedule"),
        ("sons.verificationaptitude", "create"),
        ("sons.verificationaptitude", "issue"),
    ]
    assert all(len(e["entry_hash"]) == 64 for e in entries)


# -- ETag / If-Match -------------------------------------------------------------------------


def test_a_correction_needs_if_match(side_a, dispositif):
    order = create_order(side_a, dispositif)
    url = f"/api/v1/orders/{order['id']}/"
    response = side_a.api.patch(url, {"vendor_reference": "CRM-2"})
    assert response.status_code == 428
    assert response.json()["code"] == "precondition_required"


def test_a_correction_with_the_current_etag_applies_and_changes_it(side_a, dispositif):
    order = create_order(side_a, dispositif)
    url = f"/api/v1/orders/{order['id']}/"
    etag = side_a.api.get(url)["ETag"]
    response = side_a.api.patch(
        url, {"vendor_reference": "CRM-2", "installation_scenario": "Serveur"}, if_match=etag
    )
    assert response.status_code == 200
    assert response.json()["vendor_reference"] == "CRM-2"
    assert response["ETag"] != etag
    stale = side_a.api.patch(url, {"vendor_reference": "CRM-3"}, if_match=etag)
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition_failed"
    assert PurchaseOrder.objects.get(pk=order["id"]).vendor_reference == "CRM-2"


def test_a_change_made_elsewhere_changes_the_etag(side_a, dispositif):
    order = create_order(side_a, dispositif)
    url = f"/api/v1/orders/{order['id']}/"
    etag = side_a.api.get(url)["ETag"]
    side_a.api.post(f"/api/v1/orders/{order['id']}/sign/", SIGNATURE)
    assert side_a.api.get(url)["ETag"] != etag
    assert side_a.api.patch(url, {"vendor_reference": "X"}, if_match=etag).status_code == 412


def test_the_scenario_of_a_signed_order_no_longer_changes(side_a, dispositif):
    order = signed_order(side_a, dispositif)
    url = f"/api/v1/orders/{order['id']}/"
    response = side_a.api.patch(
        url, {"installation_scenario": "Autre"}, if_match=side_a.api.get(url)["ETag"]
    )
    assert response.status_code == 409
    assert response.json()["code"] == "order_not_draft"
    ok = side_a.api.patch(url, {"vendor_reference": "R"}, if_match=side_a.api.get(url)["ETag"])
    assert ok.status_code == 200


# -- lists ------------------------------------------------------------------------------------


@pytest.fixture
def many_orders(side_a, dispositif):
    """Five orders: three signed, two drafts."""
    from sons.services.clients import register_client
    from tests.sons.factories import valid_rpps

    ids = []
    for n in range(5):
        record, _created = register_client(
            vendor=side_a.vendor,
            actor=side_a.user,
            data={"kind": "medecin_liberal", "legal_name": f"Dr {n}", "rpps": valid_rpps(7000 + n)},
        )
        order = create_order(side_a, dispositif, client=record.client_id, vendor_reference=f"R{n}")
        if n % 2 == 0:
            side_a.api.post(f"/api/v1/orders/{order['id']}/sign/", SIGNATURE)
        ids.append(order["id"])
    return ids


def test_lists_are_filtered_by_dispositif_and_state(side_a, dispositif, many_orders):
    response = side_a.api.get(
        "/api/v1/orders/", {"dispositif": dispositif.code, "status": "signed"}
    )
    assert [o["id"] for o in response.json()["results"]] == [
        many_orders[4],
        many_orders[2],
        many_orders[0],
    ]
    none = side_a.api.get("/api/v1/orders/", {"dispositif": "INCONNU"}).json()["results"]
    assert none == []
    assert (
        side_a.api.get("/api/v1/orders/", {"vendor_reference": "R3"}).json()["results"][0]["id"]
        == many_orders[3]
    )


def test_lists_follow_their_cursor_page_by_page(side_a, many_orders):
    seen, url, params = [], "/api/v1/orders/", {"page_size": 2, "ordering": "id"}
    while url:
        body = side_a.api.get(url, params).json()
        assert len(body["results"]) <= 2
        seen += [o["id"] for o in body["results"]]
        url, params = body["next"], None
    assert seen == sorted(many_orders)


def test_a_page_can_be_walked_back(side_a, many_orders):
    first = side_a.api.get("/api/v1/orders/", {"page_size": 2}).json()
    second = side_a.api.get(first["next"]).json()
    back = side_a.api.get(second["previous"]).json()
    assert [o["id"] for o in back["results"]] == [o["id"] for o in first["results"]]


def test_lists_filter_by_signature_dates(side_a, many_orders):
    after = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    signed = side_a.api.get("/api/v1/orders/", {"signed_after": after}).json()["results"]
    assert len(signed) == 3


def test_a_listed_order_reads_exactly_as_its_detail(side_a, dispositif, many_orders):
    listed = side_a.api.get("/api/v1/orders/", {"ordering": "id"}).json()["results"]
    assert len(listed) == 5
    for row in listed:
        detail = side_a.api.get(f"/api/v1/orders/{row['id']}/")
        assert row == detail.json()
        assert row["etag"] == detail["ETag"]


def test_a_list_costs_two_statements_whatever_its_page(side_a, many_orders, settings):
    """The token with its owner's vendor, then the page with its clients' names; the record
    of the call is written later, with others (api/calls.py)."""
    settings.API_CALL_BATCH = 1000
    settings.API_CALL_FLUSH_SECONDS = 3600
    side_a.api.get("/api/v1/orders/")  # the token's last use is stamped once a minute
    for size in (1, 5):
        with CaptureQueriesContext(connection) as queries:
            body = side_a.api.get("/api/v1/orders/", {"page_size": size}).json()
        assert len(body["results"]) == size
        assert all(row["client_name"].startswith("Dr ") for row in body["results"])
        assert len(queries) == 2, [q["sql"][:120] for q in queries.captured_queries]


def test_the_list_s_prepared_columns_are_cloned_never_read(side_a, many_orders):
    """Each page clones the list's queryset of columns (api.views.orders.ORDER_ROWS): read once,
    it would answer every later page, any vendor's, from its cache."""
    from api.views.orders import ORDER_ROWS

    assert len(side_a.api.get("/api/v1/orders/").json()["results"]) == 5
    assert ORDER_ROWS._result_cache is None
