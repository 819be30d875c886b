"""The embedded mode's tasks after the response (core/after_response.py): with
TASKS_AFTER_RESPONSE on, what a request queues on commit runs once the person has the whole
response, in order, a failure logged and kept as a dead letter; outside a request, at once.
And every response says its server time (`Server-Timing`)."""

from __future__ import annotations

import logging
import threading
import urllib.request

import pytest
from celery import shared_task
from django.db import transaction
from django.http import HttpResponse
from django.urls import path

from core.after_response import wait_for_tasks
from core.models import TaskFailure
from tests.factories import VendorFactory
from tests.portal.conftest import make_member, sign_in, vendor_order
from tests.responses import text

pytestmark = pytest.mark.django_db(transaction=True)

# What the test tasks saw, in the order they ran (shared with the live server's thread).
events: list[str] = []
released = threading.Event()  # set by the test once it holds the whole response
done = threading.Event()  # set by the last task a request queued


@shared_task(name="tests.after_response.render")
def render(order_id):
    # If this ran inside the request, the client could not have its response yet.
    events.append(f"render {order_id}: response received={released.wait(timeout=10)}")
    done.set()


@shared_task(name="tests.after_response.broken")
def broken(order_id):
    events.append(f"broken {order_id}")
    raise OSError("moteur PDF indisponible")


@shared_task(name="tests.after_response.last")
def last(order_id):
    events.append(f"last {order_id}")
    done.set()


def sign(request):
    """A view as the services write them: work queued on commit, then the response."""
    with transaction.atomic():
        transaction.on_commit(lambda: render.delay(7))
    events.append("view answered")
    return HttpResponse("Signature enregistrée. " * 2000)


def sign_with_failure(request):
    with transaction.atomic():
        transaction.on_commit(lambda: broken.delay(8))
        transaction.on_commit(lambda: last.delay(8))
    return HttpResponse("Signature enregistrée.")


urlpatterns = [path("sign/", sign), path("sign-failing/", sign_with_failure)]


@pytest.fixture
def after_response(settings):
    settings.TASKS_AFTER_RESPONSE = True
    settings.ROOT_URLCONF = __name__
    events.clear()
    released.clear()
    done.clear()
    yield
    released.set()  # never leave a task of a failed test waiting
    assert wait_for_tasks(30), "a deferred task was still running"


def test_the_next_request_on_a_kept_alive_connection_does_not_wait_for_the_tasks(
    after_response, live_server
):
    """A browser sends its next request (the page after a signature) on the same connection:
    it is answered while the first request's task still runs."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.request("GET", "/sign/")
        first = connection.getresponse()
        first.read()
        assert first.getheader("Connection") != "close"
        connection.request("GET", "/sign-failing/")  # the same connection, kept alive
        second = connection.getresponse()
        assert second.read().decode() == "Signature enregistrée."
        # The first request's task is still waiting for `released`: it had not run yet.
        assert not any(e.startswith("render") for e in events)
    finally:
        released.set()
        connection.close()
    assert done.wait(timeout=30)


def test_the_queued_task_runs_after_the_whole_response_is_received(after_response, live_server):
    with urllib.request.urlopen(f"{live_server.url}/sign/", timeout=30) as response:
        body = response.read().decode()
        status = response.status
    assert status == 200 and body.count("Signature enregistrée.") == 2000
    # The whole body is here and the task has not run yet.
    assert events == ["view answered"]
    released.set()
    # The task runs in the server's thread once the response is closed.
    assert done.wait(timeout=30), "the queued task never ran"
    assert events == ["view answered", "render 7: response received=True"]


def test_a_failing_deferred_task_is_logged_and_kept_and_the_next_one_still_runs(
    after_response, live_server, caplog
):
    caplog.set_level(logging.ERROR, logger="core.after_response")
    with urllib.request.urlopen(f"{live_server.url}/sign-failing/", timeout=30) as response:
        assert response.status == 200
        assert response.read().decode() == "Signature enregistrée."
    assert done.wait(timeout=30), "the task queued after the failing one never ran"
    assert events == ["broken 8", "last 8"]
    logged = [r for r in caplog.records if r.getMessage().startswith("deferred_task_failed")]
    assert len(logged) == 1
    message = logged[0].getMessage()
    assert "task=tests.after_response.broken" in message and "args=[8]" in message
    failure = TaskFailure.objects.get()
    assert failure.task_name == "tests.after_response.broken"
    assert failure.arguments == [8]
    assert "moteur PDF indisponible" in failure.exception
    assert failure.task_id in message


def test_outside_a_request_a_task_runs_at_once(settings):
    settings.TASKS_AFTER_RESPONSE = True
    events.clear()
    last.delay(9)
    assert events == ["last 9"]
    with pytest.raises(OSError, match="moteur PDF indisponible"):
        broken.delay(10)  # as before: the caller (a command, a sweep) sees the failure


def test_with_the_setting_off_the_task_runs_inside_the_request(settings, client):
    settings.ROOT_URLCONF = __name__
    settings.TASKS_AFTER_RESPONSE = False
    events.clear()
    released.set()
    response = client.get("/sign/")
    assert response.status_code == 200
    assert events == ["render 7: response received=True", "view answered"]


def test_every_response_says_its_server_time(client):
    response = client.get("/health/live/")
    name, duration = response["Server-Timing"].split(";dur=")
    assert name == "app" and float(duration) >= 0


@pytest.mark.django_db  # not committed: the order's PDF task never runs, as before it has run
def test_a_document_not_rendered_yet_is_announced_in_french(client, admin_user):
    vendor = VendorFactory()
    order = vendor_order(vendor, admin_user)
    assert order.signed_at and not order.pdf
    portal = text(sign_in(client, make_member(vendor)).get(f"/portail/bdc/{order.pk}/"))
    assert "En cours de préparation, rechargez la page dans quelques secondes." in portal
    assert f"/portail/bdc/{order.pk}/bdc.pdf" not in portal
    client.force_login(admin_user)
    admin_page = text(client.get(f"/admin/sons/purchaseorder/{order.pk}/change/"))
    assert "En cours de préparation, rechargez la page dans quelques secondes." in admin_page
