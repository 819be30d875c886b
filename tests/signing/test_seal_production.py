"""The seal with a production certificate: a three-level chain (root → intermediate → leaf) from
PEM files, a PKCS#12 or a SoftHSM token, a timestamp authority and the validation data embedded.

Everything runs against certomancer's test PKI served over HTTP (tests/signing/seal_pki.py) and
is checked with tools we did not write: pyHanko's validator given the root only, and pdfsig.
"""

import datetime as dt
import io
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko_certvalidator import ValidationContext

from signing import pades
from tests.signing import seal_pki
from tests.signing.test_pades import a_pdf
from tests.signing.test_seal_page import text_of


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = seal_pki.start(tmp_path_factory.mktemp("pki"))
    yield pki
    seal_pki.stop(pki)


@pytest.fixture
def trusting_root(pki, settings):
    """Trust anchors: the root alone (neither the intermediate nor the leaf)."""
    settings.SIGNING_TRUST_ROOTS_FILE = pki.file("racine.pem", pki.root_pem)
    settings.SIGNING_TSA_URL = pki.tsa_url
    return settings


@pytest.fixture
def pem_chain(pki, trusting_root):
    """The leaf followed by its intermediate in one file, the key in another."""
    trusting_root.SIGNING_SEAL_CERT_FILE = pki.file("cachet.pem", pki.leaf_pem + pki.interm_pem)
    trusting_root.SIGNING_SEAL_KEY_FILE = pki.file("cachet.key", pki.leaf_key_pem)
    return trusting_root


def in_thread(function):
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()


def signature_of(content: bytes):
    (signature,) = PdfFileReader(io.BytesIO(content)).embedded_signatures
    return signature


def root_cert(pki):
    return load_cert_from_pemder(pki.file("racine-seule.pem", pki.root_pem))


def validated_by_root_only(pki, content: bytes):
    """pyHanko's verdict now, trusting the root only, fetching nothing."""
    root = root_cert(pki)
    return in_thread(
        lambda: validate_pdf_signature(
            signature_of(content),
            ValidationContext(trust_roots=[root]),
            ts_validation_context=ValidationContext(trust_roots=[root]),
        )
    )


def validated_after_expiry(pki, content: bytes, moment: dt.datetime):
    """pyHanko's verdict at `moment`: the timestamp is checked then, the leaf at the timestamp's
    time with the revocation data in the file and nothing else (revocation status required)."""
    root = root_cert(pki)

    def validate():
        signature = signature_of(content)
        try:
            dss = DocumentSecurityStore.read_dss(signature.reader)
        except NoDSSFoundError:
            dss = None

        def context(at, mode):
            kwargs = {"trust_roots": [root], "moment": at, "revocation_mode": mode}
            return dss.as_validation_context(kwargs) if dss else ValidationContext(**kwargs)

        stamp_context = context(moment, "hard-fail")
        first = validate_pdf_signature(
            signature, context(moment, "soft-fail"), ts_validation_context=stamp_context
        )
        stamped = first.timestamp_validity.timestamp
        at_stamp = validate_pdf_signature(
            signature, context(stamped, "hard-fail"), ts_validation_context=stamp_context
        )
        return first, at_stamp

    return in_thread(validate)


def test_a_three_level_chain_from_pem_is_sealed_timestamped_and_long_term(pki, pem_chain):
    original = a_pdf("BDC")
    sealed = pades.seal_pdf(original, reason="Bon de commande signé")
    assert sealed.startswith(original)

    status = validated_by_root_only(pki, sealed)
    assert status.bottom_line and status.trusted
    assert "Cachet serveur SONS de test" in status.signing_cert.subject.human_friendly
    # B-T: a timestamp from the authority, itself trusted through the root.
    assert status.timestamp_validity.trusted and status.timestamp_validity.valid
    assert abs(status.timestamp_validity.timestamp - dt.datetime.now(dt.UTC)) < dt.timedelta(
        minutes=5
    )
    # The whole chain is in the signature: the validator was given the root only.
    certificates = signature_of(sealed).signed_data["certificates"]
    assert any("Intermédiaire de test" in c.chosen.subject.human_friendly for c in certificates)

    # B-LT: the chain and revocation data are in the document security store.
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(sealed)))
    assert dss.certs and (dss.ocsps or dss.crls)
    assert status.modification_level.name == "LTA_UPDATES"


