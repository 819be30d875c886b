"""Online signing in a real browser: a professional on a phone opens the link from the mail,
enters the code, ticks the statements, adds a reserve, signs and downloads the sealed PDF, then
gets it again from the same link; the mail brings it too. The pages (in the DSFR) pass axe-core
with no violation at all, fit a 375 px screen, and work with the keyboard alone."""

import datetime as dt
import hashlib
import io
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from signing.models import SigningLink
from sons.models import VaStatus, VerificationAptitude
from sons.services import acceptance
from tests.browser import dsfr_ready
from tests.signing.helpers import (
    SUMMARY,
    code_in,
    order_for,
    seal_status,
    text_of,
    token_in,
)

pytestmark = pytest.mark.django_db(transaction=True)

RESERVE = "L'icône d'impression des ordonnances est mal placée."


def assert_accessible(page) -> None:
    """axe-core on the page as shown: no violation, whatever its impact."""
    violations = Axe().run(dsfr_ready(page)).response["violations"]
    assert not violations, [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in violations
    ]


def assert_fits_the_screen(page) -> None:
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.fixture
def issued_va(admin_user, settings, live_server):
    """A VA issued for real: committed, its PDF rendered and its link mailed to the client."""
    settings.SIGNING_BASE_URL = live_server.url
    order = order_for(admin_user)
    va = acceptance.create_va(order=order, delivered_summary=SUMMARY, actor=admin_user)
    acceptance.issue_va(va=va, actor=admin_user)
    va.refresh_from_db()
    assert va.pdf_sha256
    return va


def link_of(va) -> str:
    (message,) = [
        m for m in mail.outbox if va.order.contact.email in m.to and "à signer" in m.subject
    ]
    return message.body.split("/signature/")[0].split()[-1] + f"/signature/{token_in(message)}/"


def latest_code(address: str) -> str:
    return code_in([m for m in mail.outbox if address in m.to and "code" in m.subject][-1])


