"""The notice of completion through the API: one order, or many at once (all or nothing), the
same command and rule codes as the portal (SONS.md « End of réalisation, exactly », COSUI of
5 April 2023: by the end of réalisation, the solde filed or the completion notified)."""

import pytest

from sons.models import CompletionNotice
from tests.api.conftest import signed_order

pytestmark = pytest.mark.django_db


def test_one_order_is_notified_and_shows_in_its_journal(side_a, dispositif):
    order = signed_order(side_a, dispositif)
    response = side_a.api.post(
        f"/api/v1/orders/{order['id']}/completion/", {"statement": "Prestation achevée."}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["order"], body["statement"]) == (order["id"], "Prestation achevée.")
    again = side_a.api.post(f"/api/v1/orders/{order['id']}/completion/", {})
    assert again.status_code == 409
    assert again.json()["code"] == "completion_already_notified"
    journal = side_a.api.get(f"/api/v1/orders/{order['id']}/journal/").json()
    assert any(
        entry["transition"] == "notify_completion"
        and "notifié à l'ASP" in entry["transition_label"]
        for entry in journal
    )


def test_many_orders_at_once_all_or_nothing(side_a, side_b, dispositif):
    mine = [signed_order(side_a, dispositif)]  # one live order per client and dispositif
    theirs = signed_order(side_b, dispositif)
    refused = side_a.api.post(
        "/api/v1/orders/completions/",
        {"items": [{"order": mine[0]["id"]}, {"order": theirs["id"]}]},
    )
    assert refused.status_code == 400
    assert [(e["index"], e["code"]) for e in refused.json()["errors"]] == [(1, "does_not_exist")]
    assert not CompletionNotice.objects.exists()
    done = side_a.api.post(
        "/api/v1/orders/completions/", {"items": [{"order": o["id"]} for o in mine]}
    )
    assert done.status_code == 200, done.json()
    assert done.json()["kind"] == "completions"
    assert set(CompletionNotice.objects.values_list("order_id", flat=True)) == {
        o["id"] for o in mine
    }


def test_a_bulk_of_notices_run_as_a_task(side_a, dispositif, django_capture_on_commit_callbacks):
    order = signed_order(side_a, dispositif)
    with django_capture_on_commit_callbacks(execute=True):
        response = side_a.api.post(
            "/api/v1/orders/completions/",
            {"items": [{"order": order["id"]}]},
            HTTP_PREFER="respond-async",
        )
    assert response.status_code == 202
    job = side_a.api.get(response["Location"]).json()
    assert job["state"] == "succeeded", job
    assert CompletionNotice.objects.filter(order_id=order["id"]).exists()
