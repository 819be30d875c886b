"""A Celery worker killed with SIGKILL in the middle of a task that touches the outside (a PDF, a
mail, a webhook): the task is delivered again (late acks, `task_reject_on_worker_lost`, Redis's
visibility timeout) and its effect happens once.

Each test runs a real worker (`celery -A sons worker --pool=prefork --concurrency=1`) on a Redis
of its own and on the test database, sends the task message itself, kills the worker at a point
it observes (not after a guessed sleep), lets a worker finish, then sends the same message once
more (a late duplicate, as a restored message can be) and counts.
"""

from __future__ import annotations

import hashlib
import time

import pytest

from api.models import WebhookDelivery, WebhookSubscription
from api.webhooks import emit, new_secret
from signing import services as signing_services
from signing.models import SigningLink
from sons.models import PurchaseOrder
from sons.services import acceptance
from tests.factories import VendorFactory
from tests.faults.conftest import (
    VISIBILITY_TIMEOUT,
    WAIT,
    needs_redis_server,
    postgres_only,
    wait_for,
    worker_environment,
)
from tests.payments.factories import signed_now

pytestmark = [postgres_only, needs_redis_server, pytest.mark.django_db(transaction=True)]


def succeeded(producer, task_id: str) -> bool:
    return producer.AsyncResult(task_id).state == "SUCCESS"


def test_a_worker_killed_inside_weasyprint_stores_the_bdc_once(
    tmp_path, media_root, redis_server, producer, workers, no_tasks_here, django_user_model
):
    """Killed: the whole first worker (SIGKILL to its process group: the main process and the
    pool process waiting inside WeasyPrint's `HTML.write_pdf` for `sons.render_order_pdf`), so
    nobody acknowledged nor rejected the message; Redis kept it aside. A second worker started
    after the visibility timeout received it again and rendered the BDC; the same message sent
    once more afterwards found the BDC on file.

    Counted: 3 deliveries of the task (1 killed, 1 redelivered, 1 duplicate); 1 BDC file in the
    storage for the order, whose SHA-256 is the one recorded; 1 render stored, 0 duplicates."""
    order = signed_now(django_user_model.objects.create_user("agent"))
    gate = tmp_path / "gate"
    gate.mkdir()
    (gate / "hold").touch()
    env = worker_environment(redis_server, SONS_FAULTS_PDF_GATE=str(gate))
    first = workers(env)
    sent = producer.send_task("sons.render_order_pdf", args=[order.pk])
    wait_for((gate / "held").exists, "the render to reach WeasyPrint")
    held_at = time.monotonic()
    first.kill()
    bdc_files = lambda: sorted((media_root / "bdc").glob(f"{order.reference}*"))  # noqa: E731
    assert PurchaseOrder.objects.get(pk=order.pk).pdf_sha256 == ""
    assert bdc_files() == []
    assert first.received("sons.render_order_pdf") == 1

    time.sleep(max(0.0, held_at + VISIBILITY_TIMEOUT + 0.5 - time.monotonic()))
    second = workers(env)
    wait_for(lambda: succeeded(producer, sent.id), "the redelivered render")
    duplicate = producer.send_task("sons.render_order_pdf", args=[order.pk])
    digest = duplicate.get(timeout=WAIT)

    order.refresh_from_db()
    (stored,) = bdc_files()
    assert order.pdf.name == f"bdc/{stored.name}"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == order.pdf_sha256 == digest
    assert second.received("sons.render_order_pdf") == 2  # the redelivery, the duplicate