def assert_in_view(page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    height = page.evaluate("window.innerHeight")
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height, box


def tick(page, label: str) -> None:
    """Ticks a DSFR checkbox as a person does: on its label, which covers the box."""
    box = page.get_by_label(label)
    page.locator(f"label[for={box.get_attribute('id')}]").click()
    expect(box).to_be_checked()


def has_signature_field(content: bytes) -> bool:
    fields = PdfReader(io.BytesIO(content)).get_fields() or {}
    return any(field.get("/FT") == "/Sig" for field in fields.values())


def test_a_professional_signs_the_va_on_a_phone(phone_page, issued_va, tmp_path):
    page, va = phone_page, issued_va
    email = va.order.contact.email
    page.goto(link_of(va))
    assert page.locator("html").get_attribute("lang") == "fr"
    assert "Signer en ligne" in page.locator("h1").inner_text()
    assert_accessible(page)
    assert_fits_the_screen(page)

    page.get_by_role("button", name="Recevoir un code").click()
    expect(page.get_by_role("status").first).to_contain_text("Un code vient d'être envoyé")
    # The code field first and in view, « Recevoir un nouveau code » after it, with its warning.
    assert_in_view(page, "#id_code")
    expect(page.locator("#id_code")).to_be_focused()
    assert (
        page.locator("#id_code").bounding_box()["y"]
        < (page.get_by_role("button", name="Recevoir un nouveau code").bounding_box()["y"])
    )
    expect(page.get_by_text("Un nouveau code remplace celui déjà envoyé")).to_be_visible()
    assert_accessible(page)

    # A five-digit typo: refused under the field, in view, without costing an attempt.
    code = latest_code(email)
    page.get_by_label("Code reçu par courriel").fill(code[:5])
    page.get_by_role("button", name="Valider le code").click()
    expect(page.locator("#id_code-erreur")).to_contain_text("Le code compte exactement 6 chiffres")
    assert_in_view(page, "#id_code-erreur")
    assert SigningLink.objects.get(va=va).failed_attempts == 0
    assert_accessible(page)
    assert_fits_the_screen(page)

    page.get_by_label("Code reçu par courriel").fill(code)
    page.get_by_role("button", name="Valider le code").click()

    # The VA, its exact document and hash, the statements to tick.
    assert va.order.reference in page.locator("h1").inner_text()
    assert va.pdf_sha256 in page.locator("#empreinte").inner_text()
    expect(page.locator("main")).to_contain_text(f"(heure de Paris), version {va.version}")
    assert_accessible(page)
    assert_fits_the_screen(page)
    page.get_by_role("button", name="Signer la VA").click()  # nothing ticked yet
    expect(page.get_by_role("alert")).to_contain_text("Cochez cette attestation pour signer.")
    assert VerificationAptitude.objects.get(pk=va.pk).status == VaStatus.ISSUED
    assert_accessible(page)

    for statement in va.statements:
        tick(page, statement)
    page.get_by_label("Réserves non bloquantes (facultatif)").fill(RESERVE)
    page.get_by_role("button", name="Signer la VA").click()

    expect(page.locator("h1")).to_have_text("La VA est signée")
    assert_accessible(page)
    assert_fits_the_screen(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger la VA signée (PDF)").click()
    content = Path(download_info.value.path()).read_bytes()

    va.refresh_from_db()
    assert va.status == VaStatus.SIGNED
    assert va.decision.non_blocking_reserves == RESERVE
    assert va.decision.identity_subject == email
    assert hashlib.sha256(content).hexdigest() == va.signed_pdf_sha256
    status = seal_status(content)
    assert status.intact and status.valid and status.trusted
    assert RESERVE in text_of(content)

    # The same link, opened again, says the document is signed and gives the signed copy.
    page.goto(link_of(va))
    assert page.locator("h1").inner_text() == "Ce document est déjà signé"
    assert_accessible(page)
    assert_fits_the_screen(page)
    with page.expect_download() as again_info:
        page.get_by_role("link", name="Télécharger la VA signée (PDF)").click()
    again = Path(again_info.value.path()).read_bytes()
    assert again.startswith(b"%PDF-")
    assert va.order.client.legal_name in text_of(again)
    assert has_signature_field(again)
    assert again == content

    # The signer's mail carries the same document.
    (copy,) = [m for m in mail.outbox if email in m.to and "Votre exemplaire" in m.subject]
    ((_name, attached, _type),) = copy.attachments
    assert attached == content
    assert va.order.client.legal_name in text_of(attached)
    assert has_signature_field(attached)


def tab_to(page, selector: str, *, presses: int = 60) -> None:
    """Moves the focus with Tab alone until it reaches `selector` (it must be reachable)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} not reachable with the keyboard")


def test_the_va_can_be_refused_with_the_keyboard_alone(laptop_page, issued_va):
    page, va = laptop_page, issued_va
    page.goto(link_of(va))
    tab_to(page, "button[value=send]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#id_code")
    tab_to(page, "#id_code")
    page.keyboard.type(latest_code(va.order.contact.email))
    page.keyboard.press("Enter")
    page.wait_for_selector("#document-titre")

    tab_to(page, "button.fr-accordion__btn")
    page.keyboard.press("Enter")
    expect(page.locator("#id_refus-blocking_reserves")).to_be_visible()
    tab_to(page, "#id_refus-blocking_reserves")
    page.keyboard.type("L'envoi au DMP échoue pour les documents avec INS qualifiée.")
    tab_to(page, "#bouton-refuser")
    assert_accessible(page)
    page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Votre refus est enregistré")
    va.refresh_from_db()
    assert va.status == VaStatus.REFUSED
    assert va.decision.blocking_reserves.startswith("L'envoi au DMP échoue")


def test_an_expired_link_reads_on_a_phone(phone_page, issued_va):
    SigningLink.objects.filter(va=issued_va).update(expires_at=timezone.now())
    phone_page.goto(link_of(issued_va))
    assert phone_page.locator("h1").inner_text() == "Ce lien a expiré"
    assert issued_va.order.vendor.name in phone_page.locator("main").inner_text()
    assert_accessible(phone_page)
    assert_fits_the_screen(phone_page)


def test_the_bdc_signing_pages_read_on_a_phone(phone_page, admin_user, settings, live_server):
    from signing import services
    from tests.signing.test_sign_bdc import open_dispositif
    from tests.sons.factories import draft_order, referenced

    settings.SIGNING_BASE_URL = live_server.url
    dispositif = open_dispositif(orders_end=timezone.now() + dt.timedelta(days=60))
    ref = referenced(dispositif=dispositif, actor=admin_user)
    order = draft_order(referencing=ref, actor=admin_user)
    services.send_order_link(order=order, actor=admin_user)
    email = order.contact.email
    (message,) = [m for m in mail.outbox if email in m.to and "à signer" in m.subject]
    page = phone_page
    page.goto(f"{live_server.url}/signature/{token_in(message)}/")
    page.get_by_role("button", name="Recevoir un code").click()
    page.get_by_label("Code reçu par courriel").fill(latest_code(email))
    page.get_by_role("button", name="Valider le code").click()
    expect(page.locator("h1")).to_contain_text(order.reference)
    assert_accessible(page)
    assert_fits_the_screen(page)

    page.get_by_role("button", name="Signer le bon de commande").click()  # box not ticked
    expect(page.get_by_role("alert")).to_contain_text("Cochez cette case")
    assert_accessible(page)
    tick(page, "Je commande la prestation Ségur")
    page.get_by_role("button", name="Signer le bon de commande").click()
    expect(page.locator("h1")).to_have_text("Le bon de commande est signé")
    assert_accessible(page)
    assert_fits_the_screen(page)


def test_an_interrupted_pro_sante_connect_login_reads_on_a_phone(phone_page, live_server):
    phone_page.goto(f"{live_server.url}/signature/pro-sante-connect/retour/?state=x&code=y")
    assert phone_page.locator("h1").inner_text() == "Connexion interrompue"
    assert_accessible(phone_page)
    assert_fits_the_screen(phone_page)
