"""The same mechanism signs a BDC online, for vendors who send their BDC for signature: the
client reads the order as priced now, its exact document and hash, and signs it; the signed BDC
is sealed."""

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from django.utils import timezone

from catalogue.models import Tariff
from catalogue.rules import TariffKind
from core.models import JournalEntry
from signing import services
from signing.models import SigningLink
from sons.models import OrderStatus
from tests.factories import CalendarVersionFactory, DeadlineFactory, DispositifFactory
from tests.signing.helpers import (
    PSC_RPPS,
    html,
    identify,
    mails_to,
    psc_sign_in,
    seal_status,
    text_of,
    token_in,
)
from tests.sons.factories import ClientFactory, draft_order, referenced

pytestmark = pytest.mark.django_db


def open_dispositif(*, orders_end):
    """A dispositif whose orders are open until `orders_end`, with a flat 1 500 € HT tariff."""
    dispositif = DispositifFactory()
    version = CalendarVersionFactory(dispositif=dispositif, founding=True)
    DeadlineFactory(version=version, kind="orders", at=orders_end)
    Tariff.objects.create(
        dispositif=dispositif, kind=TariffKind.FLAT, flat_cents=150000, vat_rate=Decimal("0.20")
    )
    return dispositif


@pytest.fixture
def order(admin_user):
    dispositif = open_dispositif(orders_end=timezone.now() + dt.timedelta(days=60))
    ref = referenced(dispositif=dispositif, actor=admin_user)
    return draft_order(referencing=ref, actor=admin_user, client=ClientFactory(rpps=PSC_RPPS))


@pytest.fixture
def token(order, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.send_order_link(order=order, actor=admin_user)
    (message,) = mails_to(order.contact.email)
    assert message.subject == f"[SONS] Bon de commande Ségur à signer – {order.reference}"
    assert "pris en charge par l'État" in message.body
    return token_in(message)


@pytest.fixture
def signed_in(client, order, token, django_capture_on_commit_callbacks):
    identify(client, token, order.contact.email, django_capture_on_commit_callbacks)
    return client


def shown_hash(client, token) -> str:
    pdf = client.get(f"/signature/{token}/document.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    return hashlib.sha256(pdf.content).hexdigest()


def sign_form(digest, **overrides):
    data = {
        "signer_name": "Dr Marie Curie",
        "signer_role": "Médecin titulaire",
        "document_sha256": digest,
        "accepted": "on",
        **overrides,
    }
    return {k: v for k, v in data.items() if v is not None}


def test_the_page_shows_the_order_as_priced_and_its_exact_document(signed_in, order, token):
    page = html(signed_in.get(f"/signature/{token}/document/"))
    digest = shown_hash(signed_in, token)
    for shown in (
        order.reference,
        order.vendor.name,
        order.client.legal_name,
        order.installation_scenario,
        "1 500,00 €",
        "1 800,00 €",
        "Montant pris en charge par l'État au titre du Ségur de la santé",
        digest,
    ):
        assert shown.replace("\u202f", " ") in page.replace("\u202f", " "), shown


def test_signing_the_bdc_online(signed_in, order, token, django_capture_on_commit_callbacks):
    digest = shown_hash(signed_in, token)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(f"/signature/{token}/signer/", sign_form(digest))
    assert response.status_code == 302, html(response)[:3000]
    order.refresh_from_db()
    assert order.status == OrderStatus.SIGNED
    assert (order.signatory_name, order.signatory_role) == ("Dr Marie Curie", "Médecin titulaire")
    assert order.signature_method == "otp"
    assert order.amount_ht_cents == 150000
    entry = JournalEntry.objects.for_object(order).order_by("sequence").last()
    assert entry.transition == "sign"
    assert entry.snapshot["online"]["document_sha256"] == digest
    assert entry.snapshot["online"]["identity_subject"] == order.contact.email
    assert SigningLink.objects.get(order=order).outcome == "signed"

    page = html(signed_in.get(f"/signature/{token}/confirmation/"))
    assert "Le bon de commande est signé" in page
    download = signed_in.get(f"/signature/{token}/document-signe.pdf")
    signed = b"".join(download.streaming_content)
    assert hashlib.sha256(signed).hexdigest() == order.pdf_sha256
    assert "Dr Marie Curie" in text_of(signed)
    assert "Signature en ligne (code à usage unique reçu par courriel)" in text_of(signed)
    status = seal_status(signed)
    assert status.intact and status.valid and status.trusted
    assert signed_in.get(f"/signature/{token}/").status_code == 410


def test_the_order_must_be_confirmed_by_ticking_the_box(signed_in, order, token):
    response = signed_in.post(
        f"/signature/{token}/signer/", sign_form(shown_hash(signed_in, token), accepted=None)
    )
    assert response.status_code == 400
    assert "Cochez cette case pour signer le bon de commande." in html(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_an_order_priced_differently_since_it_was_shown_is_not_signed(signed_in, order, token):
    digest = shown_hash(signed_in, token)
    Tariff.objects.filter(dispositif=order.dispositif).update(flat_cents=160000)
    response = signed_in.post(f"/signature/{token}/signer/", sign_form(digest))
    assert response.status_code == 400
    assert "Le bon de commande a changé depuis que vous l'avez ouvert" in html(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT
    assert SigningLink.objects.get(order=order).used_at is None


def test_the_end_of_orders_applies_online_too(
    signed_in, order, token, django_capture_on_commit_callbacks
):
    digest = shown_hash(signed_in, token)
    version = order.dispositif.calendar_versions.get()
    version.deadlines.filter(kind="orders").update(at=timezone.now() - dt.timedelta(minutes=1))
    response = signed_in.post(f"/signature/{token}/signer/", sign_form(digest))
    assert response.status_code == 400
    assert "Les commandes de ce dispositif devaient être signées avant le" in html(response)
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT


def test_a_bdc_signed_with_pro_sante_connect_says_so(
    provider, client, order, token, django_capture_on_commit_callbacks
):
    assert psc_sign_in(client, token)["Location"] == f"/signature/{token}/document/"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/signature/{token}/signer/", sign_form(shown_hash(client, token)))
    order.refresh_from_db()
    assert (order.status, order.signature_method) == (OrderStatus.SIGNED, "psc")
    assert order.signatory_name == "Marie Curie"