@pytest.mark.parametrize("hold", ["data", "quit"])
def test_a_worker_killed_while_mailing_a_signing_link_sends_one_mail(
    hold, redis_server, producer, workers, smtp_sink, no_tasks_here, django_user_model
):
    """Killed: the pool process running `signing.send_link_email` (SIGKILL), while the SMTP
    server held its answer: to the message's data (`data`: the mail not accepted yet) or to the
    QUIT that follows (`quit`: the mail accepted, the connection not closed). The worker saw its
    pool process lost and put the message back; its new pool process ran the task again. The
    same message sent once more afterwards changed nothing.

    Counted: 2 runs of the task and 1 duplicate; mails accepted for the link's address: exactly 1
    (`data`: 2 messages transmitted, the first never accepted; `quit`: 1 transmitted, the retry
    found `sent_at` recorded before the QUIT and sent nothing). Before the fix in
    `core/mail.py` the `quit` case mailed the client twice."""
    user = django_user_model.objects.create_user("agent")
    order = signed_now(user)
    va = acceptance.create_va(order=order, delivered_summary="Mise à jour livrée", actor=user)
    va = acceptance.issue_va(va=va, actor=user)
    link = signing_services.send_va_link(va=va, actor="test")
    assert link.sent_at is None
    sink = smtp_sink(hold=hold)
    worker = workers(worker_environment(redis_server, EMAIL_URL=sink.url))
    sent = producer.send_task("signing.send_link_email", args=[link.pk])
    wait_for(sink.held.is_set, f"the SMTP server to hold its answer to {hold.upper()}")
    recorded_before_kill = SigningLink.objects.get(pk=link.pk).sent_at is not None
    worker.kill_child()
    sink.release.set()
    wait_for(lambda: succeeded(producer, sent.id), "the redelivered mail task")
    producer.send_task("signing.send_link_email", args=[link.pk]).get(timeout=WAIT)

    link.refresh_from_db()
    assert link.sent_at is not None
    assert worker.received("signing.send_link_email") == 3  # killed, redelivered, duplicate
    mine = [m for m in sink.messages if link.sent_to in m["to"]]
    assert len(sink.accepted(link.sent_to, order.reference)) == 1
    if hold == "data":
        assert not recorded_before_kill
        assert [m["accepted"] for m in mine] == [False, True]
    else:
        assert recorded_before_kill  # recorded on the server's 250, before the goodbye
        assert [m["accepted"] for m in mine] == [True]


def test_a_worker_killed_while_delivering_a_webhook_redelivers_the_same_event(
    redis_server, producer, workers, webhook_receiver, no_tasks_here
):
    """Killed: the pool process running `api.deliver_webhook` (SIGKILL) while the receiver held
    its answer to the POST; the worker put the message back and its new pool process delivered
    again. The same message sent once more afterwards was skipped (the delivery is done).

    Counted: 2 POSTs received, both with the same event id (in the body and in
    `X-Sons-Delivery`): 1 distinct event, 1 acknowledged; the delivery is `delivered` with 1
    attempt on record (the killed attempt left nothing); 3 runs of the task (1 killed)."""
    receiver = webhook_receiver(hold_first=True)
    vendor = VendorFactory()
    WebhookSubscription.objects.create(
        vendor=vendor, url=receiver.url, events=["va.signed"], secret=new_secret()
    )
    (delivery,) = emit(vendor=vendor, event="va.signed", payload={"va": 1, "order": 2})
    # The receiver listens on 127.0.0.1 in plain HTTP: let the worker post there.
    worker = workers(worker_environment(redis_server, API_WEBHOOK_ALLOW_LOOPBACK="1"))
    sent = producer.send_task("api.deliver_webhook", args=[delivery.pk])
    wait_for(receiver.held.is_set, "the receiver to hold its first answer")
    worker.kill_child()
    receiver.release.set()
    wait_for(lambda: succeeded(producer, sent.id), "the redelivered webhook task")
    again = producer.send_task("api.deliver_webhook", args=[delivery.pk]).get(timeout=WAIT)

    delivery.refresh_from_db()
    received = receiver.requests
    assert again == "skipped"
    assert len(received) == 2
    assert {r["id"] for r in received} == {r["delivery_header"] for r in received}
    assert {r["id"] for r in received} == {str(delivery.event_id)}
    assert [r["acknowledged"] for r in received] == [False, True]
    assert (delivery.state, delivery.attempts) == (WebhookDelivery.State.DELIVERED, 1)
    assert worker.received("api.deliver_webhook") == 3
