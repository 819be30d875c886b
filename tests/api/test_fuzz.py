"""A schema-driven fuzz run over the whole API (schemathesis, through the WSGI application):
whatever a client sends, the answer is never a 5xx and always matches the published schema.

Bounded: a few generated requests per operation and kind of data (valid, then invalid), with a
fixed seed, so that the run stays short and repeatable.
"""

import datetime as dt
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.views.docs import SCHEMA_FILE
from tests.api.conftest import signed_order

pytestmark = pytest.mark.django_db

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# A deeper local run: API_FUZZ_SCALE=10 API_FUZZ_RANDOM=1 (random data, ten times more).
SCALE = int(os.environ.get("API_FUZZ_SCALE", "1"))
EXAMPLES = {
    schemathesis.GenerationMode.POSITIVE: 12 * SCALE,
    schemathesis.GenerationMode.NEGATIVE: 6 * SCALE,
}


@pytest.fixture
def world(side_a, side_b, dispositif, django_capture_on_commit_callbacks):
    """Something of each kind for the fuzzed vendor, so that some generated ids hit objects."""
    api = side_a.api
    with django_capture_on_commit_callbacks(execute=True):
        order = signed_order(side_a, dispositif)
        api.post(
            f"/api/v1/orders/{order['id']}/deployments/",
            {"firm_date": str(timezone.localdate() + dt.timedelta(days=3))},
        )
        api.post(f"/api/v1/orders/{order['id']}/vas/", {"delivered_summary": "Fait"})
        claim = api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
        api.post(f"/api/v1/claims/{claim['id']}/make-ready/")
        api.post("/api/v1/filings/", {"dispositif": dispositif.code, "kind": "avance"})
        api.post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/", "events": ["va.signed"]})
    return side_a


def test_no_request_gets_a_server_error_or_an_answer_outside_the_schema(
    world, settings_fuzz, wsgi_app
):
    schema = schemathesis.openapi.from_path(SCHEMA_FILE)
    app = wsgi_app
    headers = {"Authorization": f"Bearer {world.secret}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60
    failures = []
    for operation in operations:
        for mode, count in EXAMPLES.items():
            strategy = operation.as_strategy(generation_mode=mode, headers=headers)

            @given(case=strategy)
            @settings(
                max_examples=count,
                derandomize="API_FUZZ_RANDOM" not in os.environ,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case):
                # buffered: the whole answer is read and the application's iterable closed
                response = case.call(app=app, buffered=True)
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                pass  # no invalid request can be written for this operation (no input at all)
            except (Exception, BaseExceptionGroup) as exc:  # every operation is tried
                failures.append(f"{operation.label} ({mode}): {str(exc)[:1500]}")
    if failures:
        path = os.environ.get("API_FUZZ_REPORT")
        if path:
            with open(path, "w") as handle:
                handle.write("\n\n".join(failures))
    assert not failures, "\n\n".join(failures)


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, called in-process inside the test's transaction: as
    Django's own test client does, the connection is not closed at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def settings_fuzz(settings):
    """Nothing slow nor outward while fuzzing: no rate limit in the way, no webhook attempt."""
    settings.API_RATE_LIMIT = "100000/min"
    settings.API_BULK_RATE_LIMIT = "100000/min"
    settings.API_WEBHOOK_MAX_ATTEMPTS = 1
    settings.ALLOWED_HOSTS = ["*"]
    return settings
