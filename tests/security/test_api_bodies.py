"""Every bad body is a 4xx problem detail with a French sentence and a rule code, never a 500,
and nothing is written (api/parsers.py, api/errors.py)."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from api.models import BulkJob, IdempotencyRecord
from api.parsers import MAX_DEPTH, SafeJSONParser, depth
from sons.models import Client

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
MB = 1024 * 1024


def post_raw(api, url, body: bytes, content_type="application/json"):
    return api.client.generic(
        "POST", url, body, content_type=content_type, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )


def counts():
    return (Client.objects.count(), BulkJob.objects.count(), IdempotencyRecord.objects.count())


def problem(response, status, code):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["detail"] and body["title"]
    return body


def client_body(size: int) -> bytes:
    head = b'{"kind": "medecin_liberal", "legal_name": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


@pytest.mark.parametrize("size", [3 * MB, 50 * MB])
def test_a_body_too_large_is_a_413_stating_the_limit(vendor_api, size):
    _vendor, api = vendor_api
    before = counts()
    body = problem(post_raw(api, "/api/v1/clients/", client_body(size)), 413, "body_too_large")
    assert "2,5 Mo au plus" in body["detail"]
    assert body["max_bytes"] == 2_621_440
    assert counts() == before


def test_a_bulk_over_its_own_limit_is_a_413(vendor_api):
    _vendor, api = vendor_api
    item = {"kind": "medecin_liberal", "legal_name": "Dr " + "x" * 200}
    items = json.dumps([item] * (21 * MB // 250))
    payload = ('{"items": ' + items + "}").encode()
    assert len(payload) > 20 * MB
    before = counts()
    body = problem(post_raw(api, "/api/v1/clients/bulk/", payload), 413, "body_too_large")
    assert "20 Mo au plus" in body["detail"]
    assert counts() == before


def test_a_10000_item_bulk_fits_the_bulk_limit_and_not_the_default_one(settings):
    """The documented bulk of 10,000 items, every field of each client filled: under the bulk
    endpoints' limit, over the others'."""
    item = {
        "id": 123456789,
        "if_match": 'W/"0123456789abcdef0123456789abcdef"',
        "kind": "etablissement_sante",
        "legal_name": "Centre hospitalier intercommunal de Saint-Martin-des-Champs-sur-Loire",
        "finess": "750000000",
        "siret": "12345678900012",
        "address": "12 rue de l'Hôpital Général, bâtiment B, 3e étage",
        "postal_code": "45000",
        "city": "Saint-Martin-des-Champs-sur-Loire",
        "email": "direction.systemes.information@ch-saint-martin.example.fr",
        "mssante_address": "secretariat.direction@ch-saint-martin.mssante.fr",
        "characteristics": {"lits": 450, "sites": 3},
    }
    raw = json.dumps({"items": [item] * 10_000}, indent=2).encode()
    assert 5 * MB < len(raw) < settings.API_BULK_MAX_BODY_BYTES

    class View:
        def __init__(self, action):
            self.action = action

    class Stream:
        def __init__(self, data):
            self.data = data

        def read(self, n):
            return self.data[:n]

    parsed = SafeJSONParser().parse(Stream(raw), parser_context={"view": View("bulk")})
    assert len(parsed["items"]) == 10_000
    from api.errors import ApiProblem

    with pytest.raises(ApiProblem) as refused:
        SafeJSONParser().parse(Stream(raw), parser_context={"view": View("create")})
    assert refused.value.status_code == 413


def test_json_nested_100000_levels_deep_is_a_400(vendor_api):
    _vendor, api = vendor_api
    deep = b'{"legal_name": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001
    before = counts()
    body = problem(post_raw(api, "/api/v1/clients/", deep), 400, "json_too_deep")
    assert "niveaux" in body["detail"]
    arrays = b"[" * 100_000 + b"]" * 100_000
    problem(post_raw(api, "/api/v1/clients/", arrays), 400, "json_too_deep")
    unclosed = b"[" * 100_000
    assert post_raw(api, "/api/v1/clients/", unclosed).status_code == 400
    assert counts() == before


def test_depth_is_counted_outside_strings_only():
    assert depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert depth("[" * MAX_DEPTH + "]" * MAX_DEPTH) == MAX_DEPTH
    assert depth('"\\"[[[" ' * 3) == 0


def test_a_key_given_twice_is_a_400_naming_it(vendor_api):
    _vendor, api = vendor_api
    before = counts()
    body = problem(
        post_raw(
            api,
            "/api/v1/clients/",
            b'{"kind": "medecin_liberal", "legal_name": "Dr A", "legal_name": "Dr B"}',
        ),
        400,
        "json_duplicate_key",
    )
    assert body["field"] == "legal_name"
    assert "deux fois" in body["detail"]
    assert counts() == before


def test_a_body_that_is_not_utf8_is_a_400(vendor_api):
    _vendor, api = vendor_api
    before = counts()
    latin1 = '{"kind": "medecin_liberal", "legal_name": "Dr Hélène"}'.encode("latin-1")
    body = problem(post_raw(api, "/api/v1/clients/", latin1), 400, "body_not_utf8")
    assert "UTF-8" in body["detail"]
    problem(post_raw(api, "/api/v1/clients/", b'{"legal_name": "\xff\xfe"}'), 400, "body_not_utf8")
    assert counts() == before


@pytest.mark.parametrize(
    "raw",
    [b"{pas du json", b'{"a": NaN}', b'{"a": Infinity}', b"\xef\xbb\xbf{}", b'{"a": 1'],
)
def test_malformed_json_is_a_400_in_french(vendor_api, raw):
    _vendor, api = vendor_api
    body = problem(post_raw(api, "/api/v1/clients/", raw), 400, "malformed_request")
    assert body["detail"].startswith("Le corps de la requête n'est pas un JSON valable")


def test_a_multipart_body_over_djangos_limit_is_a_413(vendor_api, settings):
    """Django's DATA_UPLOAD_MAX_MEMORY_SIZE on the form fields of a multipart upload: its
    RequestDataTooBig is a 413 problem, not a 500."""
    _vendor, api = vendor_api
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api.post(
        "/api/v1/feedback-imports/",
        {"file": SimpleUploadedFile("retour.json", b"{}"), "note": "x" * 4096},
        format="multipart",
    )
    body = problem(response, 413, "body_too_large")
    assert "1024 octets" in body["detail"]


def test_a_10000_item_orders_bulk_over_djangos_25_mb_reaches_its_checks(vendor_api):
    """3.7 MB of orders: past Django's DATA_UPLOAD_MAX_MEMORY_SIZE, within the bulk limit, so
    the items are checked (here all refused, nothing written) rather than the body."""
    _vendor, api = vendor_api
    item = {
        "client": "pas-un-identifiant",
        "dispositif": "MDV-LGC-V2-VAGUE2",
        "solution_version": 12345,
        "installation_scenario": "Poste de travail, profil cabinet libéral, reprise des données",
        "vendor_reference": "CRM-2026-000123456",
    }
    raw = json.dumps({"items": [item] * 10_000}, indent=2).encode()  # pretty-printed
    assert 2_621_440 < len(raw) < 20 * MB
    before = counts()
    body = problem(post_raw(api, "/api/v1/orders/bulk/", raw), 400, "invalid_input")
    assert body["errors"][0]["field"] == "items[0].client"
    assert counts()[:2] == before[:2]  # (its answer is kept for its Idempotency-Key)
