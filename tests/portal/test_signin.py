"""Signing in: password, the second factor (required for vendor administrators, enrolled before
anything else), the lock after repeated failures, and pages closed to anyone else."""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from catalogue.deadlines import format_paris
from catalogue.models import VendorMember
from portal.models import LoginFailure
from tests.portal.conftest import PASSWORD, code_for, make_member, sign_in
from tests.responses import text

pytestmark = pytest.mark.django_db

LOGIN = "/portail/connexion/"


def post_login(client, username, password=PASSWORD, **query):
    url = LOGIN + ("?next=" + query["next"] if "next" in query else "")
    return client.post(url, {"username": username, "password": password})


def test_a_collaborator_signs_in_with_a_password_and_lands_where_they_were_going(client, staff):
    assert client.get("/portail/bdc/")["Location"] == "/portail/connexion/?next=%2Fportail%2Fbdc%2F"
    response = post_login(client, staff.username.upper(), next="/portail/bdc/")
    assert response["Location"] == "/portail/bdc/"
    assert client.get("/portail/").status_code == 200


def test_next_never_leads_off_site(client, staff):
    response = post_login(client, staff.username, next="https://ailleurs.example/")
    assert response["Location"] == "/portail/"


def test_a_wrong_password_says_so_without_saying_which_part_was_wrong(client, staff):
    response = post_login(client, staff.username, "faux")
    assert "Identifiant ou mot de passe incorrect." in text(response)
    response = post_login(client, "personne@example.invalid", "faux")
    assert "Identifiant ou mot de passe incorrect." in text(response)
    assert client.get("/portail/").status_code == 302


def test_five_failures_lock_the_account_from_that_address_and_the_page_says_until_when(
    client, staff, settings
):
    settings.PORTAL_LOCKOUT_FAILURES = 5
    settings.PORTAL_LOCKOUT_MINUTES = 15
    for _ in range(4):
        assert post_login(client, staff.username, "faux").status_code == 200
    response = post_login(client, staff.username, "faux")
    assert response.status_code == 429
    until = LoginFailure.objects.get(username=staff.username).locked_until
    assert dt.timedelta(minutes=14) < until - timezone.now() <= dt.timedelta(minutes=15)
    page = text(response)
    assert f"bloquée jusqu'au {format_paris(until)}" in page
    # Even the right password is refused while the lock holds.
    response = post_login(client, staff.username)
    assert response.status_code == 429
    assert client.get("/portail/").status_code == 302
    # Another address is not locked out by someone else's failures.
    other = client.__class__(REMOTE_ADDR="198.51.100.9")
    assert post_login(other, staff.username).status_code == 302


def test_when_the_lock_has_run_out_the_right_password_opens_and_clears_the_count(
    client, staff, settings
):
    settings.PORTAL_LOCKOUT_FAILURES = 2
    post_login(client, staff.username, "faux")
    post_login(client, staff.username, "faux")
    LoginFailure.objects.update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert post_login(client, staff.username).status_code == 302
    assert not LoginFailure.objects.exists()


