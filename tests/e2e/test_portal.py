"""The vendor portal in a real browser: a vendor administrator signs in with their second factor,
uploads a CSV with two bad lines, sees the errors, fixes the file, confirms, issues a VA and,
once the client has signed it, builds the solde filing and downloads its JSON."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from catalogue.deadlines import PARIS
from catalogue.models import VendorMember
from payments.models import AspFiling, ClaimKind, ClaimStatus
from sons.models import OrderStatus, PurchaseOrder, VaStatus
from sons.services import acceptance
from sons.services.acceptance import Signer
from tests.browser import dsfr_ready
from tests.factories import VendorFactory
from tests.payments.factories import invoice_pdf
from tests.portal.conftest import PASSWORD, code_for, make_member, vendor_referencing
from tests.sons.factories import valid_rpps

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = (
    "dispositif;solution;version;client_nature;client_nom;client_rpps;client_courriel;"
    "client_mssante;scenario_installation;signe_le;signataire;qualite_signataire;mode_signature"
)


def csv_file(referencing, *, broken: bool) -> bytes:
    """Three orders; broken: line 3 has a wrong RPPS key, line 4 a signatory but no date."""
    signed = (timezone.now() - dt.timedelta(days=2)).astimezone(PARIS).strftime("%d/%m/%Y %H:%M")
    lines = [HEADER]
    for n in range(1, 4):
        rpps = valid_rpps(8800 + n)
        signed_at, method = signed, "cps"
        if broken and n == 2:
            rpps = rpps[:-1] + str((int(rpps[-1]) + 1) % 10)
        if broken and n == 3:
            signed_at, method = "", ""
        lines.append(
            ";".join(
                [
                    referencing.dispositif.code,
                    referencing.solution_version.solution.name,
                    referencing.solution_version.version,
                    "medecin_liberal",
                    f"Dr Navigateur {n}",
                    rpps,
                    f"dr{n}@example.invalid",
                    f"dr{n}@medecin.mssante.fr",
                    "Poste du cabinet",
                    signed_at,
                    f"Dr Navigateur {n}",
                    "Médecin",
                    method,
                ]
            )
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


def off_the_browser_thread(work):
    """Runs `work` in a thread of its own: the signed PDF's seal runs an event loop, which
    Playwright's, running in the test's thread, would refuse."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed back to the test below
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def no_serious_violation(page) -> None:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(dsfr_ready(page)).response["violations"]
    serious = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, serious


