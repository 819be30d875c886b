"""Online signing in a real browser: a professional on a phone opens the link from the mail,
enters the code, ticks the statements, adds a reserve, signs and downloads the sealed PDF; the
pages pass axe-core with no serious or critical violation, and work with the keyboard alone."""

import hashlib
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from signing.models import SigningLink
from sons.models import VaStatus, VerificationAptitude
from sons.services import acceptance
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
    """axe-core on the page as shown: no serious or critical violation."""
    violations = [
        v for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")
    ]
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
    page.get_by_label("Code reçu par courriel").fill(latest_code(email))
    assert_accessible(page)
    page.get_by_role("button", name="Valider le code").click()

    # The VA, its exact document and hash, the statements to tick.
    assert va.order.reference in page.locator("h1").inner_text()
    assert va.pdf_sha256 in page.locator("#empreinte").inner_text()
    assert_accessible(page)
    assert_fits_the_screen(page)
    page.get_by_role("button", name="Signer la VA").click()  # nothing ticked yet
    expect(page.get_by_role("alert")).to_contain_text("Cochez cette attestation pour signer.")
    assert VerificationAptitude.objects.get(pk=va.pk).status == VaStatus.ISSUED
    assert_accessible(page)

    for statement in va.statements:
        page.get_by_label(statement).check()
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

    # The same link, opened again, says the document is signed.
    page.goto(link_of(va))
    assert page.locator("h1").inner_text() == "Ce document est déjà signé"
    assert_accessible(page)


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

    tab_to(page, "details summary")
    page.keyboard.press("Enter")
    tab_to(page, "#id_refus-blocking_reserves")
    page.keyboard.type("L'envoi au DMP échoue pour les documents avec INS qualifiée.")
    tab_to(page, "button.danger")
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
