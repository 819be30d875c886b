"""/health/ (every check) and /health/live/ (the load balancer's): real failures, not mocks."""

import copy
import datetime as dt

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import JournalEntry, RoutineRun
from core.tasks import verify_journal_task
from payments.sweep import sweep
from tests.factories import referencing_in_state
from tests.journal import tamper

pytestmark = pytest.mark.django_db

CHECKS = {
    "Database": "Database(alias='default')",
    "Cache": "Cache(alias='default')",
    "Storage": "Storage(alias='default')",
    "CeleryBroker": "CeleryBroker()",
    "DeadlineSweep": "DeadlineSweep()",
    "JournalVerification": "JournalVerification()",
}


@pytest.fixture
def routines_ran(admin_user):
    """A journal with entries, swept and verified through the real sweep and task."""
    referencing_in_state("submitted", actor=admin_user)
    sweep(timezone.now())
    verify_journal_task.delay()


def health(client, **headers):
    response = client.get("/health/", HTTP_ACCEPT="application/json", **headers)
    return response.status_code, response.json()


def failed(report: dict) -> set[str]:
    return {check for check, outcome in report.items() if outcome != "OK"}


def test_every_check_passes_and_is_named(client, routines_ran):
    status, report = health(client)
    assert status == 200
    assert report == {name: "OK" for name in CHECKS.values()}


def test_the_page_for_humans_lists_the_checks(client, routines_ran):
    response = client.get("/health/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    page = response.content.decode()
    assert all(f"{name}(" in page for name in CHECKS)


def test_an_unreachable_database_is_named(client, routines_ran, monkeypatch, closed_port):
    """New connections (the check opens its own) go to a database that is not there."""
    broken = copy.deepcopy(connections.settings)
    if connection.vendor == "sqlite":
        broken["default"]["NAME"] = "/nonexistent-folder/sons.sqlite3"
    else:
        broken["default"].update(HOST="127.0.0.1", PORT=str(closed_port))
    monkeypatch.setattr(connections, "settings", broken)
    status, report = health(client)
    assert status == 503
    assert failed(report) == {CHECKS["Database"]}
    assert report[CHECKS["Database"]].startswith("Unavailable")


def test_an_unreachable_cache_is_named(client, routines_ran, settings, closed_port):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
        }
    }
    status, report = health(client)
    assert status == 503
    assert failed(report) == {CHECKS["Cache"]}


def test_a_sweep_30_hours_old_fails(client, routines_ran):
    RoutineRun.objects.filter(name=RoutineRun.SWEEP).update(
        finished_at=timezone.now() - dt.timedelta(hours=30)
    )
    status, report = health(client)
    assert status == 503
    assert failed(report) == {CHECKS["DeadlineSweep"]}
    assert report[CHECKS["DeadlineSweep"]] == "Unavailable: Last deadline sweep 30 h ago"


def test_a_sweep_25_hours_old_passes(client, routines_ran):
    RoutineRun.objects.filter(name=RoutineRun.SWEEP).update(
        finished_at=timezone.now() - dt.timedelta(hours=25)
    )
    assert health(client)[0] == 200


def test_in_the_embedded_mode_a_sweep_never_run_is_a_warning(client, settings):
    settings.CELERY_BROKER_URL = "memory://localhost/"
    status, report = health(client)
    assert status == 200
    assert report[CHECKS["DeadlineSweep"]].startswith("Warning: No deadline sweep has run yet")
    assert report[CHECKS["JournalVerification"]].startswith("Warning")
    assert report[CHECKS["CeleryBroker"]] == "OK"


def test_with_a_broker_an_unreachable_broker_and_a_sweep_never_run_fail(
    client, settings, closed_port
):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/0"
    status, report = health(client)
    assert status == 503
    assert failed(report) == {
        CHECKS["CeleryBroker"],
        CHECKS["DeadlineSweep"],
        CHECKS["JournalVerification"],  # a warning: never verified
    }
    assert report[CHECKS["CeleryBroker"]].startswith("Unavailable")
    assert report[CHECKS["DeadlineSweep"]].startswith("Unavailable")
    assert report[CHECKS["JournalVerification"]].startswith("Warning")


def test_a_tampered_journal_found_by_the_last_verification_fails(client, routines_ran):
    tamper(f"UPDATE {JournalEntry._meta.db_table} SET reason = %s WHERE sequence = 1", ["forgé"])
    verify_journal_task.delay()
    status, report = health(client)
    assert status == 503
    assert failed(report) == {CHECKS["JournalVerification"]}
    assert "entrée n° 1" in report[CHECKS["JournalVerification"]]


def test_a_verification_older_than_a_day_is_a_warning(client, routines_ran):
    RoutineRun.objects.filter(name=RoutineRun.JOURNAL).update(
        finished_at=timezone.now() - dt.timedelta(hours=30)
    )
    status, report = health(client)
    assert status == 200
    assert report[CHECKS["JournalVerification"]] == "Warning: Journal last verified 30 h ago"


def test_the_checks_only_read_the_engine_s_tables(client, routines_ran):
    with CaptureQueriesContext(connection) as captured:
        assert health(client)[0] == 200
    assert captured.captured_queries
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in captured.captured_queries)


def test_the_live_probe_needs_no_login_no_database_and_no_https(
    client, settings, django_assert_num_queries
):
    settings.SECURE_SSL_REDIRECT = True
    with django_assert_num_queries(0):
        response = client.get("/health/live/")
    assert response.status_code == 200
    assert client.get("/health/", HTTP_ACCEPT="application/json").status_code in (200, 503)
    assert client.get("/referencements/").status_code == 301  # the rest still redirects
