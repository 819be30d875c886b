"""The server's PAdES seal on the documents it records as signed (VA, BDC), with pyHanko.

The seal is an incremental update: the sealed file begins with the document's bytes unchanged,
and anyone holding the server's certificate can check that nothing was altered after sealing
(Adobe Reader, `pyhanko sign validate`, or pyHanko's validation API).

Production points SIGNING_SEAL_CERT_FILE and SIGNING_SEAL_KEY_FILE at a real certificate (a
« cachet serveur »). Without them, the embedded default generates a self-signed certificate and
its key on first use, under MEDIA_ROOT/seal/, and keeps using them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .conf import seal_paths, setting

logger = logging.getLogger(__name__)

SEAL_FIELD = "CachetSONS"
SEAL_NAME = "SONS – Ségur du numérique en santé"
SELF_SIGNED_NAME = "Cachet serveur SONS (auto-signé, instance locale)"
SELF_SIGNED_YEARS = 10


def seal_pdf(content: bytes, *, reason: str) -> bytes:
    """`content` followed by the server's PAdES (B-B) signature over the whole file."""
    signer = _signer()
    writer = IncrementalPdfFileWriter(io.BytesIO(content), strict=False)
    metadata = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        name=SEAL_NAME,
    )
    output = _run(signers.async_sign_pdf(writer, metadata, signer=signer))
    return output.getvalue()


def _run(coroutine):
    """Runs one of pyHanko's coroutines to completion from synchronous code."""
    return _in_own_thread(lambda: asyncio.run(coroutine))


def _in_own_thread(function):
    """pyHanko starts an event loop; a thread that already runs one (an ASGI server's, a
    browser-driving test's) cannot start a second, so the work then runs in a thread of its own.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function).result()


@dataclass(frozen=True)
class SealCheck:
    """What a check of a sealed document found."""

    sealed: bool  # carries a signature at all
    intact: bool  # the bytes it covers are unchanged
    trusted: bool  # made by the server's certificate
    whole_file: bool  # nothing was appended after it
    signer: str = ""
    signed_at: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return self.sealed and self.intact and self.trusted and self.whole_file


def check_seal(content: bytes) -> SealCheck:
    """Checks a document's seal against the server's certificate (pyHanko's validation)."""
    cert = load_cert_from_pemder(str(_ensure_files()[0]))

    def validate():
        try:
            reader = PdfFileReader(io.BytesIO(content), strict=False)
            signatures = reader.embedded_signatures
        except (PdfReadError, ValueError):
            return SealCheck(sealed=False, intact=False, trusted=False, whole_file=False)
        if not signatures:
            return SealCheck(sealed=False, intact=False, trusted=False, whole_file=False)
        status = validate_pdf_signature(signatures[-1], ValidationContext(trust_roots=[cert]))
        return SealCheck(
            sealed=True,
            intact=bool(status.intact and status.valid),
            trusted=bool(status.trusted),
            whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
            signer=status.signing_cert.subject.human_friendly,
            signed_at=status.signer_reported_dt,
        )

    return _in_own_thread(validate)


def certificate_pem() -> bytes:
    """The seal's certificate (PEM), for whoever wants to check a sealed document."""
    cert_path, _key_path = _ensure_files()
    return cert_path.read_bytes()


def _signer() -> signers.SimpleSigner:
    cert_path, key_path = _ensure_files()
    passphrase = setting("SIGNING_SEAL_KEY_PASSPHRASE")
    cert = load_cert_from_pemder(str(cert_path))
    key = load_private_key_from_pemder(
        str(key_path), passphrase=passphrase.encode() if passphrase else None
    )
    return signers.SimpleSigner(
        signing_cert=cert,
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs([cert]),
    )


def _ensure_files() -> tuple[Path, Path]:
    cert_path, key_path, generated = seal_paths()
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    if not generated:
        raise FileNotFoundError(
            f"Certificat du cachet introuvable : {cert_path} / {key_path} "
            "(SIGNING_SEAL_CERT_FILE, SIGNING_SEAL_KEY_FILE)."
        )
    _generate_self_signed(cert_path.parent, cert_path.name, key_path.name)
    return cert_path, key_path


def _generate_self_signed(folder: Path, cert_name: str, key_name: str) -> None:
    """Writes a new key and self-signed certificate, atomically: the folder appears whole.

    Two workers racing both write a candidate; the first rename wins and the other's is dropped.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".seal-", dir=folder.parent))
    try:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SONS (instance locale)"),
                x509.NameAttribute(NameOID.COMMON_NAME, SELF_SIGNED_NAME),
            ]
        )
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365 * SELF_SIGNED_YEARS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        key_file = staging / key_name
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        os.chmod(key_file, 0o600)
        (staging / cert_name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        try:
            os.rename(staging, folder)
        except OSError:
            if not (folder / cert_name).exists():
                raise
            return  # another process generated it first: use theirs
        logger.warning("seal_certificate_generated path=%s self_signed=true", folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
