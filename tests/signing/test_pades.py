"""The server's PAdES seal: anyone holding its certificate can check a sealed document was not
altered; the embedded default generates a self-signed certificate once and keeps it."""

import io
import stat

import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfReader, PdfWriter

from signing import pades
from signing.conf import seal_paths
from tests.signing.helpers import seal_status


def a_pdf(text: str = "VA") -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_metadata({"/Title": text})
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def test_a_sealed_document_validates_and_keeps_its_bytes():
    original = a_pdf()
    sealed = pades.seal_pdf(original, reason="Essai")
    assert sealed.startswith(original)  # an incremental update: the document is untouched
    assert len(PdfReader(io.BytesIO(sealed)).pages) == 1  # the seal adds no page
    status = seal_status(sealed)
    assert status.intact and status.valid and status.trusted
    assert status.coverage.name == "ENTIRE_FILE"
    assert "Cachet serveur SONS" in status.signing_cert.subject.human_friendly


@pytest.mark.parametrize("where", [0.3, 0.6])
def test_changing_one_byte_is_detected(where):
    sealed = bytearray(pades.seal_pdf(a_pdf(), reason="Essai"))
    reader = PdfFileReader(io.BytesIO(bytes(sealed)))
    (signature,) = reader.embedded_signatures
    start, length, *_rest = signature.byte_range  # the first signed range: the document
    position = int(start + length * where)
    sealed[position] = (sealed[position] + 1) % 256
    status = seal_status(bytes(sealed))
    assert not status.intact
    assert not status.bottom_line


def test_changing_a_word_of_the_document_is_detected():
    original = a_pdf("Accepted")
    sealed = pades.seal_pdf(original, reason="Essai")
    # The word as the document says it, in its original bytes (the seal's update follows).
    forged = sealed.replace(b"(Accepted)", b"(Rejected)", 1)
    assert forged[: len(original)] != original
    status = seal_status(forged)
    assert not status.intact


def test_a_document_sealed_by_another_certificate_is_not_trusted(tmp_path, settings):
    sealed = pades.seal_pdf(a_pdf(), reason="Essai")
    own_cert = load_cert_from_pemder(str(seal_paths()[0]))
    settings.MEDIA_ROOT = tmp_path / "autre"
    pades.seal_pdf(a_pdf(), reason="Essai")  # generates another instance's certificate
    other_cert = load_cert_from_pemder(str(seal_paths()[0]))
    assert other_cert.sha256 != own_cert.sha256
    status = seal_status(sealed, trusting=other_cert)
    assert status.intact and not status.trusted


def test_the_self_signed_certificate_is_generated_once_and_its_key_kept_private():
    pades.seal_pdf(a_pdf(), reason="Essai")
    cert_path, key_path, generated = seal_paths()
    assert generated
    first = cert_path.read_bytes()
    pades.seal_pdf(a_pdf(), reason="Essai")
    assert cert_path.read_bytes() == first
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_a_configured_certificate_is_used_and_never_replaced(tmp_path, settings):
    pades.seal_pdf(a_pdf(), reason="Essai")  # a pair to stand for the production one
    cert_path, key_path, _generated = seal_paths()
    settings.SIGNING_SEAL_CERT_FILE = str(cert_path)
    settings.SIGNING_SEAL_KEY_FILE = str(key_path)
    settings.MEDIA_ROOT = tmp_path / "ailleurs"
    assert seal_paths() == (cert_path, key_path, False)
    assert seal_status(pades.seal_pdf(a_pdf(), reason="Essai")).trusted

    settings.SIGNING_SEAL_CERT_FILE = str(tmp_path / "absent.pem")
    with pytest.raises(FileNotFoundError):
        pades.seal_pdf(a_pdf(), reason="Essai")
    assert not (tmp_path / "absent.pem").exists()


def test_the_certificate_can_be_downloaded(client, db):
    response = client.get("/signature/certificat-du-cachet.pem")
    assert response.status_code == 200
    assert response.content.startswith(b"-----BEGIN CERTIFICATE-----")
    assert response.content == seal_paths()[0].read_bytes()


def test_the_check_and_its_command_tell_a_sealed_document_from_an_altered_one(tmp_path, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    sealed = pades.seal_pdf(a_pdf("Accepted"), reason="Essai")
    check = pades.check_seal(sealed)
    assert check.ok and "Cachet serveur SONS" in check.signer and check.signed_at

    good = tmp_path / "va-signee.pdf"
    good.write_bytes(sealed)
    call_command("verify_seal", str(good))
    assert "document intact, scellé par ce serveur" in capsys.readouterr().out

    altered = tmp_path / "va-modifiee.pdf"
    altered.write_bytes(sealed.replace(b"(Accepted)", b"(Rejected)", 1))
    assert not pades.check_seal(altered.read_bytes()).intact
    with pytest.raises(CommandError, match="ne garantit pas"):
        call_command("verify_seal", str(altered))
    assert "Intact : NON" in capsys.readouterr().out

    # Something appended after the seal (a second update) is shown too.
    appended = sealed + b"\n% ajout\n"
    assert not pades.check_seal(appended).whole_file

    unsealed = tmp_path / "brut.pdf"
    unsealed.write_bytes(a_pdf())
    with pytest.raises(CommandError, match="aucun cachet"):
        call_command("verify_seal", str(unsealed))