def test_the_seal_still_validates_after_the_certificate_expired(pki, pem_chain, settings):
    later = pki.leaf_expiry + dt.timedelta(days=30)
    long_term = pades.seal_pdf(a_pdf(), reason="Essai")

    at_that_instant, at_the_timestamp = validated_after_expiry(pki, long_term, later)
    assert not at_that_instant.trusted  # the leaf has expired by then,
    assert at_the_timestamp.bottom_line and at_the_timestamp.trusted  # but was valid when stamped
    check = pades.check_seal(long_term, at=later)
    assert check.ok and check.timestamped and check.long_term

    # Without the embedded validation data, the revocation status cannot be established then.
    settings.SIGNING_SEAL_LONG_TERM = False
    timestamp_only = pades.seal_pdf(a_pdf(), reason="Essai")
    with pytest.raises(NoDSSFoundError):
        DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(timestamp_only)))
    with pytest.raises(ValueError, match="revocation data is not optional"):
        validated_after_expiry(pki, timestamp_only, later)


def test_pdfsig_reads_the_seal(pki, pem_chain, tmp_path):
    sealed = tmp_path / "bdc-scelle.pdf"
    sealed.write_bytes(pades.seal_pdf(a_pdf(), reason="Essai"))
    result = subprocess.run(["pdfsig", str(sealed)], capture_output=True, text=True, check=True)
    assert "Signer Certificate Common Name: Cachet serveur SONS de test" in result.stdout
    assert "Signature Validation: Signature is Valid." in result.stdout
    assert "ETSI.CAdES.detached" in result.stdout  # PAdES


def test_a_pkcs12_with_its_chain_seals(pki, trusting_root):
    trusting_root.SIGNING_SEAL_PKCS12_FILE = pki.pkcs12()
    trusting_root.SIGNING_SEAL_KEY_PASSPHRASE = seal_pki.PKCS12_PASSWORD
    status = validated_by_root_only(pki, pades.seal_pdf(a_pdf(), reason="Essai"))
    assert status.bottom_line and status.trusted and status.timestamp_validity.trusted

    trusting_root.SIGNING_SEAL_KEY_PASSPHRASE = "pas le bon"
    with pytest.raises(Exception, match="PKCS#12 du cachet illisible"):
        pades.seal_pdf(a_pdf(), reason="Essai")


def test_a_key_in_a_softhsm_token_seals(pki, trusting_root, monkeypatch):
    conf = seal_pki.softhsm_token(pki)
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    seal_pki.store_certificates_on_token(conf, pki)
    trusting_root.SIGNING_SEAL_PKCS11_MODULE = seal_pki.SOFTHSM_MODULE
    trusting_root.SIGNING_SEAL_PKCS11_TOKEN = seal_pki.HSM_TOKEN
    trusting_root.SIGNING_SEAL_PKCS11_PIN = seal_pki.HSM_PIN
    trusting_root.SIGNING_SEAL_PKCS11_KEY_LABEL = seal_pki.HSM_LABEL

    sealed = pades.seal_pdf(a_pdf(), reason="Essai")
    status = validated_by_root_only(pki, sealed)
    assert status.bottom_line and status.trusted and status.timestamp_validity.trusted
    assert "Cachet serveur SONS de test" in status.signing_cert.subject.human_friendly
    # The published certificate is the token's, with its chain.
    assert pades.certificate_pem().startswith(pki.leaf_pem)


def test_verify_seal_reports_a_production_seal_in_french(pki, pem_chain, tmp_path, capsys):
    sealed = tmp_path / "bdc.pdf"
    sealed.write_bytes(pades.seal_pdf(a_pdf(), reason="Essai"))
    call_command("verify_seal", str(sealed))
    out = capsys.readouterr().out
    assert "Cachet serveur SONS de test" in out
    assert "Émis par : " in out and "Intermédiaire de test" in out
    assert "Horodatage : oui" in out
    assert "Données de validation long terme : oui" in out
    assert "Portée : tout le document tel que scellé" in out
    assert "Modifications après le cachet : données de validation" in out
    assert "document intact, scellé par ce serveur" in out
    assert "démonstration" not in out


def test_verify_seal_refuses_a_document_sealed_by_another_key(pki, trusting_root, tmp_path):
    cert, key = seal_pki.other_self_signed(tmp_path)
    trusting_root.SIGNING_SEAL_CERT_FILE, trusting_root.SIGNING_SEAL_KEY_FILE = cert, key
    trusting_root.SIGNING_TSA_URL = ""
    foreign = tmp_path / "autre.pdf"
    foreign.write_bytes(pades.seal_pdf(a_pdf(), reason="Essai"))

    with pytest.raises(CommandError, match="le cachet ne garantit pas ce document"):
        call_command("verify_seal", str(foreign))
    check = pades.check_seal(foreign.read_bytes())
    assert check.intact and not check.trusted
    assert "scellé par une autre clé" in check.problems[0]


