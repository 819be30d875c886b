"""The signer keeps a copy (issue 16): once they have signed, their link offers the signed PDF
for SIGNING_COPY_MAX_AGE, and the signed PDF is mailed to them (attached, or as their link when
too large), with how to check the seal; afterwards the page says whom to ask."""

import datetime as dt
import hashlib
import io

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from signing import services, tasks
from signing.models import SigningLink
from sons.models import OrderStatus
from sons.services import acceptance
from sons.services.acceptance import Signer
from tests.responses import downloaded
from tests.signing.helpers import (
    LINK,
    html,
    identify,
    issue,
    mails_to,
    order_for,
    seal_status,
    text_of,
    token_in,
)
from tests.signing.test_sign_bdc import open_dispositif, shown_hash
from tests.signing.test_sign_bdc import sign_form as bdc_form
from tests.signing.test_sign_va import sign_form
from tests.sons.factories import draft_order, referenced

pytestmark = pytest.mark.django_db


@pytest.fixture
def va(admin_user, django_capture_on_commit_callbacks):
    return issue(order_for(admin_user), admin_user, django_capture_on_commit_callbacks)


@pytest.fixture
def token(va):
    return token_in(mails_to(va.order.contact.email)[0])


@pytest.fixture
def signed(client, va, token, django_capture_on_commit_callbacks):
    """The VA signed through its link, and what followed the commit run (PDF, seal, mails)."""
    identify(client, token, va.order.contact.email, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/signature/{token}/signer/", sign_form(va))
    assert response.status_code == 302
    va.refresh_from_db()
    return va


def copy_mails(address: str) -> list:
    return [m for m in mails_to(address) if "Votre exemplaire" in m.subject]


def has_signature_field(content: bytes) -> bool:
    fields = PdfReader(io.BytesIO(content)).get_fields() or {}
    return any(field.get("/FT") == "/Sig" for field in fields.values())


def test_the_signed_va_is_mailed_to_the_signer_as_an_attachment(signed, token):
    va = signed
    (message,) = copy_mails(va.order.contact.email)
    assert message.subject == f"[SONS] Votre exemplaire de la VA signée – {va.order.reference}"
    ((filename, content, mimetype),) = message.attachments
    assert (filename, mimetype) == (
        f"{va.order.reference}-VA-v{va.version}-signee.pdf",
        "application/pdf",
    )
    assert hashlib.sha256(content).hexdigest() == va.signed_pdf_sha256
    assert va.order.client.legal_name in text_of(content)
    assert has_signature_field(content)
    status = seal_status(content)
    assert status.intact and status.valid and status.trusted
    body = message.body
    assert "Votre exemplaire est joint à ce message" in body
    assert va.signed_pdf_sha256 in body
    assert "/signature/verifier/" in body  # how to check the seal: the public page
    assert "jusqu'au" in body and va.order.vendor.name in body
    assert SigningLink.objects.get(va=va).copy_sent_at is not None


def test_the_copy_is_mailed_once_even_if_the_task_runs_again(signed):
    link = SigningLink.objects.get(va=signed)
    tasks.send_signed_copy.delay(link.pk)
    assert len(copy_mails(link.sent_to)) == 1


def test_a_copy_too_large_to_attach_is_mailed_as_the_signers_link(
    client, va, token, settings, django_capture_on_commit_callbacks
):
    settings.SIGNING_COPY_MAIL_MAX_BYTES = 1_000
    identify(client, token, va.order.contact.email, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/signature/{token}/signer/", sign_form(va))
    va.refresh_from_db()

    (message,) = copy_mails(va.order.contact.email)
    assert message.attachments == []
    assert "trop volumineux pour être joint" in message.body
    assert LINK.search(message.body)["token"] == token
    # The link in the mail, opened in another browser, gives the signed document.
    download = Client().get(f"/signature/{token}/document-signe.pdf")
    assert hashlib.sha256(downloaded(download)).hexdigest() == (va.signed_pdf_sha256)


def test_the_link_offers_the_copy_after_signing_then_says_whom_to_ask(signed, token, settings):
    va = signed
    for browser in (Client(), Client()):
        page = browser.get(f"/signature/{token}/")
        assert page.status_code == 410  # nothing more to sign there
        text = html(page)
        assert "Ce document est déjà signé" in text
        assert "Télécharger la VA signée (PDF)" in text
        assert va.signed_pdf_sha256 in text
        assert "adressez-vous à votre fournisseur" not in text
        assert "Vérifier le cachet" in text and 'href="/signature/verifier/"' in text

    # After SIGNING_COPY_MAX_AGE, the copy is no longer offered: the page says whom to ask.
    link = SigningLink.objects.get(va=va)
    link.used_at -= dt.timedelta(seconds=settings.SIGNING_COPY_MAX_AGE)
    link.save(update_fields=["used_at"])
    page = Client().get(f"/signature/{token}/")
    text = html(page)
    assert page.status_code == 410
    assert "Ce document est déjà signé" in text
    assert "n'est plus proposé sur ce lien" in text
    assert f"adressez-vous à votre fournisseur, {va.order.vendor.name}" in text
    assert "Télécharger" not in text
    assert Client().get(f"/signature/{token}/document-signe.pdf").status_code == 410
    assert Client().get(f"/signature/{token}/confirmation/").status_code == 410


def test_the_copy_period_is_a_setting(signed, token, settings):
    link = SigningLink.objects.get(va=signed)
    link.used_at -= dt.timedelta(days=10)
    link.save(update_fields=["used_at"])
    assert downloaded(Client().get(f"/signature/{token}/document-signe.pdf"))[:5] == b"%PDF-"
    settings.SIGNING_COPY_MAX_AGE = 9 * 24 * 3600
    assert Client().get(f"/signature/{token}/document-signe.pdf").status_code == 410


def test_a_link_never_used_to_sign_offers_no_copy(va, token, client):
    # The VA signed by another path: this link decided nothing and holds no copy.
    acceptance.sign_va(
        va=va,
        signer=Signer(name="Dr Curie", role="Médecin", identity_method="code_courriel"),
        confirmed=list(va.statements),
        document_sha256=va.pdf_sha256,
    )
    assert client.get(f"/signature/{token}/document-signe.pdf").status_code == 404
    assert client.get(f"/signature/{token}/confirmation/").status_code == 404
    assert "Télécharger" not in html(client.get(f"/signature/{token}/"))


def test_the_signed_bdc_is_mailed_to_its_signer(
    admin_user, client, django_capture_on_commit_callbacks
):
    dispositif = open_dispositif(orders_end=timezone.now() + dt.timedelta(days=60))
    ref = referenced(dispositif=dispositif, actor=admin_user)
    order = draft_order(referencing=ref, actor=admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        services.send_order_link(order=order, actor=admin_user)
    address = order.contact.email
    token = token_in(mails_to(address)[0])
    identify(client, token, address, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/signature/{token}/signer/", bdc_form(shown_hash(client, token)))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.SIGNED

    (message,) = copy_mails(address)
    assert "bon de commande signé" in message.subject
    ((filename, content, _mimetype),) = message.attachments
    assert filename == f"{order.reference}-BDC-signe.pdf"
    assert hashlib.sha256(content).hexdigest() == order.pdf_sha256
    assert order.client.legal_name in text_of(content)
    assert has_signature_field(content)
    assert "Télécharger le bon de commande signé (PDF)" in html(
        Client().get(f"/signature/{token}/")
    )


def test_the_signed_va_shows_the_ticks_on_the_page_that_lists_the_statements(signed, token):
    content = downloaded(Client().get(f"/signature/{token}/document-signe.pdf"))
    pages = [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(content)).pages]
    listing = [text for text in pages if all(s in text for s in signed.statements)]
    assert len(listing) == 2  # the VA as issued, then the decision sheet
    for text in listing:
        assert text.count("☑") == len(signed.statements), text
    # The document seen is still the file's beginning, byte for byte.
    with signed.pdf.open("rb") as handle:
        assert content.startswith(handle.read())


def test_a_refusal_is_mailed_too_and_its_link_offers_the_refused_va(
    client, va, token, django_capture_on_commit_callbacks
):
    identify(client, token, va.order.contact.email, django_capture_on_commit_callbacks)
    form = {
        "refus-signer_name": "Dr Marie Curie",
        "refus-signer_role": "Médecin titulaire",
        "refus-document_sha256": va.pdf_sha256,
        "refus-blocking_reserves": "L'ordonnance numérique ne peut pas être produite.",
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/signature/{token}/refuser/", form).status_code == 302
    va.refresh_from_db()

    (message,) = copy_mails(va.order.contact.email)
    assert message.subject == f"[SONS] Votre exemplaire de la VA refusée – {va.order.reference}"
    assert "Votre refus de ce document a été enregistré" in message.body
    ((filename, content, _mimetype),) = message.attachments
    assert filename.endswith("-refusee.pdf")
    assert "L'ordonnance numérique ne peut pas être produite." in text_of(content)
    page = html(Client().get(f"/signature/{token}/"))
    assert "Ce document a été refusé" in page
    assert "Télécharger la VA refusée (PDF)" in page
