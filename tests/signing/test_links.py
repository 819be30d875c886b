"""The personal links: mailed when a VA is issued, one document each, expiring, and a clear page
when they no longer open their document."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from core.errors import RuleViolation
from signing import services, tasks
from signing.models import LinkKind, SigningLink
from signing.tokens import link_token
from sons.services import acceptance
from sons.services.acceptance import Signer
from tests.signing.helpers import html, identify, issue, mails_to, order_for, token_in
from tests.sons.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def va(admin_user, django_capture_on_commit_callbacks):
    return issue(order_for(admin_user), admin_user, django_capture_on_commit_callbacks)


def test_issuing_a_va_mails_the_client_a_personal_link(va, client):
    (message,) = mails_to(va.order.contact.email)
    assert message.subject == f"[SONS] Vérification d'aptitude à signer – {va.order.reference}"
    assert va.order.vendor.name in message.body
    assert "valable jusqu'au" in message.body
    link = SigningLink.objects.get(va=va)
    assert (link.kind, link.order, link.sent_to) == (LinkKind.VA, va.order, va.order.contact.email)
    assert link.sent_at is not None
    assert link.expires_at - link.created_at == dt.timedelta(days=14)
    # The link opens this VA's page (identity first).
    token = token_in(message)
    assert token == link_token(link.public_id)
    page = client.get(f"/signature/{token}/")
    assert page.status_code == 200
    assert f"{va.order.reference}" in html(page)
    assert "Recevoir un code" in html(page)


def test_the_link_goes_to_the_mssante_address_when_no_email_is_on_file(
    admin_user, django_capture_on_commit_callbacks
):
    order = order_for(admin_user, client=ClientFactory(email=""))
    va = issue(order, admin_user, django_capture_on_commit_callbacks)
    (message,) = mails_to(va.mssante_address)
    assert token_in(message)


def test_a_link_opens_only_its_own_document(admin_user, client, django_capture_on_commit_callbacks):
    first = issue(order_for(admin_user), admin_user, django_capture_on_commit_callbacks)
    second = issue(order_for(admin_user), admin_user, django_capture_on_commit_callbacks)
    first_token = token_in(mails_to(first.order.contact.email)[0])
    second_token = token_in(mails_to(second.order.contact.email)[0])

    identify(client, first_token, first.order.contact.email, django_capture_on_commit_callbacks)
    page = html(client.get(f"/signature/{first_token}/document/"))
    assert first.order.reference in page and second.order.reference not in page
    # Proving who you are for one link proves nothing for another.
    response = client.get(f"/signature/{second_token}/document/")
    assert response.status_code == 302
    assert response["Location"] == f"/signature/{second_token}/"
    assert client.get(f"/signature/{second_token}/document.pdf").status_code == 302


@pytest.mark.parametrize(
    "token",
    ["inconnu", "0" * 32 + ".abc", None],
    ids=["garbage", "unsigned", "signed-id-of-no-link"],
)
def test_an_unknown_or_tampered_link_says_so(client, va, token):
    if token is None:
        import uuid

        token = link_token(uuid.uuid4())
    response = client.get(f"/signature/{token}/")
    assert response.status_code == 404
    page = html(response)
    assert "Ce lien n'est pas reconnu" in page
    assert "renvoyer un lien" in page


def test_an_expired_link_says_whom_to_ask_for_a_new_one(va, client):
    link = SigningLink.objects.get(va=va)
    token = link_token(link.public_id)
    SigningLink.objects.filter(pk=link.pk).update(expires_at=timezone.now())
    response = client.get(f"/signature/{token}/")
    assert response.status_code == 410
    page = html(response)
    assert "Ce lien a expiré" in page
    assert va.order.vendor.name in page
    assert "renvoyer un lien" in page
    # Nothing can be done with it either.
    assert client.post(f"/signature/{token}/", {"action": "send"}).status_code == 410
    with pytest.raises(RuleViolation) as refusal:
        services.request_code(link=link)
    assert refusal.value.code == "link_expired"


def test_the_delay_is_a_setting(admin_user, settings, django_capture_on_commit_callbacks):
    settings.SIGNING_LINK_MAX_AGE = 3600
    va = issue(order_for(admin_user), admin_user, django_capture_on_commit_callbacks)
    link = SigningLink.objects.get(va=va)
    assert link.expires_at - link.created_at == dt.timedelta(hours=1)


def test_a_re_sent_link_replaces_the_previous_one(
    va, admin_user, client, django_capture_on_commit_callbacks
):
    old = SigningLink.objects.get(va=va)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        new = services.send_va_link(va=va, actor=admin_user)
    (message,) = mails_to(va.order.contact.email)
    assert token_in(message) == link_token(new.public_id)
    response = client.get(f"/signature/{link_token(old.public_id)}/")
    assert response.status_code == 410
    assert "remplacé par un plus récent" in html(response)
    assert client.get(f"/signature/{token_in(message)}/").status_code == 200


def test_a_link_of_a_refused_then_reissued_va_points_to_the_new_version(
    va, admin_user, client, django_capture_on_commit_callbacks
):
    old_token = link_token(SigningLink.objects.get(va=va).public_id)
    acceptance.refuse_va(
        va=va,
        signer=Signer(name="Dr Curie", role="Médecin", identity_method="code_courriel"),
        blocking_reserves="L'envoi au DMP échoue.",
        document_sha256=va.pdf_sha256,
    )
    page = client.get(f"/signature/{old_token}/")
    assert page.status_code == 410 and "Ce document a été refusé" in html(page)

    mail.outbox.clear()
    v2 = issue(va.order, admin_user, django_capture_on_commit_callbacks)
    assert "Une nouvelle version de cette VA a été émise" in html(
        client.get(f"/signature/{old_token}/")
    )
    (message,) = mails_to(va.order.contact.email)
    page = html(client.get(f"/signature/{token_in(message)}/"))
    assert f"version {v2.version}" in page


def test_a_link_stops_working_once_the_va_is_signed_elsewhere(va, client):
    token = link_token(SigningLink.objects.get(va=va).public_id)
    acceptance.sign_va(
        va=va,
        signer=Signer(name="Dr Curie", role="Médecin", identity_method="code_courriel"),
        confirmed=list(va.statements),
        document_sha256=va.pdf_sha256,
    )
    response = client.get(f"/signature/{token}/")
    assert response.status_code == 410
    assert "Ce document est déjà signé" in html(response)


def test_only_an_issued_va_gets_a_link(admin_user):
    draft = acceptance.create_va(
        order=order_for(admin_user), delivered_summary="x", actor=admin_user
    )
    with pytest.raises(RuleViolation) as refusal:
        services.send_va_link(va=draft, actor=admin_user)
    assert refusal.value.code == "va_not_awaiting_signature"
    assert not SigningLink.objects.exists()


def test_only_a_draft_bdc_gets_a_link(admin_user):
    with pytest.raises(RuleViolation) as refusal:
        services.send_order_link(order=order_for(admin_user), actor=admin_user)
    assert refusal.value.code == "order_not_draft"


def test_a_client_without_any_address_cannot_be_sent_a_link(admin_user):
    from tests.sons.factories import draft_order, lgc_dispositif, referenced

    ref = referenced(dispositif=lgc_dispositif(), actor=admin_user)
    order = draft_order(
        referencing=ref, actor=admin_user, client=ClientFactory(email="", mssante_address="")
    )
    with pytest.raises(RuleViolation) as refusal:
        services.send_order_link(order=order, actor=admin_user)
    assert refusal.value.code == "client_address_required"
    assert not SigningLink.objects.exists()


def test_the_link_mail_is_sent_once_even_if_the_task_runs_again(va):
    link = SigningLink.objects.get(va=va)
    before = len(mail.outbox)
    tasks.send_link_email(link.pk)
    assert len(mail.outbox) == before


def test_the_vendor_can_follow_who_has_not_signed(va, admin_user):
    from signing.selectors import awaiting_signature, latest_link

    now = timezone.now()
    first = latest_link(va=va)
    assert awaiting_signature(first, at=now)
    assert not awaiting_signature(first, at=first.expires_at)
    acceptance.sign_va(
        va=va,
        signer=Signer(name="Dr Curie", role="Médecin", identity_method="code_courriel"),
        confirmed=list(va.statements),
        document_sha256=va.pdf_sha256,
    )
    assert not awaiting_signature(latest_link(va=va), at=now)
