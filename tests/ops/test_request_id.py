"""The request id: from the proxy's header or generated, returned, on every log record of the
request, and carried into the tasks the request schedules (in-process and on a real worker)."""

import re

import pytest
from celery.result import AsyncResult

from core.middleware import request_id
from tests.conftest import real_broker

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.ops.urls")]

GENERATED = re.compile(r"[0-9a-f]{32}")


def records_of(lines, rid):
    return [line["message"] for line in lines if line["request_id"] == rid]


def test_a_safe_incoming_id_is_kept_and_returned(client):
    response = client.get("/health/live/", HTTP_X_REQUEST_ID="lb-7f3a.42:9")
    assert response["X-Request-ID"] == "lb-7f3a.42:9"


@pytest.mark.parametrize(
    "incoming", ["", "x" * 65, "a b", "id\r\nSet-Cookie: x=1", "<script>", "é"]
)
def test_a_missing_long_or_unsafe_id_is_replaced(client, incoming):
    headers = {"HTTP_X_REQUEST_ID": incoming} if incoming else {}
    response = client.get("/health/live/", **headers)
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_each_request_gets_its_own_id_and_none_is_left_behind(client):
    first = client.get("/health/live/")["X-Request-ID"]
    second = client.get("/health/live/")["X-Request-ID"]
    assert first != second
    assert request_id.get() is None


def test_the_id_is_on_the_request_s_records_and_in_the_task_it_runs(client, console_lines):
    """The task runs in-process (eager mode): its record carries the request's id."""
    response = client.get("/test-ops/verifier/", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 200
    assert records_of(console_lines(), "req-123") == [
        "verification_scheduled by=test",
        "journal_whole checked=0",  # written by core.tasks.verify_journal_task's body
    ]


def test_django_s_own_record_of_an_error_response_carries_the_id(client, console_lines):
    client.get("/referencements/page-absente/", HTTP_X_REQUEST_ID="req-404")
    assert "Not Found: /referencements/page-absente/" in records_of(console_lines(), "req-404")


def test_records_outside_a_request_have_no_id(console_lines):
    import logging

    logging.getLogger("tests.ops").info("outside")
    assert [line["request_id"] for line in console_lines()] == ["-"]


@real_broker
@pytest.mark.django_db(transaction=True)
def test_the_id_travels_in_the_task_s_headers_to_a_real_worker(worker, client, console_lines):
    response = client.get("/test-ops/verifier/", HTTP_X_REQUEST_ID="req-worker")
    AsyncResult(response.json()["task_id"]).get(timeout=30)
    assert "journal_whole checked=0" in records_of(console_lines(), "req-worker")
    assert request_id.get() is None
