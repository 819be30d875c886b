"""Reminders to vendors, clients and administrators: due once, grouped, following the calendar."""

import datetime as dt
import threading

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import connection, connections

from catalogue.models import VendorMember
from reminders import tasks
from reminders.models import Delivery, Preference, Reminder, ReminderKind
from reminders.services import send_due_reminders
from sons.services import acceptance
from tests.factories import CalendarVersionFactory, DeadlineFactory
from tests.sons.factories import at_paris, lgc_dispositif, referenced, signed_order

REALISATION = at_paris(2023, 9, 20, 14, 0)
J30 = at_paris(2023, 8, 25, 9, 0)  # 26 days before the end of réalisation


@pytest.fixture
def world(admin_user, django_user_model):
    """Vendor A: three undelivered orders, two members (one wants a digest).
    Vendor B: one undelivered order, no member, a contact address."""
    dispositif = lgc_dispositif(code="LGC-T")
    ref_a = referenced(dispositif=dispositif, actor=admin_user)
    ref_b = referenced(dispositif=dispositif, actor=admin_user)
    a_orders = [signed_order(referencing=ref_a, actor=admin_user) for _ in range(3)]
    b_order = signed_order(referencing=ref_b, actor=admin_user)
    vendor_a, vendor_b = a_orders[0].vendor, b_order.vendor
    vendor_b.contact_email = "contact@editeur-b.invalid"
    vendor_b.save()
    alice = django_user_model.objects.create_user("alice", "alice@editeur-a.invalid", "pw")
    bob = django_user_model.objects.create_user("bob", "bob@editeur-a.invalid", "pw")
    VendorMember.objects.create(user=alice, vendor=vendor_a, role=VendorMember.Role.ADMIN)
    VendorMember.objects.create(user=bob, vendor=vendor_a)
    Preference.objects.create(user=bob, daily_digest=True)
    return {
        "dispositif": dispositif,
        "a_orders": a_orders,
        "b_order": b_order,
        "alice": alice,
        "bob": bob,
    }


def run(at, capture):
    with capture(execute=True):
        return send_due_reminders(at=at)


def issue(order, actor, at, capture):
    """A VA issued at `at`, its document rendered; the mails of the issue itself forgotten."""
    va = acceptance.create_va(order=order, delivered_summary="Mise à jour", actor=actor)
    with capture(execute=True):
        acceptance.issue_va(va=va, actor=actor, at=at)
    mail.outbox.clear()
    va.refresh_from_db()
    return va


def sign(va, at=None):
    acceptance.sign_va(
        va=va,
        signer=acceptance.Signer(name="Dr X", role="Médecin", identity_method="code"),
        confirmed=va.statements,
        document_sha256=va.pdf_sha256,
        at=at,
    )


def mails_to(address):
    return [m for m in mail.outbox if address in m.to]


def test_each_vendor_gets_one_message_per_deadline_listing_its_orders(
    world, django_capture_on_commit_callbacks
):
    counts = run(J30, django_capture_on_commit_callbacks)

    assert counts[ReminderKind.VENDOR_DEADLINE] == 2  # realisation, for vendor A and vendor B
    [to_alice] = mails_to("alice@editeur-a.invalid")
    assert "J-30" in to_alice.subject and "Fin de réalisation" in to_alice.subject
    assert "20/09/2023 à 14:00" in to_alice.body
    for order in world["a_orders"]:
        assert order.reference in to_alice.body
    assert world["b_order"].reference not in to_alice.body  # never another vendor's client
    [to_b] = mails_to("contact@editeur-b.invalid")
    assert world["b_order"].reference in to_b.body
    assert world["a_orders"][0].reference not in to_b.body
    # Bob chose the daily digest: nothing yet, then one mail gathering his reminders.
    assert mails_to("bob@editeur-a.invalid") == []
    tasks.send_digests()
    [digest] = mails_to("bob@editeur-a.invalid")
    assert "Vos rappels du jour (1)" in digest.subject
    assert world["a_orders"][2].reference in digest.body


def test_the_reminder_records_the_calendar_version_it_was_computed_from(
    world, django_capture_on_commit_callbacks
):
    run(J30, django_capture_on_commit_callbacks)
    reminder = Reminder.objects.get(
        kind=ReminderKind.VENDOR_DEADLINE, vendor=world["b_order"].vendor
    )
    version = world["dispositif"].calendar_versions.get()
    assert reminder.calendar_version == version
    assert reminder.deadline_at == REALISATION
    assert reminder.threshold_days == 30
    assert reminder.order_ids == [world["b_order"].pk]


