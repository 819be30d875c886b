"""Proving who you are with a one-time code mailed to the client's address on file: limited
attempts, then a lockout the page explains."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from core.errors import RuleViolation
from signing import services
from signing.models import OneTimeCode, SigningLink
from signing.tokens import link_token
from tests.signing.helpers import html, issue, last_code_for, mails_to, order_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(admin_user, django_capture_on_commit_callbacks):
    va = issue(order_for(admin_user), admin_user, django_capture_on_commit_callbacks)
    return SigningLink.objects.get(va=va)


@pytest.fixture
def ask(django_capture_on_commit_callbacks):
    """Requests a code (mailed after commit) and returns the six digits received."""

    def ask(link, *, at=None):
        with django_capture_on_commit_callbacks(execute=True):
            services.request_code(link=link, at=at)
        return last_code_for(link.sent_to)

    return ask


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_the_code_is_mailed_to_the_client_and_proves_their_identity(link, ask):
    code = ask(link)
    message = mails_to(link.sent_to)[-1]
    assert message.subject == f"[SONS] Votre code de signature : {code}"
    assert "valable 10 minutes" in message.body
    identity = services.verify_code(link=link, code=f" {code[:3]} {code[3:]} ")
    assert (identity.method, identity.subject, identity.email) == (
        "code_courriel",
        link.sent_to,
        link.sent_to,
    )
    # The code itself is stored nowhere: only a secret it is derived from with the server key.
    stored = OneTimeCode.objects.values_list("secret", "sent_to").get()
    assert all(code not in value for value in stored)
    # A code serves once.
    with pytest.raises(RuleViolation) as refusal:
        services.verify_code(link=link, code=code)
    assert refusal.value.code == "code_expired"


def test_a_wrong_code_is_counted_and_says_how_many_tries_remain(link, ask):
    code = ask(link)
    with pytest.raises(RuleViolation) as refusal:
        services.verify_code(link=link, code=wrong(code))
    assert refusal.value.code == "code_wrong"
    assert "Il vous reste 4 essais" in refusal.value.message
    link.refresh_from_db()
    assert link.failed_attempts == 1  # counted although the call was refused
    assert services.verify_code(link=link, code=code).subject == link.sent_to
    link.refresh_from_db()
    assert link.failed_attempts == 0


def test_too_many_wrong_codes_lock_the_link_for_a_while(link, ask, client, settings):
    code = ask(link)
    for _ in range(4):
        with pytest.raises(RuleViolation):
            services.verify_code(link=link, code=wrong(code))
    with pytest.raises(RuleViolation) as refusal:
        services.verify_code(link=link, code=wrong(code))
    assert refusal.value.code == "link_locked"
    assert "bloqué jusqu'au" in refusal.value.message
    link.refresh_from_db()
    assert link.locked_until - timezone.now() > dt.timedelta(minutes=29)

    # Even the right code is refused meanwhile, and no new code is sent.
    with pytest.raises(RuleViolation) as refusal:
        services.verify_code(link=link, code=code)
    assert refusal.value.code == "link_locked"
    with pytest.raises(RuleViolation):
        services.request_code(link=link)
    # The page explains it, and offers no code form.
    page = html(client.get(f"/signature/{link_token(link.public_id)}/"))
    assert "Lien bloqué temporairement" in page
    assert "Trop de codes erronés ont été saisis" in page
    assert 'name="code"' not in page

    # After the lockout, a new code can be asked for and works.
    later = link.locked_until + dt.timedelta(seconds=1)
    fresh = ask(link, at=later)
    assert services.verify_code(link=link, code=fresh, at=later).subject == link.sent_to


def test_the_page_counts_down_wrong_codes_then_explains_the_lockout(
    link, client, settings, django_capture_on_commit_callbacks
):
    settings.SIGNING_CODE_MAX_ATTEMPTS = 2
    url = f"/signature/{link_token(link.public_id)}/"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"action": "send"}).status_code == 302
    code = last_code_for(link.sent_to)
    first = client.post(url, {"action": "verify", "code": wrong(code)})
    assert first.status_code == 400
    assert "Code incorrect. Il vous reste 1 essai avant un blocage temporaire." in html(first)
    second = client.post(url, {"action": "verify", "code": wrong(code)})
    assert "bloqué jusqu'au" in html(second)
    assert "Lien bloqué temporairement" in html(client.get(url))


def test_a_code_expires(link, ask):
    code = ask(link)
    later = timezone.now() + dt.timedelta(minutes=10, seconds=1)
    with pytest.raises(RuleViolation) as refusal:
        services.verify_code(link=link, code=code, at=later)
    assert refusal.value.code == "code_expired"


def test_a_newer_code_replaces_the_older_one(link, ask):
    first = ask(link)
    second = ask(link, at=timezone.now() + dt.timedelta(minutes=2))
    if first != second:  # six random digits may, rarely, repeat
        with pytest.raises(RuleViolation):
            services.verify_code(link=link, code=first)
    assert services.verify_code(link=link, code=second).subject == link.sent_to


def test_codes_are_not_sent_back_to_back_nor_without_end(link, ask, settings):
    ask(link)
    with pytest.raises(RuleViolation) as refusal:
        services.request_code(link=link)
    assert refusal.value.code == "code_sent_recently"
    assert "•••@" in refusal.value.message

    settings.SIGNING_CODE_MAX_SENDS = 2
    ask(link, at=timezone.now() + dt.timedelta(minutes=1, seconds=1))
    before = len(mail.outbox)
    with pytest.raises(RuleViolation) as refusal:
        services.request_code(link=link, at=timezone.now() + dt.timedelta(minutes=5))
    assert refusal.value.code == "too_many_codes"
    assert link.order.vendor.name in refusal.value.message
    assert len(mail.outbox) == before
