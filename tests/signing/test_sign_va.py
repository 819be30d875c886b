"""Signing a VA online: the page shows the VA and its exact document, signing needs every
statement, reserves are written on it, a refusal carries blocking reserves; the signed PDF is
sealed and offered on the confirmation page, then on the signer's own link only."""

import datetime as dt
import hashlib

import pytest
from django.test import Client
from django.utils import timezone

from core.models import JournalEntry
from signing.models import SigningLink
from sons.models import VaDecision, VaStatus
from tests.signing.helpers import (
    html,
    identify,
    issue,
    mails_to,
    order_for,
    seal_status,
    text_of,
    token_in,
)

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Linux; Android 14) Mobile Chrome/131.0"


@pytest.fixture
def va(admin_user, django_capture_on_commit_callbacks):
    return issue(order_for(admin_user), admin_user, django_capture_on_commit_callbacks)


@pytest.fixture
def token(va):
    return token_in(mails_to(va.order.contact.email)[0])


@pytest.fixture
def signed_in(client, va, token, django_capture_on_commit_callbacks):
    identify(client, token, va.order.contact.email, django_capture_on_commit_callbacks)
    return client


def sign_form(va, **overrides):
    data = {
        "signer_name": "Dr Marie Curie",
        "signer_role": "Médecin titulaire",
        "document_sha256": va.pdf_sha256,
        "non_blocking_reserves": "L'icône d'impression est mal placée.",
        **{f"statement_{i}": "on" for i in range(len(va.statements))},
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_page_shows_the_va_and_its_exact_document(signed_in, va, token):
    page = html(signed_in.get(f"/signature/{token}/document/"))
    order = va.order
    for shown in (
        order.reference,
        order.vendor.name,
        order.client.legal_name,
        order.dispositif.code,
        order.solution_version.solution.name,
        f"version {order.solution_version.version}",
        va.delivered_summary,
        va.pdf_sha256,
        "Identité confirmée : Code à usage unique reçu par courriel",
        "Réserves non bloquantes",
        "Refuser la VA avec des réserves bloquantes",
    ):
        assert shown in page, shown
    assert all(statement in page for statement in va.statements)
    pdf = signed_in.get(f"/signature/{token}/document.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    content = b"".join(pdf.streaming_content)
    assert hashlib.sha256(content).hexdigest() == va.pdf_sha256


def test_signing_needs_every_statement_ticked(signed_in, va, token):
    response = signed_in.post(
        f"/signature/{token}/signer/", sign_form(va, statement_1=None, statement_0=None)
    )
    assert response.status_code == 400
    page = html(response)
    assert page.count("Cochez cette attestation pour signer.") == 4  # summary and field, twice
    assert 'aria-invalid="true"' in page
    va.refresh_from_db()
    assert va.status == VaStatus.ISSUED
    assert SigningLink.objects.get(va=va).used_at is None


def test_signing_records_the_identity_and_offers_the_sealed_pdf(
    signed_in, va, token, django_capture_on_commit_callbacks
):
    with va.pdf.open("rb") as handle:
        original = handle.read()
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(
            f"/signature/{token}/signer/",
            sign_form(va),
            HTTP_USER_AGENT=BROWSER,
            REMOTE_ADDR="203.0.113.9",
        )
    assert response.status_code == 302
    assert response["Location"] == f"/signature/{token}/confirmation/"

    va.refresh_from_db()
    assert va.status == VaStatus.SIGNED
    decision = VaDecision.objects.get(va=va)
    email = va.order.contact.email
    assert (decision.identity_method, decision.identity_subject) == ("code_courriel", email)
    assert (decision.signer_name, decision.signer_role) == ("Dr Marie Curie", "Médecin titulaire")
    assert (decision.ip_address, decision.user_agent) == ("203.0.113.9", BROWSER)
    assert decision.statements_confirmed == va.statements
    assert decision.non_blocking_reserves == "L'icône d'impression est mal placée."
    assert decision.document_sha256 == va.pdf_sha256
    link = SigningLink.objects.get(va=va)
    assert (link.outcome, link.identity_subject, link.document_sha256) == (
        "signed",
        email,
        va.pdf_sha256,
    )
    entry = JournalEntry.objects.for_object(va).order_by("sequence").last()
    assert entry.snapshot["signer"]["identity_subject"] == email

    page = html(signed_in.get(f"/signature/{token}/confirmation/"))
    assert "La VA est signée" in page
    assert "Télécharger la VA signée (PDF)" in page
    assert va.signed_pdf_sha256 in page
    download = signed_in.get(f"/signature/{token}/document-signe.pdf")
    assert "attachment" in download["Content-Disposition"]
    signed = b"".join(download.streaming_content)
    assert hashlib.sha256(signed).hexdigest() == va.signed_pdf_sha256
    # The document seen, unchanged, then the decision sheet, then the server's seal.
    assert signed.startswith(original)
    sheet = text_of(signed, page=-1)
    assert "L'icône d'impression est mal placée." in sheet
    assert f"Code à usage unique reçu par courriel ({email})" in sheet
    status = seal_status(signed)
    assert status.intact and status.valid and status.trusted

    # The link is used: opening it again says so; signing again changes nothing.
    again = signed_in.get(f"/signature/{token}/")
    assert again.status_code == 410 and "déjà signé" in html(again)
    assert signed_in.post(f"/signature/{token}/signer/", sign_form(va)).status_code == 410


def test_the_signed_pdf_is_reached_through_the_signers_own_link_only(
    signed_in, va, token, django_capture_on_commit_callbacks
):
    # Issue 16: the signer's link (their mailed token) keeps offering their copy, from any
    # browser; a token not signed by the server, or another link's, gets nothing of it.
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(f"/signature/{token}/signer/", sign_form(va))
    va.refresh_from_db()
    elsewhere = Client()
    download = elsewhere.get(f"/signature/{token}/document-signe.pdf")
    assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == (
        va.signed_pdf_sha256
    )
    public_id, _signature = token.split(".", 1)
    forged = f"{public_id}.{'A' * 43}"
    assert elsewhere.get(f"/signature/{forged}/confirmation/").status_code == 404
    assert elsewhere.get(f"/signature/{forged}/document-signe.pdf").status_code == 404
    assert elsewhere.get(f"/signature/{public_id}/document-signe.pdf").status_code == 404


def test_refusing_needs_blocking_reserves_and_records_them(
    signed_in, va, token, django_capture_on_commit_callbacks
):
    form = {
        "refus-signer_name": "Dr Marie Curie",
        "refus-signer_role": "Médecin titulaire",
        "refus-document_sha256": va.pdf_sha256,
        "refus-blocking_reserves": "  ",
    }
    response = signed_in.post(f"/signature/{token}/refuser/", form)
    assert response.status_code == 400
    assert "Décrivez ce qui ne fonctionne pas" in html(response)
    va.refresh_from_db()
    assert va.status == VaStatus.ISSUED

    form["refus-blocking_reserves"] = "L'ordonnance numérique ne peut pas être produite."
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(f"/signature/{token}/refuser/", form)
    assert response.status_code == 302
    va.refresh_from_db()
    assert va.status == VaStatus.REFUSED
    assert va.decision.blocking_reserves == "L'ordonnance numérique ne peut pas être produite."
    page = html(signed_in.get(f"/signature/{token}/confirmation/"))
    assert "Votre refus est enregistré" in page
    assert "nouvelle version" in page
    assert SigningLink.objects.get(va=va).outcome == "refused"


def test_a_document_other_than_the_one_issued_cannot_be_signed(signed_in, va, token):
    response = signed_in.post(
        f"/signature/{token}/signer/", sign_form(va, document_sha256="0" * 64)
    )
    assert response.status_code == 400
    assert "empreinte différente" in html(response)
    va.refresh_from_db()
    assert va.status == VaStatus.ISSUED


def test_the_proven_identity_lasts_a_limited_time(signed_in, va, token):
    session = signed_in.session
    entries = session["signing"]
    for entry in entries.values():
        entry["verified_at"] = (timezone.now() - dt.timedelta(minutes=31)).isoformat()
    session["signing"] = entries
    session.save()
    response = signed_in.get(f"/signature/{token}/document/")
    assert response.status_code == 302
    assert response["Location"] == f"/signature/{token}/"


def test_without_a_proven_identity_nothing_is_shown_nor_signed(client, va, token):
    assert client.get(f"/signature/{token}/document/")["Location"] == f"/signature/{token}/"
    assert client.get(f"/signature/{token}/document.pdf").status_code == 302
    assert client.post(f"/signature/{token}/signer/", sign_form(va)).status_code == 302
    va.refresh_from_db()
    assert va.status == VaStatus.ISSUED