def test_administrators_hear_of_the_orders_at_risk(
    world, admin_user, django_capture_on_commit_callbacks
):
    run(J30, django_capture_on_commit_callbacks)
    [to_admin] = mails_to(admin_user.email)
    assert "LGC-T : 4 BDC en risque" in to_admin.subject
    assert world["b_order"].reference in to_admin.body


def test_a_reminder_is_never_sent_twice_and_the_next_threshold_comes_later(
    world, django_capture_on_commit_callbacks
):
    run(J30, django_capture_on_commit_callbacks)
    sent = len(mail.outbox)
    assert run(J30, django_capture_on_commit_callbacks) == {k: 0 for k in ReminderKind.values}
    assert (
        run(J30 + dt.timedelta(days=10), django_capture_on_commit_callbacks)[
            ReminderKind.VENDOR_DEADLINE
        ]
        == 0
    )
    assert len(mail.outbox) == sent

    seven_days_before = REALISATION - dt.timedelta(days=7)
    assert (
        run(seven_days_before - dt.timedelta(seconds=1), django_capture_on_commit_callbacks)[
            ReminderKind.VENDOR_DEADLINE
        ]
        == 0
    )
    run(seven_days_before, django_capture_on_commit_callbacks)
    assert any("J-7" in m.subject for m in mails_to("alice@editeur-a.invalid"))


def test_an_order_whose_completion_is_notified_leaves_the_list(
    world, admin_user, django_capture_on_commit_callbacks
):
    """SONS.md « End of réalisation, exactly » (COSUI of 5 April 2023): what the end of
    réalisation asks is the completion notified to the ASP (or the solde filed), the VA may
    follow; a VA signed alone no longer takes an order off the list."""
    from sons.services.completion import notify_completion

    delivered = world["a_orders"][0]
    va = issue(delivered, admin_user, at_paris(2023, 8, 1, 9), django_capture_on_commit_callbacks)
    sign(va, at=at_paris(2023, 8, 2, 9))
    notify_completion(order=delivered, actor=admin_user, at=at_paris(2023, 8, 2, 10))
    # What tells the ASP is the deposit of the notice's filing (SONS.md step 4).
    from tests.payments.factories import deposit_completions

    deposit_completions(
        delivered, admin_user, django_capture_on_commit_callbacks, at_paris(2023, 8, 2, 11)
    )
    run(J30, django_capture_on_commit_callbacks)
    [to_alice] = mails_to("alice@editeur-a.invalid")
    assert delivered.reference not in to_alice.body
    assert "pour 2 BDC" in to_alice.body


def test_reminders_follow_a_deadline_moved_by_an_arrete(world, django_capture_on_commit_callbacks):
    run(J30, django_capture_on_commit_callbacks)  # J-30 of 20/09, Bob's kept for his digest
    moved = CalendarVersionFactory(
        dispositif=world["dispositif"],
        legal_reference="arrêté modificatif du 1er septembre 2023",
        published_on=dt.date(2023, 9, 1),
    )
    DeadlineFactory(version=moved, kind="realisation", at=at_paris(2023, 12, 20, 14, 0))

    # Bob's digest comes after the move: the reminder of the old date has lost its object.
    mail.outbox.clear()
    tasks.send_digests()
    assert mails_to("bob@editeur-a.invalid") == []
    assert Delivery.objects.get(email="bob@editeur-a.invalid").status == "superseded"

    # The old J-7 (13/09) sends nothing; J-30 of the new date does, with the new date.
    assert (
        run(at_paris(2023, 9, 13, 15, 0), django_capture_on_commit_callbacks)[
            ReminderKind.VENDOR_DEADLINE
        ]
        == 0
    )
    run(at_paris(2023, 11, 20, 14, 0), django_capture_on_commit_callbacks)
    [to_alice] = [
        m for m in mails_to("alice@editeur-a.invalid") if "Fin de réalisation" in m.subject
    ]
    assert "20/12/2023 à 14:00" in to_alice.body
    assert "arrêté modificatif du 1er septembre 2023" in to_alice.body
    assert (
        Reminder.objects.get(
            vendor=world["b_order"].vendor, deadline_at=at_paris(2023, 12, 20, 14, 0)
        ).calendar_version
        == moved
    )


