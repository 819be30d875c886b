"""The OpenAPI schema and its documentation page, both served by the project itself.

Both read the checked-in ``api/openapi.yaml``; a test fails when it differs from what the code
generates (refresh it with ``manage.py spectacular --file api/openapi.yaml``)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "openapi.yaml"
METHODS = ("get", "post", "patch", "put", "delete")


def load_schema() -> dict:
    with SCHEMA_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@require_GET
def schema_view(request):
    """GET /api/v1/schema/: YAML, or JSON with ?format=json."""
    if request.GET.get("format") == "json":
        return HttpResponse(
            json.dumps(load_schema(), ensure_ascii=False, indent=2),
            content_type="application/vnd.oai.openapi+json",
        )
    return HttpResponse(
        SCHEMA_FILE.read_text(encoding="utf-8"),
        content_type="application/vnd.oai.openapi; charset=utf-8",
    )


def _ref_name(schema: dict | None) -> str | None:
    if not schema:
        return None
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        return schema["items"]["$ref"].rsplit("/", 1)[-1] + "[]"
    return schema.get("type") or schema.get("format")


def _is_null(schema: dict) -> bool:
    return schema.get("type") == "null" or schema.get("$ref", "").endswith("/NullEnum")


def _nullable(schema: dict) -> bool:
    """OpenAPI 3.1 says null in the type, or as one of the choices."""
    kind = schema.get("type")
    return (
        (isinstance(kind, list) and "null" in kind)
        or any(_is_null(s) for s in schema.get("oneOf", []))
        or schema.get("nullable", False)
    )


def _type_of(schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "allOf" in schema:
        return " ".join(_type_of(s) for s in schema["allOf"])
    if "oneOf" in schema:
        return " | ".join(_type_of(s) for s in schema["oneOf"] if not _is_null(s))
    if isinstance(schema.get("type"), list):  # OpenAPI 3.1: ["string", "null"]
        kinds = [k for k in schema["type"] if k != "null"]
        schema = {**schema, "type": kinds[0] if len(kinds) == 1 else " | ".join(kinds)}
    kind = schema.get("type", "objet")
    if kind == "array":
        return f"{_type_of(schema.get('items', {}))}[]"
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"] if v is not None)
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return kind


def _fields(schema: dict, components: dict) -> list[dict]:
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "type": _type_of(prop),
            "required": name in required,
            "read_only": prop.get("readOnly", False),
            "nullable": _nullable(prop),
            "description": prop.get("description", ""),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def documentation_context(schema: dict) -> dict:
    components = schema.get("components", {}).get("schemas", {})
    tags = {
        t["name"]: {
            "name": t.get("x-displayName", t["name"]),
            # (the description repeats the display name for tools that do not read it)
            "description": t.get("description", "").removeprefix(
                f"{t.get('x-displayName', t['name'])} : "
            ),
            "ops": [],
        }
        for t in schema.get("tags", [])
    }
    for path, item in schema.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {})
            media, body_schema = next(iter(body.items()), (None, {}))
            entry = {
                "id": op.get("operationId", f"{method}-{path}"),
                "method": method.upper(),
                "path": path,
                "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "parameters": [
                    {
                        "name": p["name"],
                        "where": {"query": "requête", "path": "chemin", "header": "en-tête"}.get(
                            p["in"], p["in"]
                        ),
                        "required": p.get("required", False),
                        "type": _type_of(p.get("schema", {})),
                        "description": p.get("description", ""),
                    }
                    for p in op.get("parameters", [])
                ],
                "body_media": media,
                "body_fields": _fields(body_schema.get("schema", {}), components) if media else [],
                "responses": [
                    {
                        "code": code,
                        "description": r.get("description", ""),
                        "schema": ", ".join(
                            filter(
                                None,
                                (_ref_name(c.get("schema")) for c in r.get("content", {}).values()),
                            )
                        ),
                    }
                    for code, r in sorted(op.get("responses", {}).items())
                ],
            }
            for tag in op.get("tags", ["Autres"]):
                tags.setdefault(tag, {"name": tag, "description": "", "ops": []})["ops"].append(
                    entry
                )
    return {
        "info": schema.get("info", {}),
        "tags": [t for t in tags.values() if t["ops"]],
        "components": [
            {"name": name, "fields": _fields(s, components), "description": s.get("description")}
            for name, s in sorted(components.items())
        ],
    }


@require_GET
def documentation_view(request):
    """GET /api/v1/docs/: the reference of every operation, as a plain page (no script)."""
    return render(request, "web/api/docs.html", documentation_context(load_schema()))