def test_a_vendor_admin_enrols_a_second_factor_before_anything_else(client, vendor, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # no waiting after the wrong code below
    admin = make_member(vendor, role=VendorMember.Role.ADMIN, enrolled=False)
    response = post_login(client, admin.username)
    assert response["Location"] == "/portail/connexion/double-authentification/"
    # Not signed in meanwhile: every page sends back to the sign-in.
    assert client.get("/portail/bdc/").status_code == 302
    page = text(client.get("/portail/connexion/double-authentification/"))
    assert "data:image/svg+xml;base64," in page
    # The page wrote nothing: the secret it shows waits in the session until a code is typed.
    assert not TOTPDevice.objects.filter(user=admin).exists()
    device = enrolling(client)
    response = client.post("/portail/connexion/double-authentification/", {"code": "000000"})
    assert "pas le bon" in text(response)
    device.confirmed = True  # only to compute the code the app shows
    code = code_for_device(device)
    response = client.post("/portail/connexion/double-authentification/", {"code": code})
    assert response["Location"] == "/portail/"
    assert TOTPDevice.objects.get(user=admin).confirmed
    assert client.get("/portail/utilisateurs/").status_code == 200


def enrolling(client) -> TOTPDevice:
    """The device being enrolled, as the person's app holds it: the secret the page showed."""
    return TOTPDevice(key=client.session["portal_enrol_key"])


def code_for_device(device):
    import time

    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


def test_a_user_with_a_device_gives_the_code_after_the_password(client, vendor_admin, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # no waiting after the wrong code below
    response = post_login(client, vendor_admin.username)
    assert response["Location"] == "/portail/connexion/code/"
    assert client.get("/portail/").status_code == 302
    response = client.post("/portail/connexion/code/", {"code": "123 456"})
    assert "pas le bon" in text(response)
    assert LoginFailure.objects.get().failures == 1
    response = client.post("/portail/connexion/code/", {"code": code_for(vendor_admin)})
    assert response["Location"] == "/portail/"
    assert client.get("/portail/").status_code == 200
    assert not LoginFailure.objects.exists()


def test_right_after_a_wrong_code_the_device_asks_to_wait(client, vendor_admin, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 3600  # a wait no test run outlasts
    post_login(client, vendor_admin.username)
    client.post("/portail/connexion/code/", {"code": "000000"})
    response = client.post("/portail/connexion/code/", {"code": code_for(vendor_admin)})
    # The wait is said in seconds: the first wrong code holds the device back one factor.
    seconds = int(re.search(r"attendez (\d+) secondes", text(response)).group(1))
    assert 3590 <= seconds <= 3600


def test_wrong_codes_count_towards_the_lock(client, vendor_admin, settings):
    settings.PORTAL_LOCKOUT_FAILURES = 3
    post_login(client, vendor_admin.username)
    client.post("/portail/connexion/code/", {"code": "000000"})
    client.post("/portail/connexion/code/", {"code": "000001"})
    response = client.post("/portail/connexion/code/", {"code": "000002"})
    assert response.status_code == 429
    assert "bloquée jusqu'au" in text(response)
    # The half-open sign-in is dropped: the password must be given again, and is locked.
    assert client.get("/portail/connexion/code/")["Location"] == LOGIN
    assert post_login(client, vendor_admin.username).status_code == 429


def test_a_session_without_the_verified_second_factor_is_not_enough(client, vendor_admin):
    client.force_login(vendor_admin)  # password only, as another sign-in page would leave it
    response = client.get("/portail/")
    assert response["Location"].startswith(LOGIN)
    assert client.get("/portail/").status_code == 302


def test_an_admin_who_lost_their_device_is_led_to_enrol_again(client, vendor, vendor_admin):
    sign_in(client, vendor_admin)
    TOTPDevice.objects.filter(user=vendor_admin).delete()
    assert client.get("/portail/")["Location"].startswith(LOGIN)


def test_collaborators_may_enrol_from_their_account(client, staff):
    sign_in(client, staff)
    assert "non activée" in text(client.get("/portail/compte/"))
    client.get("/portail/connexion/double-authentification/")
    device = enrolling(client)
    response = client.post(
        "/portail/connexion/double-authentification/", {"code": code_for_device(device)}
    )
    assert response["Location"] == "/portail/compte/"
    assert "activée" in text(client.get("/portail/compte/"))
    # Verified in this session: pages stay open.
    assert client.get("/portail/bdc/").status_code == 200


def test_deactivated_people_and_people_of_no_vendor_cannot_sign_in(client, staff, admin_user):
    staff.is_active = False
    staff.save()
    assert "incorrect" in text(post_login(client, staff.username))
    # A programme administrator is not a vendor member: the portal is not theirs.
    response = client.post(LOGIN, {"username": "ans-admin", "password": "pw"})
    assert "incorrect" in text(response)
    client.force_login(admin_user)
    assert client.get("/portail/").status_code == 403


def test_signing_out(client, staff):
    sign_in(client, staff)
    response = client.post("/portail/deconnexion/")
    assert response["Location"] == LOGIN
    assert client.get("/portail/").status_code == 302


def test_sign_in_pages_are_in_french_with_labels(client):
    page = text(client.get(LOGIN))
    assert '<html lang="fr">' in page
    assert 'for="id_username"' in page
    assert 'for="id_password"' in page
    assert "Mot de passe oublié" in page


def test_forgotten_password_mails_a_link_only_to_known_vendor_people(
    client, staff, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/portail/mot-de-passe/oublie/", {"email": staff.email.upper()})
        client.post("/portail/mot-de-passe/oublie/", {"email": "inconnu@example.invalid"})
    assert [m.to for m in mailoutbox] == [[staff.email]]
    assert "/portail/mot-de-passe/" in mailoutbox[0].body
    assert get_user_model().objects.count() == 1
