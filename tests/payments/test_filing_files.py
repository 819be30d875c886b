"""The files of a filing: the JSON « demande » (valid against its published schema) and the zip.

Orders come through the lifecycle helpers; the filing and its claims are built directly with the
ORM (`status=` in the constructors): these tests check what the writer makes of the rows, not how
the claims reached them.
"""

import datetime as dt
import hashlib
import io
import json
import logging
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from jsonschema import Draft202012Validator
from pypdf import PdfReader, PdfWriter

from payments.asp import writer
from payments.asp.filing import FILING_MODELS, SCHEMA_VERSION, ClientKindCode
from payments.asp.writer import FilingFileError, FilingTooLarge, write_filing_files
from payments.models import AspFiling, ClaimKind, ClaimStatus, FilingStatus, PaymentClaim
from payments.tasks import render_filing
from sons import tasks as sons_tasks
from sons.models import (
    ClientKind,
    MomDeclaration,
    PilotPerimeter,
    PilotSite,
    VaDecision,
    VaStatus,
    VerificationAptitude,
)
from sons.selectors import acceptance_instant
from sons.services import acceptance
from sons.services.acceptance import Signer
from tests.payments.factories import accept_by_va
from tests.sons.factories import at_paris, lgc_dispositif, referenced, signed_order

pytestmark = pytest.mark.django_db

SCHEMAS = Path(__file__).resolve().parents[2] / "payments" / "schemas"
FILED_AT = at_paris(2023, 10, 2, 9, 0)
MOM_AT = at_paris(2023, 9, 4, 11, 30)
MOM_SIGNER = Signer(
    name="Jeanne Éditrice", role="Directrice des déploiements", identity_method="compte_portail"
)
MOM_STATEMENT = "Le logiciel est installé, paramétré et en ordre de marche."
# The order's flat tariff: 1 500,00 € HT, 1 800,00 € TTC; the avance is 30 % of it.
ORDER_HT, ORDER_TTC = 150000, 180000
AVANCE_HT, AVANCE_TTC = 45000, 54000


# --- Building rows ----------------------------------------------------------------------------


def new_filing(*, vendor, dispositif, kind, sequence=1):
    return AspFiling.objects.create(
        vendor=vendor,
        dispositif=dispositif,
        kind=kind,
        sequence=sequence,
        name=AspFiling.file_stem(
            kind=kind, dispositif=dispositif, vendor=vendor, sequence=sequence
        ),
        schema_version=SCHEMA_VERSION,
        created_at=FILED_AT,
    )


def add_line(filing, order, *, kind, ht, ttc, number, **fields):
    return PaymentClaim.objects.create(
        order=order,
        kind=kind,
        status=ClaimStatus.SUBMITTED,
        amount_ht_cents=ht,
        amount_ttc_cents=ttc,
        created_at=FILED_AT,
        submitted_at=FILED_AT,
        filing=filing,
        line_number=number,
        **fields,
    )


def pdf_bytes(title: str) -> bytes:
    pdf = PdfWriter()
    pdf.add_blank_page(width=595, height=842)
    pdf.add_metadata({"/Title": title})
    buffer = io.BytesIO()
    pdf.write(buffer)
    return buffer.getvalue()


def invoice_fields(order) -> dict:
    content = pdf_bytes(f"Facture {order.reference}")
    name = default_storage.save(f"factures/{order.reference}-facture.pdf", ContentFile(content))
    return {
        "invoice_number": f"F-2023-{order.pk:05d}",
        "invoice_date": dt.date(2023, 9, 30),
        "invoice_amount_ttc_cents": order.amount_ttc_cents,
        "invoice_pdf": name,
        "invoice_sha256": hashlib.sha256(content).hexdigest(),
    }


def with_bdc(order):
    """The BDC rendered as the lifecycle renders it (the task, run here directly)."""
    sons_tasks.render_order_pdf(order.pk)
    order.refresh_from_db()
    return order


def reloaded(filing):
    return AspFiling.objects.select_related("vendor", "dispositif").get(pk=filing.pk)


def written(filing):
    """Writes the files; returns the JSON document, its raw bytes and the zip's bytes."""
    filing = reloaded(filing)
    write_filing_files(filing)
    filing.refresh_from_db()
    with filing.json_file.open("rb") as handle:
        raw = handle.read()
    with filing.zip_file.open("rb") as handle:
        zipped = handle.read()
    return filing, json.loads(raw), raw, zipped