def test_verify_seal_refuses_a_chain_missing_its_intermediate(pki, trusting_root, tmp_path, capsys):
    trusting_root.SIGNING_SEAL_CERT_FILE = pki.file("feuille-seule.pem", pki.leaf_pem)
    trusting_root.SIGNING_SEAL_KEY_FILE = pki.file("cachet.key", pki.leaf_key_pem)
    trusting_root.SIGNING_TSA_URL = ""
    broken = tmp_path / "sans-intermediaire.pdf"
    broken.write_bytes(pades.seal_pdf(a_pdf(), reason="Essai"))

    with pytest.raises(CommandError, match="le cachet ne garantit pas ce document"):
        call_command("verify_seal", str(broken))
    out = capsys.readouterr().out
    assert "Chaîne de confiance : NON" in out
    assert "chaîne de certificats incomplète" in out and "Intermédiaire de test" in out


def test_the_verification_page_reports_a_production_seal(pki, pem_chain, client, db):
    sealed = pades.seal_pdf(a_pdf(), reason="Essai")
    page = client.post("/signature/verifier/", {"document": SimpleUploadedFile("bdc.pdf", sealed)})
    assert page.status_code == 200
    text = text_of(page)
    assert "Document intact, scellé par ce serveur." in text
    assert "Certificat du cachet Cachet serveur SONS de test (Autorité de test SONS, FR)" in text
    assert "Horodatage oui" in text and "selon l'horodatage" in text
    assert "Données de validation long terme oui" in text
    assert "démonstration" not in text


def test_the_verification_page_refuses_a_broken_chain_and_another_key(
    pki, trusting_root, client, db, tmp_path
):
    trusting_root.SIGNING_TSA_URL = ""
    trusting_root.SIGNING_SEAL_CERT_FILE = pki.file("feuille-seule.pem", pki.leaf_pem)
    trusting_root.SIGNING_SEAL_KEY_FILE = pki.file("cachet.key", pki.leaf_key_pem)
    broken = pades.seal_pdf(a_pdf(), reason="Essai")
    cert, key = seal_pki.other_self_signed(tmp_path)
    trusting_root.SIGNING_SEAL_CERT_FILE, trusting_root.SIGNING_SEAL_KEY_FILE = cert, key
    foreign = pades.seal_pdf(a_pdf(), reason="Essai")
    trusting_root.SIGNING_SEAL_CERT_FILE = pki.file("cachet.pem", pki.leaf_pem + pki.interm_pem)
    trusting_root.SIGNING_SEAL_KEY_FILE = pki.file("cachet.key", pki.leaf_key_pem)

    def verdict(content: bytes) -> str:
        page = client.post(
            "/signature/verifier/", {"document": SimpleUploadedFile("x.pdf", content)}
        )
        assert page.status_code == 200
        text = text_of(page)
        assert "Le cachet ne garantit pas ce document" in text
        assert "Chaîne de confiance NON" in text
        return text

    assert "chaîne de certificats incomplète" in verdict(broken)
    assert "scellé par une autre clé" in verdict(foreign)


def test_the_checks_ask_for_trust_anchors_and_a_timestamp_authority(pki, pem_chain):
    from signing.checks import configured_seal_has_trust_roots, configured_seal_is_timestamped

    assert configured_seal_has_trust_roots() == [] and configured_seal_is_timestamped() == []
    pem_chain.SIGNING_TRUST_ROOTS_FILE = ""
    pem_chain.SIGNING_TSA_URL = ""
    assert [m.id for m in configured_seal_has_trust_roots()] == ["signing.E001"]
    assert [m.id for m in configured_seal_is_timestamped()] == ["signing.W002"]
    # Without trust anchors nothing is trusted, not even the seal's own certificate.
    check = pades.check_seal(pades.seal_pdf(a_pdf(), reason="Essai"))
    assert check.intact and not check.trusted
    assert "aucune autorité de confiance" in check.problems[0]


def test_an_unreachable_timestamp_authority_makes_the_rendering_task_retry(pki, pem_chain):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    pem_chain.SIGNING_TSA_URL = f"http://127.0.0.1:{port}/tsa"
    # The rendering tasks retry with backoff on OSError (sons/tasks.py).
    with pytest.raises(OSError):
        pades.seal_pdf(a_pdf(), reason="Essai")