def test_a_vendor_goes_from_a_csv_file_to_a_solde_filing(laptop_page, live_server):
    page = laptop_page
    vendor = VendorFactory(name="Éditeur Navigateur")
    admin = make_member(vendor, role=VendorMember.Role.ADMIN)
    referencing = vendor_referencing(vendor, admin)

    # Sign in: password, then the code of the authenticator app.
    page.goto(f"{live_server.url}/portail/")
    page.get_by_label("Identifiant (adresse de courriel)").fill(admin.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_label("Code à 6 chiffres").fill(code_for(admin))
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Tableau de bord"))

    # A file with two bad lines: the errors, line by line, and nothing saved.
    page.get_by_role("link", name="Dépôt en masse").click()
    page.get_by_label("Fichier des BDC").set_input_files(
        {"name": "bdc.csv", "mimeType": "text/csv", "buffer": csv_file(referencing, broken=True)}
    )
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(page.get_by_role("heading", name="2 erreurs à corriger")).to_be_visible()
    rows = page.locator("table.errors tbody tr")
    assert rows.count() == 2
    first, second = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "3" in first and "client_rpps" in first and "rpps_checksum" in first
    assert "4" in second and "signe_le" in second and "required" in second
    assert not PurchaseOrder.objects.exists()
    no_serious_violation(page)

    # The corrected file, checked, then confirmed.
    page.get_by_label("Fichier des BDC").set_input_files(
        {"name": "bdc.csv", "mimeType": "text/csv", "buffer": csv_file(referencing, broken=False)}
    )
    page.get_by_role("button", name="Vérifier le fichier").click()
    expect(page.get_by_role("heading", name="Fichier vérifié : aucune erreur")).to_be_visible()
    assert not PurchaseOrder.objects.exists()
    page.get_by_role("button", name="Confirmer et créer les 3 BDC").click()
    expect(page.get_by_role("heading", name="3 BDC créés")).to_be_visible()
    assert PurchaseOrder.objects.filter(status=OrderStatus.SIGNED).count() == 3

    # Issue the VA of the first order: the client is mailed its link.
    order = PurchaseOrder.objects.order_by("pk").first()
    page.get_by_role("link", name=order.reference).click()
    page.locator("summary", has_text="Émettre la VA").click()
    page.get_by_label("Prestation réalisée").fill("Mise à jour installée et paramétrée.")
    page.get_by_role("button", name="Émettre la VA").click()
    expect(page.get_by_text("VA émise").first).to_be_visible()
    no_serious_violation(page)
    va = order.vas.get()
    assert va.status == VaStatus.ISSUED and va.pdf_sha256

    # The client signs (the signing pages have their own browser test).
    off_the_browser_thread(
        lambda: acceptance.sign_va(
            va=va,
            signer=Signer(name="Dr Navigateur 1", role="Médecin", identity_method="code"),
            confirmed=list(va.statements),
            document_sha256=va.pdf_sha256,
        )
    )

    # The solde: opened, its invoice attached, made ready, filed.
    page.reload()
    page.get_by_role("button", name="Préparer la demande de solde").click()
    page.get_by_label("Numéro de facture").fill("F-2026-0001")
    page.get_by_label("Date de facture").fill(timezone.localdate().isoformat())
    page.get_by_label("Montant TTC de la facture (€)").fill("1800,00")
    page.get_by_label("Facture (PDF)").set_input_files(
        {"name": "facture.pdf", "mimeType": "application/pdf", "buffer": invoice_pdf()}
    )
    page.get_by_role("button", name="Joindre la facture").click()
    page.get_by_role("button", name="Vérifier et marquer prête").click()
    expect(page.get_by_text("Demande prête").first).to_be_visible()
    page.get_by_role("link", name="Demandes et dépôts ASP").click()
    page.get_by_role("button", name="Constituer le dépôt (demande de solde").click()
    filing = AspFiling.objects.get(kind=ClaimKind.SOLDE)
    expect(page.get_by_role("heading", name=f"Dépôt {filing.name}")).to_be_visible()
    assert order.claims.get(kind=ClaimKind.SOLDE).status == ClaimStatus.SUBMITTED
    with page.expect_download() as download:
        page.get_by_role("link", name=f"{filing.name}.json").click()
    document = json.loads(Path(download.value.path()).read_bytes())
    assert order.reference in json.dumps(document, ensure_ascii=False)
    filing.refresh_from_db()
    assert filing.json_sha256 in page.content()


def test_portal_pages_fit_a_phone(phone_page, live_server):
    vendor = VendorFactory(name="Éditeur Mobile")
    staff = make_member(vendor)
    referencing = vendor_referencing(vendor, staff)
    from tests.portal.conftest import vendor_order

    order = vendor_order(vendor, staff, referencing=referencing)
    page = phone_page
    page.goto(f"{live_server.url}/portail/connexion/")
    page.get_by_label("Identifiant (adresse de courriel)").fill(staff.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    for path in ("/portail/", "/portail/bdc/", f"/portail/bdc/{order.pk}/", "/portail/imports/"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        no_serious_violation(page)


def no_violation(page, where: str) -> None:
    """axe-core finds nothing on the page, whatever the impact (once the DSFR's script has
    set up the page's components, as a person sees them)."""
    from axe_playwright_python.sync_playwright import Axe

    page.wait_for_function("document.documentElement.dataset.frJs === 'true'")
    violations = Axe().run(dsfr_ready(page)).response["violations"]
    found = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in violations
    ]
    assert not found, f"{where}: {found}"


def go(page, link: str, *, phone: bool) -> None:
    """Follows a link of the portal's menu: behind the « Menu » button on a phone."""
    if phone:
        page.get_by_role("button", name="Menu", exact=True).click()
    page.get_by_role("navigation", name="Menu du portail").get_by_role(
        "link", name=link, exact=True
    ).click()


@pytest.mark.parametrize(
    "viewport", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}], ids=str
)
def test_a_vendor_does_everything_one_at_a_time(browser, live_server, viewport):
    """A client typed wrong then right, a BDC created and signed on paper (a signature in the
    future refused first), its VA issued, its avance filed; axe-core finds nothing anywhere."""
    from tests.browser import csp_violations

    phone = viewport["width"] < 600
    context = browser.new_context(
        viewport=viewport, is_mobile=phone, has_touch=phone, locale="fr-FR"
    )
    violations = csp_violations(context)
    page = context.new_page()
    vendor = VendorFactory(name="Éditeur Unitaire")
    staff = make_member(vendor)
    referencing = vendor_referencing(vendor, staff)
    rpps = valid_rpps(7701)

    page.goto(f"{live_server.url}/portail/")
    page.get_by_label("Identifiant (adresse de courriel)").fill(staff.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Tableau de bord"))
    if phone:
        # The menu is folded: the page starts with what the vendor came for.
        expect(page.get_by_role("navigation", name="Menu du portail")).to_be_hidden()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    no_violation(page, "accueil")

    # A client with a wrong RPPS key: refused under the field, what was typed kept.
    go(page, "Clients", phone=phone)
    page.get_by_role("link", name="Nouveau client").click()
    page.get_by_label("Nature du client").select_option("medecin_liberal")
    page.get_by_label("Nom ou raison sociale").fill("Dr Unitaire")
    page.get_by_label("RPPS").fill(rpps[:-1] + str((int(rpps[-1]) + 1) % 10))
    page.get_by_label("Courriel du signataire").fill("dr.unitaire@example.invalid")
    page.get_by_label("Adresse MSSanté").fill("dr.unitaire@medecin.mssante.fr")
    page.get_by_role("button", name="Enregistrer le client").click()
    expect(page.locator("#id_rpps-erreur-1")).to_be_visible()
    expect(page.get_by_label("Nom ou raison sociale")).to_have_value("Dr Unitaire")
    expect(page.get_by_label("RPPS")).to_have_attribute("aria-invalid", "true")
    no_violation(page, "client refusé")
    page.get_by_label("RPPS").fill(rpps)
    page.get_by_role("button", name="Enregistrer le client").click()
    expect(page.get_by_text("Client enregistré : Dr Unitaire.")).to_be_visible()
    no_violation(page, "clients")

    # A BDC for that client, created in draft.
    page.get_by_role("link", name="Nouveau BDC pour Dr Unitaire").click()
    expect(page.get_by_label("Client")).to_have_value(re.compile(r"\d+"))
    page.get_by_label("Dispositif").select_option(referencing.dispositif.code)
    page.get_by_label("Solution et version").select_option(str(referencing.solution_version_id))
    page.get_by_label("Scénario d'installation").fill("Poste du cabinet")
    no_violation(page, "nouveau BDC")
    page.get_by_role("button", name="Créer le BDC en brouillon").click()
    order = PurchaseOrder.objects.get(vendor=vendor)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{order.reference} – Dr Unitaire")
    no_violation(page, "BDC brouillon")

    # The paper signature: a date in the future is refused under its field, then the right one.
    page.locator("summary", has_text="Enregistrer la signature").click()
    page.get_by_label("Signataire (client)").fill("Dr Unitaire")
    page.get_by_label("Qualité du signataire").fill("Médecin")
    page.get_by_label("Mode de signature").select_option("handwritten")
    future = timezone.now().astimezone(PARIS) + dt.timedelta(days=40)
    page.get_by_label("Signé le").fill(future.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Enregistrer la signature").click()
    expect(page.locator("#id_sign-signed_at-erreur-1")).to_contain_text("dans le futur")
    expect(page.get_by_label("Signataire (client)")).to_have_value("Dr Unitaire")
    no_violation(page, "signature refusée")
    page.get_by_label("Signé le").fill(timezone.now().astimezone(PARIS).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Enregistrer la signature").click()
    expect(page.get_by_text("BDC enregistré : signé").first).to_be_visible()
    order.refresh_from_db()
    assert order.status == OrderStatus.SIGNED

    # The VA, issued: the client is mailed its link.
    page.locator("summary", has_text="Émettre la VA").click()
    page.get_by_label("Prestation réalisée").fill("Mise à jour installée et paramétrée.")
    page.get_by_role("button", name="Émettre la VA").click()
    expect(page.get_by_text("VA émise").first).to_be_visible()
    assert order.vas.get().status == VaStatus.ISSUED
    no_violation(page, "VA émise")

    # The avance, made ready, then filed.
    page.get_by_role("button", name="Préparer la demande d'avance").click()
    expect(page.get_by_text("Demande d'avance prête").first).to_be_visible()
    go(page, "Demandes et dépôts ASP", phone=phone)
    no_violation(page, "demandes")
    page.get_by_role("button", name="Constituer le dépôt (demande d'avance").click()
    filing = AspFiling.objects.get(kind=ClaimKind.AVANCE)
    expect(page.get_by_role("heading", name=f"Dépôt {filing.name}")).to_be_visible()
    expect(page.get_by_text("pas encore transmis à l'ASP")).to_be_visible()
    assert order.claims.get(kind=ClaimKind.AVANCE).status == ClaimStatus.SUBMITTED
    no_violation(page, "dépôt")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    context.close()
    assert violations == [], "Content-Security-Policy violated"


@pytest.mark.parametrize(
    "viewport", [{"width": 1366, "height": 768}, {"width": 390, "height": 844}], ids=str
)
def test_every_portal_page_passes_axe(browser, live_server, viewport):
    """Every page of the portal, at a laptop's and a phone's width: no axe-core violation of
    any impact, nothing wider than the screen, no CSP message."""
    from payments.services import claims
    from tests.browser import csp_violations
    from tests.portal.conftest import vendor_order

    context = browser.new_context(viewport=viewport, locale="fr-FR")
    violations = csp_violations(context)
    page = context.new_page()
    vendor = VendorFactory(name="Éditeur Pages")
    admin = make_member(vendor, role=VendorMember.Role.ADMIN)
    order = vendor_order(vendor, admin, referencing=vendor_referencing(vendor, admin))
    claim = claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=admin)

    page.goto(f"{live_server.url}/portail/connexion/")
    no_violation(page, "connexion")
    page.get_by_label("Identifiant (adresse de courriel)").fill(admin.username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    no_violation(page, "code")
    page.get_by_label("Code à 6 chiffres").fill(code_for(admin))
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Tableau de bord"))
    for path in (
        "/portail/",
        "/portail/bdc/",
        "/portail/bdc/?status=signed",
        f"/portail/bdc/{order.pk}/",
        f"/portail/bdc/{order.pk}/modifier/",
        "/portail/bdc/nouveau/",
        "/portail/clients/",
        "/portail/clients/nouveau/",
        f"/portail/clients/{order.client_id}/modifier/",
        "/portail/imports/",
        "/portail/va/",
        "/portail/demandes/",
        f"/portail/demandes/{claim.pk}/",
        "/portail/retours-asp/",
        "/portail/utilisateurs/",
        "/portail/jetons/",
        "/portail/compte/",
    ):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], path
        no_violation(page, path)
    context.close()
    assert violations == [], "Content-Security-Policy violated"
