"""The pages administrators and vendors read are in French from end to end: no English nor
misspelt label left by a third-party app (django-celery-beat's French catalogue, django-otp's
English names), no journal entry shown by its codes (« draft → signed (sign) »), no « Enregistrer »
on a page where nothing can be changed."""

import html as html_module
import re

import pytest

from payments.models import PaymentClaim
from sons.models import PurchaseOrder
from tests.dashboard.conftest import World
from tests.portal.conftest import (
    sign_in,
    vendor,  # noqa: F401 - fixture
    vendor_order,
)
from tests.portal.conftest import staff as portal_staff  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db

# Seen on these pages before: English names and misspelt translations of third-party apps, and
# journal codes instead of their French names.
KNOWN_WRONG = [
    "OTP_TOTP",
    "Otp_Totp",
    "TOTP devices",
    "TOTP device",
    "Periodic Tasks",
    "Tâches Périodique",
    "Tâches périodique ",
    "Intervales",
    "Intervals",
    "Évènements solaire",
    "évènements solaire",
    "Solar events",
    "Clocked",
    "Reference :",
    "Reference",
    "draft → signed",
    "(sign)",
    "Save",
    "Delete",
    "Home",
    "Welcome",
    "Log out",
    "View site",
    "Change password",
    "Recent actions",
    "Skip links",
    "Untitled page",
    "Confirmed",
    "Digits",
    "Drift",
    "Tolerance",
    "Throttling",
    "Can add",
    "Can change",
    "Can delete",
    "Can view",
    "A hex-encoded secret key",
    "The time step in seconds.",
]


def visible_text(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    # What is read: the text, and the labels given in attributes (titles, values, alternatives).
    attributes = " ".join(re.findall(r'(?:title|value|alt|aria-label)="([^"]*)"', html))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)) + " " + attributes
    return html_module.unescape(text)


def wrong_strings(response) -> list[str]:
    text = visible_text(response)
    return [s for s in KNOWN_WRONG if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text)]


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def world(admin_user):
    world = World(admin_user)
    world.defaulted_with_recovery()
    return world


def test_the_admin_home_names_every_app_and_model_in_french(staff_client, world):
    response = staff_client.get("/admin/")
    assert response.status_code == 200
    assert wrong_strings(response) == []
    text = visible_text(response)
    for label in ("Tâches périodiques", "Intervalles", "Événements solaires", "Appareils TOTP"):
        assert label in text
    assert "Double authentification (TOTP)" in text


@pytest.mark.parametrize(
    "url",
    [
        "/admin/django_celery_beat/",
        "/admin/django_celery_beat/intervalschedule/add/",
        "/admin/otp_totp/",
        "/admin/otp_totp/totpdevice/add/",
        "/admin/core/journalentry/",
        "/admin/auth/group/add/",
    ],
)
def test_third_party_and_journal_lists_are_in_french(staff_client, world, url):
    response = staff_client.get(url)
    assert response.status_code == 200
    assert wrong_strings(response) == []


def test_an_order_page_tells_its_whole_history_in_french_and_offers_no_save(staff_client, world):
    order = PurchaseOrder.objects.get()
    response = staff_client.get(f"/admin/sons/purchaseorder/{order.pk}/change/")
    assert response.status_code == 200
    assert wrong_strings(response) == []
    text = visible_text(response)
    assert "Référence : BDC-" in text
    assert "Brouillon → Signé" in text and "Signer le BDC" in text
    # One history: the entries of its claim and its recovery among the order's own.
    assert "Demande d'avance" in text and "Recouvrement" in text
    assert 'name="_save"' not in response.content.decode()


def test_a_claim_page_names_its_journal_in_french_and_offers_no_save(staff_client, world):
    claim = PaymentClaim.objects.get()
    response = staff_client.get(f"/admin/payments/paymentclaim/{claim.pk}/change/")
    assert wrong_strings(response) == []
    assert "Création" in visible_text(response)
    assert 'name="_save"' not in response.content.decode()


def test_an_editable_admin_page_keeps_its_save_button(staff_client, world):
    response = staff_client.get("/admin/catalogue/vendor/add/")
    assert 'name="_save"' in response.content.decode()
    assert "Enregistrer" in visible_text(response)


@pytest.mark.parametrize(
    "url", ["/admin/tableau-de-bord/", "/admin/tableau-de-bord/DASH-LGC-V1/?at=2023-09-10T12:00"]
)
def test_the_dashboard_is_in_french(staff_client, world, url):
    response = staff_client.get(url)
    assert response.status_code == 200
    assert wrong_strings(response) == []


def test_a_portal_page_is_in_french(client, vendor, portal_staff):  # noqa: F811
    vendor_order(vendor, portal_staff)
    sign_in(client, portal_staff)
    for url in ("/portail/", "/portail/bdc/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert wrong_strings(response) == [], url


def test_permissions_are_named_in_french_and_checked_by_their_codes(staff_client, world):
    """The groups' page lists each permission by a French name; the code still checks the
    codename Django gave it."""
    from django.contrib.auth.models import Permission

    text = visible_text(staff_client.get("/admin/auth/group/add/"))
    assert "Peut ajouter : bon de commande (BDC)" in text
    assert "Peut voir : bon de commande (BDC)" in text
    permission = Permission.objects.get(codename="change_purchaseorder")
    assert permission.name == "Peut modifier : bon de commande (BDC)"


def test_a_periodic_task_says_its_schedule_in_french(staff_client, world):
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    crontab = CrontabSchedule.objects.create(
        minute="30", hour="4", day_of_week="1-5", timezone="Europe/Paris"
    )
    task = PeriodicTask.objects.create(name="Balayage", task="sweep", crontab=crontab)
    for url in (
        f"/admin/django_celery_beat/periodictask/{task.pk}/change/",
        "/admin/django_celery_beat/crontabschedule/",
    ):
        text = visible_text(staff_client.get(url))
        assert "À 04:30, de lundi à vendredi (Europe/Paris)" in text, url
        assert "AM" not in text.split() and "Monday" not in text
