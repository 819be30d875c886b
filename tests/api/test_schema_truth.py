"""The schema tells the truth about every answer (issue 15): no "" where a type is promised,
nullable values typed for OpenAPI 3.1, ids as integers, the headers read and sent documented,
ASCII tags and operation ids, French details for every error, parser errors included.

Every answer of tests/api/ is also checked by openapi-core (tests/api/conftest.py)."""

import json
import re

import pytest
import yaml

from api.views.docs import SCHEMA_FILE
from tests.api.conftest import create_order
from tests.payments.factories import open_dispositif

from .schema_check import SchemaDrift, check_answer

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    return yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


# -- answers ------------------------------------------------------------------------------


def test_an_unset_acceptance_and_tariff_characteristic_are_null_not_blank(side_a):
    unset = open_dispositif(acceptance="")
    listed = side_a.api.get("/api/v1/dispositifs/").json()["results"]
    assert {d["code"]: d["acceptance"] for d in listed}[unset.code] is None
    detail = side_a.api.get(f"/api/v1/dispositifs/{unset.code}/").json()
    assert detail["acceptance"] is None
    assert [t["characteristic"] for t in detail["tariffs"]] == [None]


def test_a_draft_has_no_signature_method_in_its_answer_and_in_the_list(side_a, dispositif):
    draft = create_order(side_a, dispositif)
    assert draft["signature_method"] is None
    listed = side_a.api.get("/api/v1/orders/").json()["results"]
    assert [o["signature_method"] for o in listed if o["id"] == draft["id"]] == [None]


def test_a_client_without_email_answers_null_email(side_a):
    created = side_a.api.post(
        "/api/v1/clients/",
        {"kind": "medecin_liberal", "legal_name": "Dr Sans Courriel", "rpps": "10003456786"},
    )
    assert created.status_code == 201, created.json()
    assert (created.json()["email"], created.json()["mssante_address"]) == (None, None)


def test_the_journal_names_its_objects_by_integer_ids(side_a, dispositif):
    order = create_order(side_a, dispositif)
    journal = side_a.api.get(f"/api/v1/orders/{order['id']}/journal/").json()
    assert journal[0]["object_id"] == order["id"]


# -- errors in French ------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_malformed_body_is_explained_in_french_whatever_the_language_asked(side_a, language):
    api = side_a.api
    json_body = api.post(
        "/api/v1/orders/",
        b'{"client": ',
        format=None,
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert json_body.status_code == 400
    assert json_body.json()["detail"].startswith("Le corps de la requête n'est pas un JSON")
    multipart = api.post(
        "/api/v1/feedback-imports/",
        b"--x\r\nnot a form",
        format=None,
        content_type="multipart/form-data",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert multipart.status_code == 400
    body = multipart.json()
    assert body["code"] == "malformed_request"
    assert body["detail"] == (
        "Le corps de la requête est illisible : il ne suit pas le format annoncé par "
        "Content-Type (multipart/form-data)."
    )
    missing = api.post("/api/v1/orders/", {}, HTTP_ACCEPT_LANGUAGE=language)
    assert "Ce champ est obligatoire." in missing.json()["detail"]
    wrong_type = api.post("/api/v1/orders/", b"a=1", format=None, content_type="text/plain")
    assert wrong_type.status_code == 415
    assert "non supporté" in wrong_type.json()["detail"]


# -- the schema itself -------------------------------------------------------------------------


def test_the_schema_is_openapi_3_1_with_typed_nullables(schema):
    assert schema["openapi"] == "3.1.0"
    assert "nullable" not in SCHEMA_FILE.read_text(encoding="utf-8")
    order = schema["components"]["schemas"]["Order"]["properties"]
    assert {"$ref": "#/components/schemas/NullEnum"} in order["signature_method"]["oneOf"]
    decision = schema["components"]["schemas"]["Va"]["properties"]["decision"]
    assert {"type": "null"} in decision["oneOf"]


def test_tags_and_operation_ids_are_ascii_with_french_display_names(schema):
    for tag in schema["tags"]:
        assert re.fullmatch(r"[a-z0-9_]+", tag["name"]), tag
        assert tag["x-displayName"]
    displayed = {tag["name"]: tag["x-displayName"] for tag in schema["tags"]}
    assert displayed["depots_asp"] == "Dépôts ASP"
    for path, method, operation in operations(schema):
        assert re.fullmatch(r"[a-z0-9_]+", operation["operationId"]), (method, path)
        assert set(operation["tags"]) <= set(displayed), (method, path)


def test_ids_in_paths_are_integers(schema):
    for path, _method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"] == "id":
                expected = "string" if path.startswith("/api/v1/bulk-jobs/") else "integer"
                assert parameter["schema"]["type"] == expected, path


def test_every_header_read_or_sent_is_documented(schema):
    def headers_of(response):
        return set(response.get("headers", {}))

    for path, method, operation in operations(schema):
        read = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        responses = operation["responses"]
        assert "X-Request-ID" in read, (method, path)
        assert all("X-Request-ID" in headers_of(r) for r in responses.values()), (method, path)
        assert {"400", "401", "404", "429", "503"} <= set(responses), (method, path)
        for code, response in responses.items():
            if code >= "400":
                problem = response["content"]["application/problem+json"]["schema"]
                assert problem == {"$ref": "#/components/schemas/Problem"}, (method, path, code)
        assert "WWW-Authenticate" in headers_of(responses["401"])
        assert "Retry-After" in headers_of(responses["429"]) & headers_of(responses["503"])
        if method == "post":
            assert "Idempotency-Key" in read
            assert all("Idempotent-Replayed" in headers_of(r) for r in responses.values())
        if method == "patch":
            assert "If-Match" in read
            assert "ETag" in headers_of(responses["200"]), path
        if "202" in responses:
            assert "Prefer" in read
            assert "Location" in headers_of(responses["202"]), path
    for path in ("/api/v1/orders/{id}/", "/api/v1/clients/{id}/", "/api/v1/webhooks/{id}/"):
        assert "ETag" in headers_of(schema["paths"][path]["get"]["responses"]["200"])
    for path in ("/api/v1/filings/{id}/json/", "/api/v1/filings/{id}/zip/"):
        assert "Content-Disposition" in headers_of(schema["paths"][path]["get"]["responses"]["200"])
    for path in ("/api/v1/orders/", "/api/v1/clients/"):
        assert "Location" in headers_of(schema["paths"][path]["post"]["responses"]["201"])


# -- the check of every answer can fail ------------------------------------------------------


def test_an_answer_missing_a_field_or_a_header_fails_the_check(side_a, dispositif):
    order = create_order(side_a, dispositif)
    answer = side_a.api.get(f"/api/v1/orders/{order['id']}/")
    body = answer.json()
    headers = dict(answer.headers.items())
    path = f"/api/v1/orders/{order['id']}/"

    def check(body, headers, status=200):
        check_answer(
            method="GET", path=path, status=status, headers=headers, body=json.dumps(body).encode()
        )

    check(body, headers)  # the real answer passes
    with pytest.raises(SchemaDrift):
        check({k: v for k, v in body.items() if k != "vendor_reference"}, headers)
    with pytest.raises(SchemaDrift):
        check({**body, "signature_method": ""}, headers)
    with pytest.raises(SchemaDrift):
        check(body, {k: v for k, v in headers.items() if k != "ETag"})
    with pytest.raises(SchemaDrift):
        check(body, headers, status=418)
