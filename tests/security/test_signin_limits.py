"""Sign-in limits beyond one username from one address (portal/services/signin.py): one address
trying many usernames (password spraying), one account tried from many addresses, on the
portal's sign-in and the administration's, with the client's address read through the trusted
proxies."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from portal.models import LoginFailure, SignInThrottle
from tests.factories import VendorFactory
from tests.portal.conftest import PASSWORD, make_member

pytestmark = pytest.mark.django_db

LOGIN = "/portail/connexion/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def limits(settings):
    settings.PORTAL_LOCKOUT_FAILURES = 5
    settings.PORTAL_LOCKOUT_ADDRESS_FAILURES = 30
    settings.PORTAL_LOCKOUT_ACCOUNT_FAILURES = 20
    settings.PORTAL_LOCKOUT_MINUTES = 15
    return settings


@pytest.fixture
def member(db):
    return make_member(VendorFactory(name="Éditeur Connexions"))


def from_address(address: str, **extra) -> HttpClient:
    return HttpClient(REMOTE_ADDR=address, **extra)


def test_sixty_wrong_passwords_over_fifteen_usernames_from_one_address_lock_it(limits, member):
    attacker = from_address("198.51.100.7")
    statuses = []
    for attempt in range(60):
        username = f"cible-{attempt % 15}@example.invalid"  # 4 tries each: under the pair limit
        response = attacker.post(LOGIN, {"username": username, "password": "faux"})
        statuses.append(response.status_code)
    assert statuses[:29] == [200] * 29
    assert statuses[29:] == [429] * 31  # locked from the 30th failure on
    assert not LoginFailure.objects.filter(locked_until__isnull=False).exists()  # no pair lock
    # Locked for every username from that address, the right password included...
    refused = attacker.post(LOGIN, {"username": member.username, "password": PASSWORD})
    assert refused.status_code == 429
    assert "depuis votre adresse" in refused.content.decode()
    # ...but not from another address.
    other = from_address("203.0.113.20")
    assert other.post(LOGIN, {"username": member.username, "password": PASSWORD}).status_code == 302


def test_one_account_attacked_from_many_addresses_is_locked(limits, member):
    statuses = [
        from_address(f"198.51.100.{n}")
        .post(LOGIN, {"username": member.username, "password": "faux"})
        .status_code
        for n in range(1, 26)
    ]
    assert statuses[:19] == [200] * 19
    assert statuses[19:] == [429] * 6
    throttle = SignInThrottle.objects.get(scope="account", key=member.username.lower())
    assert throttle.locked_until is not None
    # Even the right password from an address never seen is refused while the lock holds.
    response = from_address("203.0.113.99").post(
        LOGIN, {"username": member.username, "password": PASSWORD}
    )
    assert response.status_code == 429
    assert "sur ce compte" in response.content.decode()


def test_a_success_clears_the_accounts_count_not_the_addresses(limits, member):
    office = from_address("198.51.100.50")
    for attempt in range(3):
        office.post(LOGIN, {"username": f"x{attempt}@example.invalid", "password": "faux"})
    office.post(LOGIN, {"username": member.username, "password": "faux"})
    signed_in = office.post(LOGIN, {"username": member.username, "password": PASSWORD})
    assert signed_in.status_code == 302
    assert not SignInThrottle.objects.filter(scope="account", key=member.username.lower()).exists()
    assert SignInThrottle.objects.get(scope="address", key="198.51.100.50").failures == 4


def test_the_administrations_sign_in_is_limited_too(limits, admin_user):
    limits.PORTAL_LOCKOUT_FAILURES = 3
    browser = from_address("198.51.100.8")
    for _ in range(2):
        page = browser.post(ADMIN_LOGIN, {"username": admin_user.username, "password": "faux"})
        assert page.status_code == 200 and "bloquée" not in page.content.decode()
    page = browser.post(ADMIN_LOGIN, {"username": admin_user.username, "password": "faux"})
    assert "bloquée jusqu" in page.content.decode()
    # the right password is refused while the lock holds
    page = browser.post(ADMIN_LOGIN, {"username": admin_user.username, "password": "pw"})
    assert page.status_code == 200 and "bloquée jusqu" in page.content.decode()
    assert "_auth_user_id" not in browser.session
    # spraying the administration from one address locks that address as on the portal
    limits.PORTAL_LOCKOUT_ADDRESS_FAILURES = 5
    sprayer = from_address("198.51.100.9")
    for n in range(5):
        sprayer.post(ADMIN_LOGIN, {"username": f"agent{n}", "password": "faux"})
    page = sprayer.post(ADMIN_LOGIN, {"username": "agent-suivant", "password": "faux"})
    assert "depuis votre adresse" in page.content.decode()


def test_a_blank_password_does_not_reset_the_admins_count(limits, admin_user):
    limits.PORTAL_LOCKOUT_FAILURES = 3
    browser = from_address("198.51.100.10")
    for _ in range(2):
        browser.post(ADMIN_LOGIN, {"username": admin_user.username, "password": "faux"})
    browser.post(ADMIN_LOGIN, {"username": admin_user.username, "password": ""})
    page = browser.post(ADMIN_LOGIN, {"username": admin_user.username, "password": "faux"})
    assert "bloquée jusqu" in page.content.decode()


def test_behind_a_trusted_proxy_each_client_address_is_counted_apart(limits, member):
    """Through the proxy every request comes from 127.0.0.1: the limiter counts the address the
    proxy forwarded, so one client spraying is locked, not everyone behind the proxy."""
    limits.TRUSTED_PROXIES = ["127.0.0.1"]
    limits.PORTAL_LOCKOUT_ADDRESS_FAILURES = 5

    def via_proxy(client_address):
        return from_address("127.0.0.1", HTTP_X_FORWARDED_FOR=client_address)

    for n in range(5):
        via_proxy("198.51.100.77").post(LOGIN, {"username": f"u{n}@x.invalid", "password": "x"})
    locked = via_proxy("198.51.100.77").post(LOGIN, {"username": member.username, "password": "x"})
    assert locked.status_code == 429
    opened = via_proxy("198.51.100.78").post(
        LOGIN, {"username": member.username, "password": PASSWORD}
    )
    assert opened.status_code == 302
    assert SignInThrottle.objects.filter(scope="address", key="127.0.0.1").count() == 0
    # without the proxy trusted, its header is a client's claim: ignored
    limits.TRUSTED_PROXIES = []
    spoofed = from_address("198.51.100.80", HTTP_X_FORWARDED_FOR="198.51.100.78")
    spoofed.post(LOGIN, {"username": "y@x.invalid", "password": "x"})
    assert SignInThrottle.objects.filter(scope="address", key="198.51.100.80").exists()
