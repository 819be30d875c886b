"""Nothing unofficial looks official (issue 14, point 7; SONS.md step 2: the BDC shows the real
amount next to « Montant pris en charge par l'État »): on the client's signing page and in the
signed PDFs (the signed BDC, the VA and its decision sheet), an amount priced on a demo tariff
carries « [DÉMO] », and a real one never does."""

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from catalogue.models import Tariff
from signing import services
from tests.signing.helpers import html, identify, issue, mails_to, text_of, token_in
from tests.signing.test_sign_bdc import open_dispositif, shown_hash, sign_form
from tests.signing.test_sign_va import sign_form as va_sign_form
from tests.sons.factories import ClientFactory, draft_order, referenced, signed_order

pytestmark = pytest.mark.django_db

MARK = "[DÉMO]"
BANNER = "DOCUMENT DE DÉMONSTRATION – barème fictif"


@pytest.fixture(params=[True, False], ids=["demo", "real"])
def demo(request):
    return request.param


def dispositif_priced(demo: bool):
    dispositif = open_dispositif(orders_end=timezone.now() + dt.timedelta(days=60))
    Tariff.objects.filter(dispositif=dispositif).update(is_demo=demo)
    return dispositif


def test_the_signing_page_and_the_signed_bdc_mark_a_demo_amount_only(
    client, admin_user, demo, django_capture_on_commit_callbacks
):
    ref = referenced(dispositif=dispositif_priced(demo), actor=admin_user)
    order = draft_order(referencing=ref, actor=admin_user, client=ClientFactory())
    with django_capture_on_commit_callbacks(execute=True):
        services.send_order_link(order=order, actor=admin_user)
    token = token_in(mails_to(order.contact.email)[0])
    identify(client, token, order.contact.email, django_capture_on_commit_callbacks)

    page = html(client.get(f"/signature/{token}/document/"))
    assert "Montant pris en charge par l'État au titre du Ségur de la santé" in page
    assert (MARK in page) is demo
    assert ("Barème de démonstration : montant fictif, sans valeur officielle." in page) is demo
    shown = client.get(f"/signature/{token}/document.pdf").content
    assert (MARK in text_of(shown)) is demo

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/signature/{token}/signer/", sign_form(shown_hash(client, token)))
    assert response.status_code == 302
    order.refresh_from_db()
    signed = b"".join(client.get(f"/signature/{token}/document-signe.pdf").streaming_content)
    assert hashlib.sha256(signed).hexdigest() == order.pdf_sha256
    text = text_of(signed)
    assert "Montant pris en charge par l'État au titre du Ségur de la santé" in text
    assert (MARK in text) is demo
    assert (BANNER in text) is demo
    if demo:
        # Beside each amount, not only in a banner.
        assert "1 500,00 € [DÉMO]" in text.replace("\u202f", " ").replace("\xa0", " ")


def test_the_va_and_its_signed_decision_sheet_say_a_demo_order_is_one(
    client, admin_user, demo, django_capture_on_commit_callbacks
):
    ref = referenced(dispositif=dispositif_priced(demo), actor=admin_user)
    order = signed_order(referencing=ref, actor=admin_user)
    va = issue(order, admin_user, django_capture_on_commit_callbacks)
    with va.pdf.open("rb") as handle:
        assert (BANNER in text_of(handle.read())) is demo
    token = token_in(mails_to(order.contact.email)[0])
    identify(client, token, order.contact.email, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/signature/{token}/signer/", va_sign_form(va))
    assert response.status_code == 302
    va.refresh_from_db()
    signed = b"".join(client.get(f"/signature/{token}/document-signe.pdf").streaming_content)
    assert hashlib.sha256(signed).hexdigest() == va.signed_pdf_sha256
    assert (BANNER in text_of(signed, page=-1)) is demo
