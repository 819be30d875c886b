"""Every answer of the API checked against the published schema (api/openapi.yaml) by
openapi-core, a validator we did not write: a field, a type, a status or a header that the
schema does not tell the truth about fails the test that received the answer."""

from __future__ import annotations

import functools
import json

from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.testing import MockRequest, MockResponse

from api.views.docs import SCHEMA_FILE

# Served by the project beside the API, described by no operation: the schema itself and its
# reference page.
UNDESCRIBED = ("/api/v1/schema/", "/api/v1/docs/")


class SchemaDrift(AssertionError):
    """An answer of the API that its published schema does not describe."""


@functools.cache
def openapi() -> OpenAPI:
    config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_file_path(str(SCHEMA_FILE), config=config)


def described(path: str) -> bool:
    return path.startswith("/api/v1/") and not path.startswith(UNDESCRIBED)


def check_answer(
    *,
    method: str,
    path: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
    host_url: str = "http://testserver",
) -> None:
    """Raises SchemaDrift when the answer to `method path` is not what the schema says."""
    if not described(path):
        return
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    request = MockRequest(host_url, method.lower(), path)
    response = MockResponse(
        body, status_code=status, headers=headers, content_type=content_type.split(";")[0]
    )
    try:
        openapi().validate_response(request, response)
    except (PathNotFound, OperationNotFound) as exc:
        # An address or a method the API does not have: a problem 404 or 405 is the answer.
        if status in (404, 405) and content_type.startswith("application/problem+json"):
            return
        raise SchemaDrift(f"{method} {path} -> {status}: {exc}") from exc
    except Exception as exc:
        causes = getattr(exc, "__cause__", None)
        details = getattr(causes, "schema_errors", None) or getattr(exc, "schema_errors", None)
        extra = "; ".join(str(e.message) for e in details or ())
        raise SchemaDrift(f"{method} {path} -> {status}: {exc!r} {extra}\n{body[:2000]!r}") from exc


def check_django_response(response) -> None:
    """The same for an answer of Django's test client (its body read, then put back)."""
    request = response.wsgi_request
    if not described(request.path):
        return
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)
        response.streaming_content = [body]
    else:
        body = response.content
    check_answer(
        method=request.method,
        path=request.path,
        status=response.status_code,
        headers=dict(response.headers.items()),
        body=body,
    )
