"""The server's PAdES seal on the documents it records as signed (VA, BDC), with pyHanko.

The seal is an incremental update: the sealed file begins with the document's bytes unchanged,
and anyone holding the trust anchors of the seal's certificate can check that nothing was
altered after sealing (Adobe Reader, pdfsig, `pyhanko sign validate`, `manage.py verify_seal`,
the page /signature/verifier/).

Production gives the seal a real certificate (a « cachet serveur ») and its chain, from PEM files,
a PKCS#12 or a PKCS#11 token (an HSM), a timestamp authority (PAdES B-T) and, with it, the
validation data embedded in the file (B-LT: the chain, CRLs and OCSP responses in the document
security store), so that the seal still validates after the certificate expires. Without any of
that, the demo seal: a self-signed certificate generated on first use under MEDIA_ROOT/seal/, no
timestamp, labelled as a demo in the signature and in every check.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ImproperlyConfigured
from pyhanko.keys import load_cert_from_pemder, load_certs_from_pemder, load_private_key_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .conf import seal_paths, seal_source, setting

logger = logging.getLogger(__name__)

SEAL_FIELD = "CachetSONS"
SEAL_NAME = "SONS – Ségur du numérique en santé"
DEMO_SEAL_NAME = "SONS – cachet de démonstration (certificat auto-signé, sans horodatage)"
SELF_SIGNED_NAME = "Cachet serveur SONS – démonstration (auto-signé)"
SELF_SIGNED_YEARS = 10


def seal_pdf(content: bytes, *, reason: str) -> bytes:
    """`content` followed by the server's PAdES signature over the whole file.

    B-B with the demo seal; B-T with a timestamp authority; B-LT when, moreover, the validation
    data is embedded (SIGNING_SEAL_LONG_TERM, the default).
    """

    def seal() -> bytes:
        with _seal_material() as material:
            tsa_url = setting("SIGNING_TSA_URL")
            timestamper = (
                HTTPTimeStamper(tsa_url, timeout=setting("SIGNING_TSA_TIMEOUT"))
                if tsa_url and not material.demo
                else None
            )
            long_term = bool(timestamper) and setting("SIGNING_SEAL_LONG_TERM")
            metadata = signers.PdfSignatureMetadata(
                field_name=SEAL_FIELD,
                subfilter=SigSeedSubFilter.PADES,
                md_algorithm="sha256",
                reason=reason,
                name=DEMO_SEAL_NAME if material.demo else SEAL_NAME,
                embed_validation_info=long_term,
                validation_context=(
                    ValidationContext(
                        trust_roots=trust_roots(),
                        other_certs=material.chain,
                        allow_fetching=True,
                        revocation_mode="hard-fail",
                        fetcher_backend=RequestsFetcherBackend(),
                    )
                    if long_term
                    else None
                ),
            )
            writer = IncrementalPdfFileWriter(io.BytesIO(content), strict=False)
            try:
                output = asyncio.run(
                    signers.async_sign_pdf(
                        writer, metadata, signer=material.signer, timestamper=timestamper
                    )
                )
            except SigningError as exc:
                # Typically the revocation data could not be fetched: the rendering task
                # retries (it retries on OSError, as for an unreachable timestamp authority).
                raise SealUnavailable(f"Cachet impossible pour l'instant : {exc}") from exc
            return output.getvalue()

    return _in_own_thread(seal)


class SealUnavailable(OSError):
    """The seal could not be made now (a timestamp or revocation service did not answer)."""


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


# -- The key and its chain ------------------------------------------------------------------


@dataclass
class _Material:
    signer: signers.Signer
    chain: list[asn1_x509.Certificate]  # the seal's certificate first, then the others
    demo: bool


@contextmanager
def _seal_material() -> Iterator[_Material]:
    """The configured signer (a PKCS#11 session stays open while it is in use)."""
    source = seal_source()
    if source == "pkcs11":
        with _pkcs11_material() as material:
            yield material
        return
    passphrase = setting("SIGNING_SEAL_KEY_PASSPHRASE")
    secret = passphrase.encode() if passphrase else None
    extra = _chain_file_certs()
    if source == "pkcs12":
        path = Path(setting("SIGNING_SEAL_PKCS12_FILE"))
        if not path.exists():
            raise FileNotFoundError(
                f"PKCS#12 du cachet introuvable : {path} (SIGNING_SEAL_PKCS12_FILE)."
            )
        signer = signers.SimpleSigner.load_pkcs12(str(path), passphrase=secret, other_certs=extra)
        if signer is None:
            raise ImproperlyConfigured(
                f"PKCS#12 du cachet illisible : {path} "
                "(mot de passe : SIGNING_SEAL_KEY_PASSPHRASE)."
            )
        yield _Material(signer, _signer_chain(signer), demo=False)
        return
    cert_path, key_path = _ensure_files()
    certs = list(load_certs_from_pemder([str(cert_path)]))
    key = load_private_key_from_pemder(str(key_path), passphrase=secret)
    chain = _unique([*certs, *extra])
    signer = signers.SimpleSigner(
        signing_cert=certs[0],
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    yield _Material(signer, chain, demo=source == "demo")


@contextmanager
def _pkcs11_material() -> Iterator[_Material]:
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session

    key_label = setting("SIGNING_SEAL_PKCS11_KEY_LABEL")
    if not key_label:
        raise ImproperlyConfigured(
            "Cachet sur jeton PKCS#11 : SIGNING_SEAL_PKCS11_KEY_LABEL (libellé de la clé) manque."
        )
    token = setting("SIGNING_SEAL_PKCS11_TOKEN")
    pin = setting("SIGNING_SEAL_PKCS11_PIN")
    session = open_pkcs11_session(
        setting("SIGNING_SEAL_PKCS11_MODULE"),
        token_criteria=TokenCriteria(label=token or None),
        user_pin=pin or None,
    )
    try:
        signer = PKCS11Signer(
            session,
            key_label=key_label,
            cert_label=setting("SIGNING_SEAL_PKCS11_CERT_LABEL") or key_label,
            ca_chain=_chain_file_certs(),
            other_certs_to_pull=None,  # the chain stored on the token, if any
        )
        asyncio.run(signer.ensure_objects_loaded())
        yield _Material(signer, _signer_chain(signer), demo=False)
    finally:
        session.close()


def _signer_chain(signer: signers.Signer) -> list[asn1_x509.Certificate]:
    return _unique([signer.signing_cert, *signer.cert_registry])


def _chain_file_certs() -> list[asn1_x509.Certificate]:
    path = setting("SIGNING_SEAL_CHAIN_FILE")
    if not path:
        return []
    if not Path(path).exists():
        raise FileNotFoundError(f"Chaîne du cachet introuvable : {path} (SIGNING_SEAL_CHAIN_FILE).")
    return list(load_certs_from_pemder([path]))


def _unique(certs) -> list[asn1_x509.Certificate]:
    seen, result = set(), []
    for cert in certs:
        if cert is not None and cert.sha256 not in seen:
            seen.add(cert.sha256)
            result.append(cert)
    return result


def trust_roots() -> list[asn1_x509.Certificate]:
    """The anchors a seal is validated against: SIGNING_TRUST_ROOTS_FILE; for the demo seal,
    its own self-signed certificate; a configured certificate is never its own anchor."""
    path = setting("SIGNING_TRUST_ROOTS_FILE")
    if path:
        if not Path(path).exists():
            raise FileNotFoundError(
                f"Autorités de confiance introuvables : {path} (SIGNING_TRUST_ROOTS_FILE)."
            )
        return list(load_certs_from_pemder([path]))
    if seal_source() == "demo":
        return [load_cert_from_pemder(str(_ensure_files()[0]))]
    return []


def certificate_pem() -> bytes:
    """The seal's certificate, then its chain (PEM), for whoever wants to check a document."""
    if seal_source() == "demo":
        return _ensure_files()[0].read_bytes()

    def chain() -> bytes:
        with _seal_material() as material:
            return b"".join(_pem(cert) for cert in material.chain)

    return _in_own_thread(chain)


def _pem(cert: asn1_x509.Certificate) -> bytes:
    return x509.load_der_x509_certificate(cert.dump()).public_bytes(serialization.Encoding.PEM)


# -- Checking a sealed document --------------------------------------------------------------

COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: "tout le fichier",
    SignatureCoverageLevel.ENTIRE_REVISION: "tout le document tel que scellé, suivi d'ajouts",
    SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "une partie seulement du fichier",
    SignatureCoverageLevel.UNCLEAR: "indéterminée",
}
MODIFICATIONS = {
    ModificationLevel.NONE: "aucune",
    ModificationLevel.LTA_UPDATES: "données de validation et horodatages seulement "
    "(le contenu est inchangé)",
    ModificationLevel.FORM_FILLING: "remplissage de formulaire",
    ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "modifications du contenu",
}


@dataclass(frozen=True)
class SealCheck:
    """What a check of a sealed document found (the French texts are for people)."""

    sealed: bool  # carries a signature at all
    intact: bool  # the bytes it covers are unchanged
    trusted: bool  # its certificate chains up to a trust anchor and was valid when sealed
    whole_file: bool  # nothing but validation data was appended after it
    signer: str = ""  # the certificate's subject
    issuer: str = ""
    signed_at: dt.datetime | None = None  # the timestamp's time, else the time the server said
    timestamped: bool = False  # a trusted timestamp (PAdES B-T) gives the time
    long_term: bool = False  # validation data embedded (B-LT)
    demo: bool = False  # the self-signed demo seal
    coverage: str = ""
    modifications: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.sealed and self.intact and self.trusted and self.whole_file


def check_seal(content: bytes, *, at: dt.datetime | None = None) -> SealCheck:
    """Checks a document's seal against the trust anchors (pyHanko's validation), as of `at`
    (now by default): the timestamp is checked at that instant, the certificate at the
    timestamp's time with the revocation data embedded in the file."""
    roots = trust_roots()
    demo_cert = load_cert_from_pemder(str(_ensure_files()[0])) if seal_source() == "demo" else None
    return _in_own_thread(lambda: _check(content, roots, demo_cert, at))


def _check(content, roots, demo_cert, at) -> SealCheck:
    try:
        reader = PdfFileReader(io.BytesIO(content), strict=False)
        signatures = reader.embedded_signatures
    except (PdfReadError, ValueError):
        signatures = []
    if not signatures:
        return SealCheck(
            sealed=False, intact=False, trusted=False, whole_file=False,
            problems=["aucun cachet électronique dans ce fichier"],
        )  # fmt: skip
    signature = signatures[-1]
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        dss = None
    now = at or dt.datetime.now(dt.UTC)

    def context(moment, revocation_mode="soft-fail"):
        kwargs = {
            "trust_roots": roots,
            "allow_fetching": False,
            "moment": moment,
            "revocation_mode": revocation_mode,
        }
        return dss.as_validation_context(kwargs) if dss else ValidationContext(**kwargs)

    status = validate_pdf_signature(signature, context(now), ts_validation_context=context(now))
    stamp = status.timestamp_validity
    timestamped = bool(stamp and stamp.intact and stamp.valid and stamp.trusted)
    if timestamped:
        # The certificate as it was when the trusted timestamp was applied; with the embedded
        # data, its revocation status must be known then (hard-fail).
        status = validate_pdf_signature(
            signature,
            context(stamp.timestamp, "hard-fail" if dss else "soft-fail"),
            ts_validation_context=context(now),
        )
    cert = status.signing_cert
    intact = bool(status.intact and status.valid)
    trusted = bool(status.trusted) and not status.revoked
    whole_file = status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
        status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
        and status.modification_level == ModificationLevel.LTA_UPDATES
    )
    demo = demo_cert is not None and cert.sha256 == demo_cert.sha256
    problems = []
    if not intact:
        problems.append("le contenu a été modifié depuis l'apposition du cachet")
    if intact and not whole_file:
        problems.append("des modifications ont été ajoutées au fichier après le cachet")
    if not trusted:
        problems.append(_trust_problem(status, signature, roots))
    return SealCheck(
        sealed=True,
        intact=intact,
        trusted=trusted,
        whole_file=whole_file,
        signer=display_name(cert.subject),
        issuer=display_name(cert.issuer),
        signed_at=stamp.timestamp if timestamped else status.signer_reported_dt,
        timestamped=timestamped,
        long_term=dss is not None,
        demo=demo,
        coverage=COVERAGE.get(status.coverage, "indéterminée"),
        modifications=MODIFICATIONS.get(status.modification_level, "indéterminées")
        if status.modification_level is not None
        else "indéterminées",
        problems=problems,
    )