def validator(kind: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{kind}-v{SCHEMA_VERSION}.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def members(zipped: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.testzip() is None
        return {info.filename: archive.read(info) for info in archive.infolist()}


def check_files(filing, doc, raw, zipped):
    """What holds for every filing: schema, numbering, totals, hashes, manifest."""
    errors = sorted(validator(filing.kind).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    FILING_MODELS[filing.kind].model_validate_json(raw)  # numbering and totals, re-read
    lines = doc["lines"]
    assert [line["line_number"] for line in lines] == list(range(1, len(lines) + 1))
    assert doc["totals"] == {
        "line_count": len(lines),
        "claimed_ttc_cents": sum(line["claimed_ttc_cents"] for line in lines),
        "claimed_ht_cents": sum(line["claimed_ht_cents"] for line in lines),
    }
    assert (filing.line_count, filing.total_ttc_cents) == (
        len(lines),
        doc["totals"]["claimed_ttc_cents"],
    )
    assert filing.json_sha256 == hashlib.sha256(raw).hexdigest()
    assert filing.zip_sha256 == hashlib.sha256(zipped).hexdigest()
    assert filing.json_file.name == f"asp/{filing.name}.json"
    assert filing.zip_file.name == f"asp/{filing.name}.zip"

    content = members(zipped)
    manifest = content.pop("MANIFEST.sha256").decode("ascii")
    listed = [row.split("  ") for row in manifest.splitlines()]
    assert [name for _sha, name in listed] == sorted(content)
    assert {name: sha for sha, name in listed} == {
        name: hashlib.sha256(data).hexdigest() for name, data in content.items()
    }
    attached = {a["name"]: a["sha256"] for line in lines for a in line["attachments"]}
    assert attached == {name: hashlib.sha256(data).hexdigest() for name, data in content.items()}
    return content


def pdf_text(data: bytes) -> str:
    return re.sub(
        r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    )


# --- Avance -----------------------------------------------------------------------------------


@pytest.fixture
def avance_filing(admin_user):
    dispositif = lgc_dispositif(code="MDV-LGC-V1")
    ref = referenced(dispositif=dispositif, actor=admin_user)
    filing = new_filing(vendor=ref.vendor, dispositif=dispositif, kind="avance")
    for number in (1, 2, 3):
        order = with_bdc(signed_order(referencing=ref, actor=admin_user))
        add_line(filing, order, kind=ClaimKind.AVANCE, ht=AVANCE_HT, ttc=AVANCE_TTC, number=number)
    return filing


def test_avance_filing_matches_its_schema_and_carries_the_bdcs(avance_filing):
    filing, doc, raw, zipped = written(avance_filing)
    content = check_files(filing, doc, raw, zipped)

    vendor = filing.vendor
    assert {k: doc[k] for k in ("schema_version", "kind", "dispositif", "filing", "sequence")} == {
        "schema_version": "1.0",
        "kind": "avance",
        "dispositif": "MDV-LGC-V1",
        "filing": f"SONS_avance_MDV-LGC-V1_{vendor.siret}_0001",
        "sequence": 1,
    }
    assert doc["created_at"] == "2023-10-02T09:00:00+02:00"
    ans = filing.vendor.referencings.get().ans_number
    assert doc["vendor"] == {
        "siret": vendor.siret,
        "siren": vendor.siret[:9],
        "name": vendor.name,
        "referencing_numbers": [ans],
    }
    claims = list(filing.claims.select_related("order__client").order_by("line_number"))
    for line, claim in zip(doc["lines"], claims, strict=True):
        order = claim.order
        assert line == {
            "line_number": claim.line_number,
            "order_reference": order.reference,
            "client": {
                "name": order.client.legal_name,
                "kind": "medecin_liberal",
                "rpps": order.client.rpps,
            },
            "bdc_signed_at": "2022-09-01T10:00:00+02:00",
            "prestation_ht_cents": ORDER_HT,
            "prestation_ttc_cents": ORDER_TTC,
            "claimed_ht_cents": AVANCE_HT,
            "claimed_ttc_cents": AVANCE_TTC,
            "line_type": "demande",
            "attachments": [{"name": f"{order.reference}-bdc.pdf", "sha256": order.pdf_sha256}],
        }
        with order.pdf.open("rb") as handle:
            assert content[f"{order.reference}-bdc.pdf"] == handle.read()
    assert doc["totals"] == {
        "line_count": 3,
        "claimed_ttc_cents": 3 * AVANCE_TTC,
        "claimed_ht_cents": 3 * AVANCE_HT,
    }
    # The members in line order, then the manifest, all stamped with the filing's instant.
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == [
        *(f"{c.order.reference}-bdc.pdf" for c in claims),
        "MANIFEST.sha256",
    ]
    assert {i.date_time for i in infos} == {(2023, 10, 2, 9, 0, 0)}
    # PDFs are stored as they are (already compressed), the manifest is deflated.
    assert {i.filename: i.compress_type for i in infos if not i.filename.endswith(".pdf")} == {
        "MANIFEST.sha256": zipfile.ZIP_DEFLATED
    }
    assert {i.compress_type for i in infos if i.filename.endswith(".pdf")} == {zipfile.ZIP_STORED}


def test_the_json_is_written_one_line_per_row(avance_filing):
    _filing, _doc, raw, _zipped = written(avance_filing)
    rows = raw.decode("utf-8").splitlines()
    assert rows[0].startswith('{"schema_version":"1.0","kind":"avance",')
    assert rows[0].endswith('"lines":[')
    assert [json.loads(row.lstrip(","))["line_number"] for row in rows[1:4]] == [1, 2, 3]
    assert rows[4].startswith('],"totals":{"line_count":3,')


def test_writing_twice_gives_the_same_bytes_under_the_same_names(avance_filing):
    first, _doc, raw_1, zip_1 = written(avance_filing)
    second, _doc, raw_2, zip_2 = written(avance_filing)
    assert (raw_1, zip_1) == (raw_2, zip_2)
    assert (first.json_sha256, first.zip_sha256) == (second.json_sha256, second.zip_sha256)
    assert (second.json_file.name, second.zip_file.name) == (
        f"asp/{second.name}.json",
        f"asp/{second.name}.zip",
    )
    assert sorted(p.name for p in Path(default_storage.path("asp")).iterdir()) == [
        f"{second.name}.json",
        f"{second.name}.zip",
    ]


def test_the_task_writes_the_files_and_logs_their_hashes(avance_filing, caplog):
    with caplog.at_level(logging.INFO, logger="payments.tasks"):
        render_filing.delay(avance_filing.pk)
    filing = reloaded(avance_filing)
    assert filing.line_count == 3 and filing.json_sha256 and filing.zip_sha256
    assert (
        f"filing_rendered filing_id={filing.pk} json_sha256={filing.json_sha256} "
        f"zip_sha256={filing.zip_sha256}"
    ) in caplog.text
    assert filing.status == FilingStatus.GENERATED  # files, not a state change


def test_a_json_over_the_size_limit_is_refused_and_nothing_is_stored(avance_filing, settings):
    settings.ASP_MAX_FILE_BYTES = 1500
    with pytest.raises(FilingTooLarge, match="ASP_MAX_FILE_BYTES"):
        write_filing_files(reloaded(avance_filing))
    filing = reloaded(avance_filing)
    assert (filing.json_file.name, filing.json_sha256, filing.line_count) == ("", "", 0)
    assert not default_storage.exists("asp")


def test_a_missing_bdc_stops_the_writing(avance_filing):
    claim = avance_filing.claims.get(line_number=2)
    type(claim.order).objects.filter(pk=claim.order_id).update(pdf="", pdf_sha256="")
    with pytest.raises(FilingFileError, match=rf"{claim.order.reference} : le BDC \(PDF\) manque"):
        write_filing_files(reloaded(avance_filing))
    assert reloaded(avance_filing).json_sha256 == ""


def test_a_stored_file_that_no_longer_matches_its_hash_is_refused(avance_filing):
    claim = avance_filing.claims.get(line_number=1)
    type(claim.order).objects.filter(pk=claim.order_id).update(pdf_sha256="0" * 64)
    with pytest.raises(FilingFileError, match="ne correspond plus"):
        write_filing_files(reloaded(avance_filing))


def test_a_transmitted_filing_is_not_rewritten(avance_filing):
    AspFiling.objects.filter(pk=avance_filing.pk).update(status=FilingStatus.TRANSMITTED)
    with pytest.raises(FilingFileError, match="déjà transmis"):
        write_filing_files(reloaded(avance_filing))


def test_lines_not_numbered_from_1_are_refused(avance_filing):
    avance_filing.claims.filter(line_number=3).update(line_number=4)
    with pytest.raises(FilingFileError, match="numérotées de 1 à n"):
        write_filing_files(reloaded(avance_filing))


# --- Solde and secondaire ---------------------------------------------------------------------


@pytest.fixture
def solde_world(admin_user, django_capture_on_commit_callbacks):
    """Three orders under a VA-or-MOM dispositif: accepted by a VA, by a MOM, and one removed."""
    dispositif = lgc_dispositif(code="MDV-LGC-V2", acceptance="va_or_mom")
    ref = referenced(dispositif=dispositif, actor=admin_user)
    by_va, by_mom, removed = (signed_order(referencing=ref, actor=admin_user) for _ in range(3))
    accept_by_va(by_va, admin_user, django_capture_on_commit_callbacks)
    acceptance.declare_mom(
        order=by_mom, signer=MOM_SIGNER, statement=MOM_STATEMENT, actor=admin_user, at=MOM_AT
    )
    return ref, by_va, by_mom, removed


@pytest.fixture
def solde_filing(solde_world):
    ref, by_va, by_mom, removed = solde_world
    filing = new_filing(vendor=ref.vendor, dispositif=ref.dispositif, kind="solde")
    solde_ht, solde_ttc = ORDER_HT - AVANCE_HT, ORDER_TTC - AVANCE_TTC
    for number, order in ((1, by_va), (2, by_mom)):
        add_line(
            filing,
            order,
            kind=ClaimKind.SOLDE,
            ht=solde_ht,
            ttc=solde_ttc,
            number=number,
            **invoice_fields(order),
        )
    add_line(filing, removed, kind=ClaimKind.COMPENSATION, ht=-AVANCE_HT, ttc=-AVANCE_TTC, number=3)
    return filing


def test_solde_filing_with_a_va_a_mom_and_a_compensation(solde_world, solde_filing):
    _ref, by_va, by_mom, removed = solde_world
    filing, doc, raw, zipped = written(solde_filing)
    content = check_files(filing, doc, raw, zipped)
    va_line, mom_line, compensation = doc["lines"]
    va = VerificationAptitude.objects.get(order=by_va, status=VaStatus.SIGNED)
    mom = MomDeclaration.objects.get(order=by_mom)

    # The VA line: the invoice and the signed VA, the VA's signer and instant.
    assert va_line["line_type"] == "demande"
    assert va_line["invoice"] == {
        "number": f"F-2023-{by_va.pk:05d}",
        "date": "2023-09-30",
        "amount_ttc_cents": ORDER_TTC,
    }
    decided = va.decision.decided_at
    assert va_line["acceptance"] == {
        "kind": "va",
        "date": decided.astimezone(MOM_AT.tzinfo).date().isoformat(),
        "instant": va_line["acceptance"]["instant"],
        "signer": "Dr Marie Curie",
    }
    assert dt.datetime.fromisoformat(va_line["acceptance"]["instant"]) == decided
    assert va_line["mssante_address"] == va.mssante_address
    assert [a["name"] for a in va_line["attachments"]] == [
        f"{by_va.reference}-facture.pdf",
        f"{by_va.reference}-va.pdf",
    ]
    with va.signed_pdf.open("rb") as handle:
        assert content[f"{by_va.reference}-va.pdf"] == handle.read()
    assert va_line["attachments"][1]["sha256"] == va.signed_pdf_sha256

    # The MOM line: the invoice and the MOM rendered as a document.
    assert mom_line["acceptance"] == {
        "kind": "mom",
        "date": "2023-09-04",
        "instant": "2023-09-04T11:30:00+02:00",
        "signer": "Jeanne Éditrice",
    }
    assert mom_line["mssante_address"] == mom.mssante_address
    assert [a["name"] for a in mom_line["attachments"]] == [
        f"{by_mom.reference}-facture.pdf",
        f"{by_mom.reference}-mom.pdf",
    ]
    text = pdf_text(content[f"{by_mom.reference}-mom.pdf"])
    for expected in (
        "mise en ordre de marche",
        by_mom.reference,
        "Jeanne Éditrice",
        "04/09/2023 à 11:30:00",
        mom.mssante_address,
        MOM_STATEMENT,
        by_mom.client.legal_name,
        by_mom.vendor.name,
    ):
        assert expected in text

    # The removed client: its paid avance offset, negative and counted in the totals.
    assert compensation == {
        "line_number": 3,
        "order_reference": removed.reference,
        "client": {
            "name": removed.client.legal_name,
            "kind": "medecin_liberal",
            "rpps": removed.client.rpps,
        },
        "bdc_signed_at": "2022-09-01T10:00:00+02:00",
        "prestation_ht_cents": ORDER_HT,
        "prestation_ttc_cents": ORDER_TTC,
        "claimed_ht_cents": -AVANCE_HT,
        "claimed_ttc_cents": -AVANCE_TTC,
        "line_type": "compensation",
        "attachments": [],
    }
    solde_ttc = ORDER_TTC - AVANCE_TTC
    assert doc["totals"]["claimed_ttc_cents"] == 2 * solde_ttc - AVANCE_TTC
    assert filing.total_ttc_cents == 2 * solde_ttc - AVANCE_TTC

    # The acceptance chosen is the one the lifecycle's selector names, order by order.
    for line, order in ((va_line, by_va), (mom_line, by_mom)):
        kind, instant = acceptance_instant(order)
        assert line["acceptance"]["kind"] == kind
        assert dt.datetime.fromisoformat(line["acceptance"]["instant"]) == instant


def test_solde_zip_is_reproducible_with_the_mom_rendered_again(solde_filing):
    _filing, _doc, raw_1, zip_1 = written(solde_filing)
    _filing, _doc, raw_2, zip_2 = written(solde_filing)
    assert (raw_1, zip_1) == (raw_2, zip_2)


def test_secondaire_filing_matches_its_schema(solde_world):
    ref, by_va, by_mom, _removed = solde_world
    filing = new_filing(vendor=ref.vendor, dispositif=ref.dispositif, kind="secondaire")
    for number, order in ((1, by_va), (2, by_mom)):
        add_line(
            filing,
            order,
            kind=ClaimKind.SECONDAIRE,
            ht=50000,
            ttc=60000,
            number=number,
            **invoice_fields(order),
        )
    filing, doc, raw, zipped = written(filing)
    check_files(filing, doc, raw, zipped)
    assert doc["kind"] == "secondaire"
    assert [line["acceptance"]["kind"] for line in doc["lines"]] == ["va", "mom"]
    assert doc["totals"]["claimed_ttc_cents"] == 120000


def test_a_solde_line_without_acceptance_is_refused(solde_world):
    ref, _by_va, _by_mom, removed = solde_world
    filing = new_filing(vendor=ref.vendor, dispositif=ref.dispositif, kind="solde", sequence=2)
    add_line(
        filing, removed, kind=ClaimKind.SOLDE, ht=1, ttc=1, number=1, **invoice_fields(removed)
    )
    with pytest.raises(FilingFileError, match=f"{removed.reference} n'a ni VA signée ni MOM"):
        write_filing_files(reloaded(filing))


def test_a_pilot_pv_acceptance_is_refused_until_the_pv_document_is_kept(admin_user):
    """The engine keeps only the pilot PV's hash: no document to attach, so no silent line."""
    dispositif = lgc_dispositif(code="HOP-PFI-V2", acceptance="pilot_pv")
    ref = referenced(dispositif=dispositif, actor=admin_user)
    order = signed_order(referencing=ref, actor=admin_user)
    PilotSite.objects.create(
        perimeter=PilotPerimeter.objects.create(referencing=ref),
        order=order,
        designated_at=at_paris(2023, 1, 2, 9, 0),
        pv_signed_on=dt.date(2023, 6, 1),
        pv_sha256="b" * 64,
    )
    filing = new_filing(vendor=ref.vendor, dispositif=dispositif, kind="solde")
    add_line(
        filing,
        order,
        kind=ClaimKind.SOLDE,
        ht=ORDER_HT - AVANCE_HT,
        ttc=ORDER_TTC - AVANCE_TTC,
        number=1,
        **invoice_fields(order),
    )
    assert acceptance_instant(order)[0] == "pilot_pv"
    with pytest.raises(FilingFileError, match="PV d'installation du site pilote"):
        write_filing_files(reloaded(filing))


def test_an_avance_claim_in_a_solde_filing_is_refused(solde_world):
    ref, by_va, _by_mom, _removed = solde_world
    filing = new_filing(vendor=ref.vendor, dispositif=ref.dispositif, kind="solde", sequence=3)
    add_line(filing, by_va, kind=ClaimKind.AVANCE, ht=AVANCE_HT, ttc=AVANCE_TTC, number=1)
    with pytest.raises(FilingFileError, match="ne va pas dans un dépôt « solde »"):
        write_filing_files(reloaded(filing))


def test_the_client_kinds_of_the_schema_are_the_engines():
    assert set(ClientKindCode) == set(ClientKind.values)


# --- Queries: the same count for 3 lines and for 30 ------------------------------------------

SIGNED_VA_PDF = pdf_bytes("VA signée")


def _va_by_rows(order):
    """A signed VA and its decision, built directly (the file tests need rows, not signatures)."""
    name = default_storage.save(f"va/{order.reference}-signed.pdf", ContentFile(SIGNED_VA_PDF))
    va = VerificationAptitude.objects.create(
        order=order,
        version=1,
        status=VaStatus.SIGNED,
        delivered_summary="Mise à jour livrée.",
        statements=["Le logiciel fonctionne."],
        mssante_address=order.contact.mssante_address,
        issued_at=at_paris(2023, 9, 1, 9, 0),
        signed_pdf=name,
        signed_pdf_sha256=hashlib.sha256(SIGNED_VA_PDF).hexdigest(),
    )
    VaDecision.objects.create(
        va=va,
        outcome=VaDecision.Outcome.SIGNED,
        decided_at=at_paris(2023, 9, 5, 16, 0),
        statements_confirmed=list(va.statements),
        document_sha256="a" * 64,
        signer_name="Dr Marie Curie",
        signer_role="Médecin",
        identity_method="otp",
    )


def filing_of(size, kind, admin_user, *, code):
    """A filing of `size` lines: avance (each with its BDC), or solde (VA, MOM, compensation)."""
    dispositif = lgc_dispositif(code=code, acceptance="va_or_mom")
    ref = referenced(dispositif=dispositif, actor=admin_user)
    filing = new_filing(vendor=ref.vendor, dispositif=dispositif, kind=kind)
    bdc = None
    for number in range(1, size + 1):
        order = signed_order(referencing=ref, actor=admin_user)
        if kind == "avance":
            if bdc is None:  # one rendering, the same document behind every order
                bdc = with_bdc(order)
            type(order).objects.filter(pk=order.pk).update(
                pdf=bdc.pdf.name, pdf_sha256=bdc.pdf_sha256
            )
            add_line(
                filing, order, kind=ClaimKind.AVANCE, ht=AVANCE_HT, ttc=AVANCE_TTC, number=number
            )
        elif number % 3 == 0:
            add_line(
                filing,
                order,
                kind=ClaimKind.COMPENSATION,
                ht=-AVANCE_HT,
                ttc=-AVANCE_TTC,
                number=number,
            )
        else:
            if number % 3 == 1:
                _va_by_rows(order)
            else:
                MomDeclaration.objects.create(
                    order=order,
                    declared_at=MOM_AT,
                    mssante_address=order.contact.mssante_address,
                    statement=MOM_STATEMENT,
                    signer_name="Jeanne Éditrice",
                    signer_role="Directrice",
                    identity_method="compte_portail",
                )
            add_line(
                filing,
                order,
                kind=ClaimKind.SOLDE,
                ht=ORDER_HT - AVANCE_HT,
                ttc=ORDER_TTC - AVANCE_TTC,
                number=number,
                **invoice_fields(order),
            )
    return reloaded(filing)


MAX_QUERIES = 3  # the referencing numbers, the claims (one cursor), the filing's update


@pytest.mark.parametrize("kind", ["avance", "solde"])
def test_the_writer_makes_as_many_queries_for_30_lines_as_for_3(
    kind, admin_user, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(writer, "CHUNK_SIZE", 7)  # several chunks: still one query for them
    counts = []
    for size, code in ((3, f"Q3-{kind}"), (30, f"Q30-{kind}")):
        filing = filing_of(size, kind, admin_user, code=code)
        with django_assert_max_num_queries(MAX_QUERIES) as captured:
            write_filing_files(filing)
        counts.append(len(captured.captured_queries))
        assert filing.line_count == size
        check_files(filing, *written(filing)[1:])
    assert counts[0] == counts[1], counts


def test_writer_queries_without_the_filing_preloaded(avance_filing, django_assert_num_queries):
    filing = AspFiling.objects.get(pk=avance_filing.pk)
    with django_assert_num_queries(5):  # + the filing's vendor and dispositif
        write_filing_files(filing)


def test_money_in_the_json_is_integer_cents(solde_filing):
    _filing, _doc, raw, _zipped = written(solde_filing)

    def numbers(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from numbers(value)
        elif isinstance(node, list):
            for value in node:
                yield from numbers(value)
        elif isinstance(node, int | float | Decimal) and not isinstance(node, bool):
            yield node

    assert all(type(n) is int for n in numbers(json.loads(raw, parse_float=Decimal)))
