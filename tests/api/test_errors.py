"""Errors are problem details (RFC 9457): a stable code, the field path, a French message; 400
for bad input, 409 for a refused rule, never a 500 for what a client sends."""

import pytest

from tests.api.conftest import SIGNATURE, create_order, order_body

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "field", "errors"}


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"] == f"urn:sons:api:probleme:{body['code']}"
    return body


def test_a_missing_field_is_a_400_naming_the_field(side_a, dispositif):
    body = order_body(side_a, dispositif)
    del body["installation_scenario"]
    result = problem(side_a.api.post("/api/v1/orders/", body), 400)
    assert result["code"] == "invalid_input"
    assert result["field"] == "installation_scenario"
    assert result["errors"] == [
        {
            "field": "installation_scenario",
            "code": "required",
            "message": "Ce champ est obligatoire.",
        }
    ]


def test_an_unknown_field_is_refused_not_ignored(side_a, dispositif):
    result = problem(
        side_a.api.post("/api/v1/orders/", order_body(side_a, dispositif, montant=12)), 400
    )
    assert result["errors"][0]["field"] == "montant"
    assert result["errors"][0]["code"] == "unknown_field"


def test_malformed_json_is_a_400(side_a):
    response = side_a.api.post(
        "/api/v1/orders/", data="{pas du json", format=None, content_type="application/json"
    )
    assert problem(response, 400)["code"] == "malformed_request"


def test_a_json_list_instead_of_an_object_is_a_400(side_a):
    result = problem(side_a.api.post("/api/v1/orders/", [1, 2]), 400)
    assert result["code"] == "invalid_input"


def test_another_media_type_is_a_415(side_a):
    response = side_a.api.post(
        "/api/v1/orders/", data="a=1", format=None, content_type="text/plain"
    )
    assert problem(response, 415)["code"] == "unsupported_media_type"


def test_a_reference_to_something_not_yours_is_a_400_on_its_field(side_a, side_b, dispositif):
    body = order_body(side_a, dispositif, client=side_b.client.pk)
    result = problem(side_a.api.post("/api/v1/orders/", body), 400)
    assert result["field"] == "client"
    assert result["errors"][0]["code"] == "does_not_exist"


def test_a_refused_rule_is_a_409_with_the_rules_code_and_field(side_a, dispositif):
    create_order(side_a, dispositif)
    result = problem(side_a.api.post("/api/v1/orders/", order_body(side_a, dispositif)), 409)
    assert result["code"] == "order_already_open"
    assert result["field"] == "client"
    assert "a déjà un BDC en cours" in result["detail"]


def test_an_action_refused_by_the_state_machine_is_a_409(side_a, dispositif):
    order = create_order(side_a, dispositif)
    side_a.api.post(f"/api/v1/orders/{order['id']}/sign/", SIGNATURE)
    result = problem(side_a.api.post(f"/api/v1/orders/{order['id']}/sign/", SIGNATURE), 409)
    assert result["code"] == "transition_not_allowed"
    assert result["field"] == "status"


def test_an_unknown_choice_is_a_400(side_a, dispositif):
    order = create_order(side_a, dispositif)
    result = problem(
        side_a.api.post(f"/api/v1/orders/{order['id']}/sign/", {**SIGNATURE, "method": "fax"}),
        400,
    )
    assert result["field"] == "method" and result["errors"][0]["code"] == "invalid_choice"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "inconnu"}, "status"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "abc"}, "page_size"),
        ({"cursor": "bz0tMQ=="}, "cursor"),  # o=-1: a negative offset
        ({"cursor": "cD1hYmM="}, "cursor"),  # p=abc: a position that is not an id
        ({"ordering": "montant"}, "ordering"),
        ({"signed_after": "hier"}, "signed_after"),
        ({"client": "99999999999999999999999"}, "client"),
        ({"filtre": "x"}, "filtre"),
    ],
)
def test_bad_query_parameters_are_a_400_naming_the_parameter(side_a, params, field):
    result = problem(side_a.api.get("/api/v1/orders/", params), 400)
    assert result["field"] == field


def test_an_unknown_address_under_the_api_is_a_problem_too(side_a):
    assert problem(side_a.api.get("/api/v1/inconnu/"), 404)["code"] == "not_found"
    assert problem(side_a.api.get("/api/v1/orders/-1/"), 404)["code"] == "not_found"
    assert problem(side_a.api.get(f"/api/v1/orders/{'9' * 30}/"), 404)["code"] == "not_found"


def test_a_method_not_offered_is_a_405(side_a):
    response = side_a.api.client.put("/api/v1/orders/", {}, format="json")
    assert problem(response, 405)["code"] == "method_not_allowed"


def test_too_many_requests_for_one_token_is_a_429(side_a, settings):
    from django.core.cache import cache

    cache.clear()
    settings.API_RATE_LIMIT = "3/min"
    codes = [side_a.api.get("/api/v1/me/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = side_a.api.get("/api/v1/me/")
    assert problem(response, 429)["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    cache.clear()


def test_the_limit_is_counted_per_token(side_a, side_b, settings):
    from django.core.cache import cache

    cache.clear()
    settings.API_RATE_LIMIT = "2/min"
    assert [side_a.api.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]
    assert side_b.api.get("/api/v1/me/").status_code == 200
    cache.clear()


def test_an_address_with_odd_characters_is_a_problem_too(side_a):
    assert problem(side_a.api.get("/api/v1/clients/-%0AM/"), 404)["code"] == "not_found"
    assert problem(side_a.api.get("/api/v1/dispositifs/%C2%86%0A/"), 404)["code"] == "not_found"