def display_name(name: asn1_x509.Name) -> str:
    """« Cachet serveur X (Organisation, FR) »: the common name, then who and where."""
    fields = name.native
    common = fields.get("common_name") or name.human_friendly
    others = [
        str(fields[key])
        for key in ("organizational_unit_name", "organization_name", "country_name")
        if fields.get(key)
    ]
    return f"{common} ({', '.join(others)})" if others else str(common)


def _trust_problem(status, signature, roots) -> str:
    cert = status.signing_cert
    if status.revoked:
        return "le certificat du cachet est révoqué"
    if not roots:
        return (
            "aucune autorité de confiance n'est configurée sur ce serveur "
            "(SIGNING_TRUST_ROOTS_FILE)"
        )
    if cert.self_issued:
        return (
            "scellé par une autre clé : le certificat auto-signé "
            f"« {display_name(cert.subject)} » n'est pas une autorité de confiance de ce serveur"
        )
    known = [*(c.chosen for c in signature.signed_data["certificates"]), *roots]
    if not any(c.subject == cert.issuer for c in known if isinstance(c, asn1_x509.Certificate)):
        return (
            "chaîne de certificats incomplète : le certificat de l'autorité "
            f"« {display_name(cert.issuer)} » qui a émis celui du cachet n'est pas joint"
        )
    moment = status.signer_reported_dt
    if moment and not cert.not_valid_before <= moment <= cert.not_valid_after:
        return "le certificat du cachet n'était pas valide à la date du cachet"
    return (
        f"le certificat « {display_name(cert.subject)} » ne remonte pas à une autorité de "
        "confiance de ce serveur"
    )


# -- The demo seal's certificate -------------------------------------------------------------


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
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SONS (démonstration)"),
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
