"""/metrics: django-prometheus's request metrics and the engine's own, for allowed scrapers only."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from prometheus_client.parser import text_string_to_metric_families

from core.tasks import verify_journal_task
from payments.models import ClaimKind
from payments.services import claims
from payments.services.filings import build_filings
from tests.payments.factories import signed_now

pytestmark = pytest.mark.django_db

TOKEN = "jeton-de-test-prometheus"


@pytest.fixture(autouse=True)
def scraper(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []


def scrape(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples, name, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_signed_order_a_ready_claim_and_a_filing_are_counted(client, admin_user):
    before = scrape(client)
    order = signed_now(admin_user)
    claims.make_ready(
        claim=claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin_user),
        actor=admin_user,
    )
    after = scrape(client)
    signed = {"model": "sons.purchaseorder", "transition": "sign"}
    assert value(after, "sons_transitions_total", **signed) == (
        value(before, "sons_transitions_total", **signed) + 1
    )
    assert value(after, "sons_payment_claims", state="ready") == 1
    assert value(after, "sons_payment_claims", state="paid") == 0  # every state, even empty

    build_filings(
        vendor=order.vendor, dispositif=order.dispositif, kind=ClaimKind.AVANCE, actor=admin_user
    )
    filed = scrape(client)
    assert value(filed, "sons_filings_built_total", kind="avance") == (
        value(after, "sons_filings_built_total", kind="avance") + 1
    )
    assert value(filed, "sons_payment_claims", state="ready") == 0
    assert value(filed, "sons_payment_claims", state="submitted") == 1


def test_the_claims_are_counted_in_one_query(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        scrape(client)


def test_tasks_and_requests_are_counted(client):
    before = scrape(client)
    verify_journal_task.delay()
    client.get("/health/live/")
    after = scrape(client)
    task = {"task": "core.verify_journal"}
    for name in ("sons_celery_tasks_started_total", "sons_celery_tasks_succeeded_total"):
        assert value(after, name, **task) == value(before, name, **task) + 1
    assert value(after, "sons_celery_task_duration_seconds_count", **task) == (
        value(before, "sons_celery_task_duration_seconds_count", **task) + 1
    )
    live = {"view": "health-live", "transport": "http", "method": "GET"}
    name = "django_http_requests_total_by_view_transport_method_total"
    assert value(after, name, **live) == value(before, name, **live) + 1
    assert any(key[0] == "django_db_execute_total" for key in after)  # the database backend's


def test_strangers_are_refused(client, settings):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer faux").status_code == 403
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403


def test_openmetrics_is_served_when_asked(client):
    response = client.get(
        "/metrics",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
        HTTP_ACCEPT="application/openmetrics-text; version=1.0.0",
    )
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().rstrip().endswith("# EOF")


MULTIPROCESS_SCRAPE = """
import django
django.setup()
from django.test import RequestFactory
from core import metrics
metrics.TRANSITIONS.labels(model="sons.purchaseorder", transition="sign").inc(3)
request = RequestFactory().get("/metrics", HTTP_AUTHORIZATION="Bearer t")
print(metrics.metrics_view(request).content.decode())
"""


def test_the_multiprocess_mode_adds_up_every_process(tmp_path):
    """Two processes write under PROMETHEUS_MULTIPROC_DIR; the second one's scrape sees both."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "sons.settings_test",
        "METRICS_TOKEN": "t",
        # A database without tables: the claims are left out of the scrape, the rest is served.
        "DATABASE_URL": f"sqlite:///{tmp_path / 'vide.sqlite3'}",
    }
    root = Path(django_settings.BASE_DIR)
    outputs = [
        subprocess.run(
            [sys.executable, "-c", MULTIPROCESS_SCRAPE],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        for _ in range(2)
    ]
    assert 'sons_transitions_total{model="sons.purchaseorder",transition="sign"} 6.0' in outputs[1]
