"""Clients that retry: an Idempotency-Key on every POST, ETag/If-Match on updates; with
concurrent requests on PostgreSQL, one wins and the other is told."""

import threading
import uuid

import pytest
from django.db import connection, connections

from api.models import IdempotencyRecord
from core.models import JournalEntry
from sons.models import PurchaseOrder
from tests.api.conftest import Api, create_order, order_body

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL's concurrent transactions"
)


@pytest.mark.django_db
def test_the_same_key_and_body_give_back_the_first_answer(side_a, dispositif):
    key = str(uuid.uuid4())
    first = side_a.api.post("/api/v1/orders/", order_body(side_a, dispositif), key=key)
    again = side_a.api.post("/api/v1/orders/", order_body(side_a, dispositif), key=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert PurchaseOrder.objects.count() == 1


@pytest.mark.django_db
def test_a_refusal_is_given_back_too_without_running_again(side_a, dispositif):
    create_order(side_a, dispositif)
    key = str(uuid.uuid4())
    first = side_a.api.post("/api/v1/orders/", order_body(side_a, dispositif), key=key)
    entries = JournalEntry.objects.count()
    again = side_a.api.post("/api/v1/orders/", order_body(side_a, dispositif), key=key)
    assert first.status_code == again.status_code == 409
    assert again.json()["code"] == "order_already_open"
    assert JournalEntry.objects.count() == entries


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_refused(side_a, dispositif):
    key = str(uuid.uuid4())
    side_a.api.post("/api/v1/orders/", order_body(side_a, dispositif), key=key)
    other = side_a.api.post(
        "/api/v1/orders/", order_body(side_a, dispositif, vendor_reference="AUTRE"), key=key
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["field"] == "Idempotency-Key"
    elsewhere = side_a.api.post("/api/v1/clients/", {"kind": "msp"}, key=key)
    assert elsewhere.status_code == 422


@pytest.mark.django_db
def test_the_key_order_of_the_json_does_not_matter(side_a, dispositif):
    key = str(uuid.uuid4())
    body = order_body(side_a, dispositif)
    side_a.api.post("/api/v1/orders/", body, key=key)
    reversed_body = dict(reversed(list(body.items())))
    again = side_a.api.post("/api/v1/orders/", reversed_body, key=key)
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_a_post_without_a_key_is_a_400(side_a, dispositif):
    response = side_a.api.client.post(
        "/api/v1/orders/", order_body(side_a, dispositif), format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    bad = side_a.api.post("/api/v1/orders/", order_body(side_a, dispositif), key="é" * 3)
    assert bad.status_code == 400 and bad.json()["code"] == "idempotency_key_invalid"
    assert PurchaseOrder.objects.count() == 0


@pytest.mark.django_db
def test_keys_belong_to_a_vendor(side_a, side_b, dispositif):
    key = str(uuid.uuid4())
    side_a.api.post("/api/v1/orders/", order_body(side_a, dispositif), key=key)
    mine = side_b.api.post("/api/v1/orders/", order_body(side_b, dispositif), key=key)
    assert mine.status_code == 201
    assert mine.json()["client"] == side_b.client.pk


@pytest.mark.django_db
def test_a_key_in_progress_answers_409(side_a, dispositif):
    key = str(uuid.uuid4())
    body = order_body(side_a, dispositif)
    response = side_a.api.post("/api/v1/orders/", body, key=key)
    IdempotencyRecord.objects.filter(key=key).update(state="in_progress")
    again = side_a.api.post("/api/v1/orders/", body, key=key)
    assert response.status_code == 201
    assert again.status_code == 409 and again.json()["code"] == "idempotency_key_in_progress"
    assert again["Retry-After"] == "1"


@pytest.mark.django_db
def test_old_keys_are_forgotten(side_a, dispositif):
    import datetime as dt

    from django.utils import timezone

    from api.idempotency import purge

    key = str(uuid.uuid4())
    side_a.api.post("/api/v1/orders/", order_body(side_a, dispositif), key=key)
    IdempotencyRecord.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    assert purge() == 1
    assert not IdempotencyRecord.objects.exists()


# -- PostgreSQL: two requests at the same time ---------------------------------------------------


def _at_once(*calls):
    """Runs the calls in threads released together; returns their responses in call order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_create_one_order(side_a, dispositif):
    key = str(uuid.uuid4())
    body = order_body(side_a, dispositif)
    apis = [Api(side_a.secret), Api(side_a.secret)]
    responses = _at_once(*(lambda a=a: a.post("/api/v1/orders/", body, key=key) for a in apis))
    codes = sorted(r.status_code for r in responses)
    assert PurchaseOrder.objects.count() == 1
    # one created it; the other either waited its turn (409, retry) or got the first answer
    assert codes in ([201, 201], [201, 409])
    if codes == [201, 409]:
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["code"] == "idempotency_key_in_progress"
    else:
        assert {r.json()["id"] for r in responses} == {PurchaseOrder.objects.get().pk}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_updates_with_one_etag_one_wins(side_a, dispositif):
    order = create_order(side_a, dispositif)
    url = f"/api/v1/orders/{order['id']}/"
    etag = side_a.api.get(url)["ETag"]
    apis = [Api(side_a.secret), Api(side_a.secret)]
    responses = _at_once(
        lambda: apis[0].patch(url, {"vendor_reference": "PREMIER"}, if_match=etag),
        lambda: apis[1].patch(url, {"vendor_reference": "SECOND"}, if_match=etag),
    )
    assert sorted(r.status_code for r in responses) == [200, 412]
    winner = next(r for r in responses if r.status_code == 200)
    stored = PurchaseOrder.objects.get(pk=order["id"]).vendor_reference
    assert stored == winner.json()["vendor_reference"]
    updates = JournalEntry.objects.filter(object_id=str(order["id"]), transition="update")
    assert updates.count() == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_signatures_of_one_order_sign_it_once(side_a, dispositif):
    from tests.api.conftest import SIGNATURE

    order = create_order(side_a, dispositif)
    apis = [Api(side_a.secret), Api(side_a.secret)]
    url = f"/api/v1/orders/{order['id']}/sign/"
    responses = _at_once(*(lambda a=a: a.post(url, SIGNATURE) for a in apis))
    assert sorted(r.status_code for r in responses) == [200, 409]
    signs = JournalEntry.objects.filter(object_id=str(order["id"]), transition="sign")
    assert signs.count() == 1