def test_a_vendors_system_subscribed_to_reminders_gets_them_as_a_webhook(
    world, django_capture_on_commit_callbacks
):
    from api.models import WebhookDelivery, WebhookSubscription

    vendor_a = world["a_orders"][0].vendor
    WebhookSubscription.objects.create(
        vendor=vendor_a, url="http://127.0.0.1:9/crm", events=["deadline.reminder"], secret="s"
    )
    with django_capture_on_commit_callbacks(execute=False):
        send_due_reminders(at=J30)
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.event == "deadline.reminder"
    assert delivery.payload["dispositif"] == "LGC-T"
    assert delivery.payload["threshold_days"] == 30
    assert delivery.payload["orders"] == [o.reference for o in world["a_orders"]]


def test_preferences_silence_what_a_person_does_not_want(world, django_capture_on_commit_callbacks):
    Preference.objects.create(user=world["alice"], vendor_deadlines=False)
    run(J30, django_capture_on_commit_callbacks)
    assert mails_to("alice@editeur-a.invalid") == []
    assert not Delivery.objects.filter(email="alice@editeur-a.invalid").exists()


def test_a_client_whose_va_waits_is_reminded_at_seven_then_fourteen_days(
    admin_user, client, django_capture_on_commit_callbacks
):
    order = signed_order(
        referencing=referenced(dispositif=lgc_dispositif(), actor=admin_user), actor=admin_user
    )
    issued_at = at_paris(2023, 3, 1, 9, 30)
    issue(order, admin_user, issued_at, django_capture_on_commit_callbacks)
    address = order.contact.email

    run(
        issued_at + dt.timedelta(days=7) - dt.timedelta(seconds=1),
        django_capture_on_commit_callbacks,
    )
    assert mails_to(address) == []
    run(issued_at + dt.timedelta(days=7), django_capture_on_commit_callbacks)
    [first] = mails_to(address)
    assert order.reference in first.subject
    assert "depuis 7 jours" in first.body and order.vendor.name in first.body
    # The reminder carries a fresh personal link that opens the VA's signing page.
    url = next(line for line in first.body.splitlines() if "/signature/" in line).strip()
    page = client.get(url.removeprefix(settings.SITE_URL), follow=True)
    assert page.status_code == 200 and order.reference in page.content.decode()
    run(issued_at + dt.timedelta(days=8), django_capture_on_commit_callbacks)
    run(issued_at + dt.timedelta(days=14), django_capture_on_commit_callbacks)
    run(issued_at + dt.timedelta(days=20), django_capture_on_commit_callbacks)
    assert [("depuis 14 jours" in m.body) for m in mails_to(address)] == [False, True]


def test_a_client_who_signed_meanwhile_is_not_reminded(
    admin_user, django_capture_on_commit_callbacks
):
    order = signed_order(
        referencing=referenced(dispositif=lgc_dispositif(), actor=admin_user), actor=admin_user
    )
    issued_at = at_paris(2023, 3, 1, 9, 30)
    va = issue(order, admin_user, issued_at, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):  # the mail task has not run yet...
        send_due_reminders(at=issued_at + dt.timedelta(days=7))
    sign(va)
    delivery = Delivery.objects.get()
    assert tasks.deliver(delivery.pk) == "superseded"  # ...and when it runs, nothing goes out
    assert mail.outbox == []


def test_dry_run_explains_and_writes_nothing(world, capsys):
    call_command("send_reminders", "--dry-run", "--at", "2023-08-25T09:00")
    out = capsys.readouterr().out
    assert "Fin de réalisation le 20/09/2023 à 14:00" in out and "seuil J-30" in out
    assert "(3 BDC)" in out and "(1 BDC)" in out
    assert "3 rappel(s) à envoyer" in out
    assert Reminder.objects.count() == 0 and mail.outbox == []


def test_the_preferences_page_saves_a_persons_choice(client, world):
    client.force_login(world["alice"])
    page = client.get("/rappels/preferences/")
    assert "Un seul courriel récapitulatif par jour" in page.content.decode()
    client.post("/rappels/preferences/", {"vendor_deadlines": "on", "daily_digest": "on"})
    preference = Preference.objects.get(user=world["alice"])
    assert preference.daily_digest and preference.vendor_deadlines and not preference.admin_at_risk


def test_the_preferences_page_asks_to_sign_in(client):
    assert client.get("/rappels/preferences/").status_code == 302


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's concurrency")
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_reminder_once(world):
    barrier = threading.Barrier(2)
    results = []

    def one_run():
        try:
            barrier.wait()
            results.append(send_due_reminders(at=J30))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(r[ReminderKind.VENDOR_DEADLINE] for r in results) == 2
    assert Reminder.objects.count() == 3
    assert len(mails_to("alice@editeur-a.invalid")) == 1
    assert len(mails_to("contact@editeur-b.invalid")) == 1
