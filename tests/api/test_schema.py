"""The OpenAPI schema is checked in and must match the code; it and its documentation page are
served by the project itself (no script, font or stylesheet from elsewhere)."""

import re

import pytest
import yaml
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.validation import validate_schema

from api.views.docs import SCHEMA_FILE

pytestmark = pytest.mark.django_db


def generated() -> str:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenApiYamlRenderer().render(schema, renderer_context={}).decode()


def test_the_checked_in_schema_matches_the_code():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == generated(), (
        "api/openapi.yaml ne correspond plus au code : régénérez-le avec "
        "« manage.py spectacular --file api/openapi.yaml »."
    )


def test_the_schema_is_valid_openapi_3():
    validate_schema(yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8")))


def test_every_post_takes_an_idempotency_key_and_every_patch_an_if_match():
    schema = yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if method == "post":
                assert "Idempotency-Key" in headers, path
            if method == "patch":
                assert "If-Match" in headers, path
            assert "401" in operation["responses"], (method, path)


def test_the_schema_is_served_in_yaml_and_json(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["openapi"].startswith("3.")
    as_json = client.get("/api/v1/schema/", {"format": "json"}).json()
    assert "/api/v1/orders/{id}/sign/" in as_json["paths"]


def test_the_documentation_page_lists_every_operation_without_outside_assets(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    schema = yaml.safe_load(SCHEMA_FILE.read_text(encoding="utf-8"))
    for path, item in schema["paths"].items():
        for operation in item.values():
            assert f'id="{operation["operationId"]}"' in page, path
    # The design system's own scripts, served from our static files; nothing inline, nothing from
    # elsewhere.
    scripts = re.findall(r"<script([^>]*)>", page)
    assert all(re.search(r'src="/static/', attrs) for attrs in scripts), scripts
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert all(not s.startswith(("http://", "https://", "//")) for s in sources), sources
    assert 'lang="fr"' in page
