"""The BDC and VA documents: what a person reading the PDF would check, read back from the PDF."""

import datetime as dt
import io
import os
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from pypdf import PdfReader
from weasyprint.urls import FatalURLFetchingError

from catalogue.deadlines import PARIS
from catalogue.models import Tariff
from sons import documents
from sons.documents import render_order_pdf, render_signed_va_pdf, render_va_pdf, sha256_hex
from tests.sons.doc_factories import (
    STATEMENTS,
    OrderFactory,
    SiteFactory,
    VaFactory,
    unsaved_order,
    va_decision,
)

pytestmark = pytest.mark.django_db

MENTION = "Montant pris en charge par l'État au titre du Ségur de la santé"
DEMO_BANNER = "DOCUMENT DE DÉMONSTRATION – barème fictif"


def normalise(text: str) -> str:
    """Text extraction splits lines and keeps U+00A0/U+202F: any run of spaces becomes one space."""
    return re.sub(r"\s+", " ", text).strip()


def pages_text(pdf: bytes) -> list[str]:
    return [normalise(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def text_of(pdf: bytes) -> str:
    return " ".join(pages_text(pdf))


# --- BDC ------------------------------------------------------------------------------------


def test_the_bdc_of_a_doctor_names_parties_solution_amounts_and_signature():
    order = OrderFactory()
    text = text_of(render_order_pdf(order))

    assert "Bon de commande – Prestation Ségur" in text
    assert order.reference in text
    assert order.reference.startswith("BDC-0")
    assert f"{order.dispositif.code} – {order.dispositif.title}" in text
    assert order.vendor.name in text
    assert f"SIRET {order.vendor.siret}" in text
    assert f"SIREN {order.vendor.siret[:9]}" in text
    assert order.client.legal_name in text
    assert "Médecin libéral" in text
    assert f"RPPS {order.client.rpps}" in text
    assert "FINESS" not in text
    assert order.contact.mssante_address in text
    assert order.solution_version.solution.name in text
    assert order.solution_version.version in text
    assert order.referencing.ans_number in text
    assert "Poste unique, installation sur site" in text
    assert "Montant HT 9 166,57 €" in text
    assert "Montant TTC 10 999,88 €" in text
    assert "TVA 20 %" in text
    assert MENTION in text
    assert "Signataire Camille Martin" in text
    assert "Qualité Médecin titulaire" in text
    assert "Pro Santé Connect" in text
    assert "01/03/2024 à 10:30 (heure de Paris)" in text
    assert "sous condition" not in text


def test_the_bdc_of_a_site_names_its_finess_and_siret():
    order = OrderFactory(client=SiteFactory())
    text = text_of(render_order_pdf(order))

    assert "Centre de santé" in text
    assert f"FINESS {order.client.finess}" in text
    assert f"SIRET {order.client.siret}" in text
    assert "RPPS" not in text


def test_a_signature_in_summer_is_shown_in_paris_time_not_utc():
    order = OrderFactory(signed_at=dt.datetime(2024, 7, 15, 22, 5, tzinfo=dt.UTC))
    text = text_of(render_order_pdf(order))

    assert "16/07/2024 à 00:05 (heure de Paris)" in text


def test_a_conditional_bdc_says_until_when_the_referencing_is_awaited():
    order = OrderFactory(conditional=True)
    assert order.referencing is None
    text = text_of(render_order_pdf(order))

    assert (
        "Signé sous condition de référencement : référencement attendu avant le "
        "01/07/2024 à 14:00 (heure de Paris)"
    ) in text
    assert "Référencement ANS —" in text


def test_a_conditional_bdc_confirmed_later_still_says_it_was_signed_under_condition():
    order = OrderFactory(conditional_until=dt.datetime(2024, 7, 1, 14, 0, tzinfo=PARIS))
    text = text_of(render_order_pdf(order))

    assert "Signé sous condition de référencement" in text
    assert order.referencing.ans_number in text


def test_a_demo_tariff_puts_the_banner_on_the_bdc_and_a_real_one_does_not():
    demo = text_of(render_order_pdf(OrderFactory(demo=True)))
    real = text_of(render_order_pdf(OrderFactory()))

    assert DEMO_BANNER in demo
    assert DEMO_BANNER not in real
    assert "DÉMONSTRATION" not in real


def test_a_demo_tariff_row_puts_the_banner_even_if_the_snapshot_is_silent():
    order = OrderFactory(pricing_snapshot={})
    order.tariff = Tariff.objects.create(
        dispositif=order.dispositif, kind="flat", flat_cents=916657, is_demo=True
    )

    assert DEMO_BANNER in text_of(render_order_pdf(order))


def test_a_vat_rate_with_decimals_is_written_the_french_way():
    assert documents.vat_percent(Decimal("0.0550")) == "5,5\u202f%"
    assert documents.vat_percent(Decimal("0.2000")) == "20\u202f%"


def test_a_bdc_without_amount_is_not_rendered():
    order = OrderFactory.build(amount_ht_cents=None, amount_ttc_cents=None)
    with pytest.raises(ValueError, match="montant"):
        render_order_pdf(order)


def test_the_bdc_text_of_the_person_is_escaped_not_interpreted():
    order = OrderFactory(installation_scenario='<img src="http://example.invalid/x.png"> & co')
    text = text_of(render_order_pdf(order))

    assert '<img src="http://example.invalid/x.png"> & co' in text


def test_no_url_is_ever_fetched(settings, monkeypatch):
    def remote_html(template_name, context):
        return '<html><body><img src="https://example.invalid/logo.png"></body></html>'

    # The rendering is core's (core/documents.py), shared by every document.
    monkeypatch.setattr("core.documents.render_to_string", remote_html)
    with pytest.raises(FatalURLFetchingError):
        render_order_pdf(OrderFactory())


# --- VA -------------------------------------------------------------------------------------


def test_the_va_lists_what_to_attest_and_names_no_signer():
    va = VaFactory(order__client__legal_name="Cabinet du Dr Martin")
    pdf = render_va_pdf(va)
    text = text_of(pdf)

    assert "Vérification d'aptitude (VA) – version 1" in text
    assert va.order.reference in text
    assert va.order.vendor.name in text
    assert f"SIRET {va.order.vendor.siret}" in text
    assert f"RPPS {va.order.client.rpps}" in text
    assert va.order.solution_version.version in text
    assert va.order.referencing.ans_number in text
    assert "Mise à jour installée le 30/08/2024" in text
    for statement in STATEMENTS:
        assert f"☐ {statement}" in text
    assert "☑" not in text
    assert va.mssante_address in text
    assert "02/09/2024 à 09:15" in text
    assert "Réserves non bloquantes" in text
    assert "Cabinet du Dr Martin" in text
    assert "Camille Martin" not in text  # the BDC's signatory, who will likely sign: not yet
    assert "Signataire" not in text
    assert "Signée" not in text
    assert "Empreinte" not in text


def test_the_va_version_is_in_its_title():
    va = VaFactory(version=3)

    assert "Vérification d'aptitude (VA) – version 3" in text_of(render_va_pdf(va))


# --- Signed VA ------------------------------------------------------------------------------


@pytest.fixture
def issued():
    va = VaFactory(order__client__legal_name="Cabinet du Dr Martin")
    pdf = render_va_pdf(va)
    va.pdf_sha256 = sha256_hex(pdf)
    return va, pdf


def test_the_signed_va_is_the_original_followed_by_one_signature_page(issued):
    va, original = issued
    decision = va_decision(va, document_sha256=sha256_hex(original))

    signed = render_signed_va_pdf(va, decision, original)

    before, after = pages_text(original), pages_text(signed)
    assert len(after) == len(before) + 1
    # The original pages as they were, the statements ticked over their boxes (issue 16).
    assert [text.replace(" ☑", "") for text in after[: len(before)]] == before
    assert after[0].count("☑") == len(STATEMENTS)
    # The original bytes are the start of the signed file, untouched: the hash can be re-checked.
    assert signed.startswith(original)
    assert sha256_hex(signed[: len(original)]) == decision.document_sha256

    last = after[-1]
    assert "Signée électroniquement" in last
    assert "Refusée" not in last
    assert f"{va.order.reference}" in last
    assert "version 1" in last
    assert "Camille Martin" in last
    assert "Médecin titulaire" in last
    assert f"RPPS {va.order.client.rpps}" in last
    assert "Pro Santé Connect" in last
    assert "05/09/2024 à 16:42:07 (heure de Paris)" in last
    assert "203.0.113.42" in last
    assert "Firefox/128.0" in last
    for statement in STATEMENTS:
        assert f"☑ {statement}" in last
    assert "☐" not in last
    assert "Lenteur à l'ouverture du dossier patient." in last
    assert f"Empreinte SHA-256 du document signé : {decision.document_sha256}" in last
    assert re.fullmatch(r"[0-9a-f]{64}", decision.document_sha256)
    assert f"{len(original)} premiers octets" in last


def test_the_signature_instant_is_in_paris_time_with_seconds(issued):
    va, original = issued
    decision = va_decision(
        va,
        document_sha256=sha256_hex(original),
        decided_at=dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
    )

    last = pages_text(render_signed_va_pdf(va, decision, original))[-1]

    assert "01/01/2025 à 00:59:59 (heure de Paris)" in last


def test_a_refused_va_says_so_and_shows_the_blocking_reserves(issued):
    va, original = issued
    decision = va_decision(va, outcome="refused", document_sha256=sha256_hex(original))

    signed = render_signed_va_pdf(va, decision, original)
    last = pages_text(signed)[-1]

    assert len(pages_text(signed)) == len(pages_text(original)) + 1
    assert "Refusée" in last
    assert "Signée électroniquement" not in last
    assert "Réserves bloquantes L'ordonnance numérique ne peut être produite." in last
    assert "Camille Martin" in last
    assert f"Empreinte SHA-256 du document refusé : {decision.document_sha256}" in last
    for statement in STATEMENTS:
        assert f"☐ {statement}" in last


def test_reserves_too_long_for_the_page_carry_over_and_are_never_cut(issued):
    va, original = issued
    reserves = " ".join(f"Réserve n° {i} : l'écran {i} s'affiche lentement." for i in range(150))
    decision = va_decision(va, document_sha256=sha256_hex(original), non_blocking_reserves=reserves)

    signed = render_signed_va_pdf(va, decision, original)
    after = pages_text(signed)

    assert signed.startswith(original)
    assert len(after) > len(pages_text(original)) + 1
    # The reserves run across the sheet's pages: read them without the page footers.
    footer = re.compile(
        r" ?BDC-\d+ – VA v1 – feuillet de décision Feuillet de décision – page \d+ / \d+$"
    )
    sheet = " ".join(footer.sub("", page) for page in after[len(pages_text(original)) :])
    assert normalise(reserves) in sheet


def test_a_signer_without_rpps_has_no_rpps_line(issued):
    va, original = issued
    decision = va_decision(va, document_sha256=sha256_hex(original), signer_rpps="")

    last = pages_text(render_signed_va_pdf(va, decision, original))[-1]

    assert "RPPS" not in last


def test_a_signature_is_never_stamped_on_another_document(issued):
    va, original = issued
    other = render_va_pdf(VaFactory(version=2, delivered_summary="Autre chose"))
    decision = va_decision(va, document_sha256=sha256_hex(original))

    with pytest.raises(ValueError, match="empreinte"):
        render_signed_va_pdf(va, decision, other)


# --- Hashes and determinism ------------------------------------------------------------------


def test_sha256_hex_is_the_stable_hex_digest_of_the_bytes():
    pdf = render_order_pdf(OrderFactory())

    assert sha256_hex(pdf) == sha256_hex(bytes(pdf))
    assert re.fullmatch(r"[0-9a-f]{64}", sha256_hex(pdf))
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_renders_are_deterministic_the_same_rows_give_the_same_bytes():
    order = OrderFactory()
    va = VaFactory()
    va_pdf = render_va_pdf(va)
    decision = va_decision(va, document_sha256=sha256_hex(va_pdf))

    assert render_order_pdf(order) == render_order_pdf(order)
    assert render_va_pdf(va) == va_pdf
    assert render_signed_va_pdf(va, decision, va_pdf) == render_signed_va_pdf(va, decision, va_pdf)


CHILD = """
import hashlib, django
django.setup()
from sons.documents import render_order_pdf
from tests.sons.doc_factories import unsaved_order
print(hashlib.sha256(render_order_pdf(unsaved_order())).hexdigest())
"""


def test_another_process_renders_the_same_bytes(settings):
    # Another interpreter, another hash seed: nothing in the bytes may depend on the process.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sons.settings_test",
        "PYTHONHASHSEED": "4242",
        "PYTHONPATH": str(settings.BASE_DIR),
    }
    child = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )

    assert child.stdout.strip() == sha256_hex(render_order_pdf(unsaved_order()))


def test_the_pdf_dates_come_from_the_rows_not_from_the_clock():
    order = OrderFactory(signed_at=dt.datetime(2024, 3, 1, 10, 30, tzinfo=PARIS))
    metadata = PdfReader(io.BytesIO(render_order_pdf(order))).metadata

    assert metadata.creation_date == dt.datetime(2024, 3, 1, 10, 30, tzinfo=PARIS)
    assert order.reference in metadata.title
