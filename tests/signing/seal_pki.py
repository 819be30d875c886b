"""A real test PKI for the seal, served over HTTP by certomancer's Animator in a thread.

Root CA → intermediate CA → the seal's leaf certificate; CRLs for both CAs, an OCSP responder
for the intermediate and an RFC 3161 timestamp authority, all at http://127.0.0.1:<port>/. The
leaf expires after LEAF_DAYS while the CAs and the timestamp authority live on, so a seal can be
checked at an instant after the leaf's expiry. `other` is an unrelated self-signed certificate.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from werkzeug.serving import WSGIRequestHandler, make_server

ARCH = "sons-test"
LEAF_DAYS = 30
KEY_NAMES = ("root", "interm", "leaf", "tsa", "ocsp")
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PKCS12_PASSWORD = "mot-de-passe-du-p12"
HSM_PIN = "4321"
HSM_TOKEN = "cachet-sons"
HSM_LABEL = "cachet"


def _when(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _config(url: str, now: dt.datetime) -> str:
    before = _when(now - dt.timedelta(days=2))
    leaf_end = _when(now + dt.timedelta(days=LEAF_DAYS))
    long_end = _when(now + dt.timedelta(days=3650))
    ca_end = _when(now + dt.timedelta(days=7300))
    keys = "\n".join(f"      {name}: {{path: {name}.key.pem}}" for name in KEY_NAMES)
    return f"""
external-url-prefix: "{url}"
keysets:
  sons:
    keys:
{keys}
pki-architectures:
  {ARCH}:
    keyset: sons
    entity-defaults:
      country-name: FR
      organization-name: Autorité de test SONS
    entities:
      root: {{common-name: Racine de test}}
      interm: {{common-name: Intermédiaire de test}}
      leaf: {{common-name: Cachet serveur SONS de test}}
      tsa: {{common-name: Horodatage de test}}
      ocsp: {{common-name: OCSP de test}}
    certs:
      root:
        subject: root
        issuer: root
        validity: {{valid-from: "{before}", valid-to: "{ca_end}"}}
        profiles:
          - id: simple-ca
            params: {{crl-repo: root}}
      interm:
        issuer: root
        validity: {{valid-from: "{before}", valid-to: "{ca_end}"}}
        profiles:
          - id: simple-ca
            params: {{max-path-len: 0, crl-repo: interm, ocsp-service: interm}}
      ocsp:
        issuer: interm
        validity: {{valid-from: "{before}", valid-to: "{long_end}"}}
        profiles: [ocsp-responder]
      leaf:
        issuer: interm
        validity: {{valid-from: "{before}", valid-to: "{leaf_end}"}}
        profiles: [digsig-commitment]
      tsa:
        issuer: root
        validity: {{valid-from: "{before}", valid-to: "{long_end}"}}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {{schema: key-usage, params: [digital_signature]}}
          - id: extended_key_usage
            critical: true
            value: [time_stamping]
    services:
      ocsp:
        interm: {{for-issuer: interm, responder-cert: ocsp, signing-key: ocsp}}
      crl-repo:
        root: {{for-issuer: root, signing-key: root, simulated-update-schedule: "P180D"}}
        interm: {{for-issuer: interm, signing-key: interm, simulated-update-schedule: "P30D"}}
      time-stamping:
        tsa: {{signing-key: tsa, signing-cert: tsa}}
"""


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class _Dispatch:
    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


def _pem(cert) -> bytes:
    return x509.load_der_x509_certificate(cert.dump()).public_bytes(serialization.Encoding.PEM)


@dataclass
class Pki:
    folder: Path
    url: str
    now: dt.datetime
    leaf_pem: bytes
    interm_pem: bytes
    root_pem: bytes
    leaf_key_pem: bytes
    leaf_expiry: dt.datetime
    server: object

    @property
    def tsa_url(self) -> str:
        return f"{self.url}/{ARCH}/tsa/tsa"

    def file(self, name: str, content: bytes) -> str:
        path = self.folder / name
        path.write_bytes(content)
        return str(path)

    def pkcs12(self, *, with_chain: bool = True) -> str:
        key = serialization.load_pem_private_key(self.leaf_key_pem, password=None)
        extra = [x509.load_pem_x509_certificate(p) for p in (self.interm_pem, self.root_pem)]
        data = pkcs12.serialize_key_and_certificates(
            b"cachet",
            key,
            x509.load_pem_x509_certificate(self.leaf_pem),
            extra if with_chain else None,
            serialization.BestAvailableEncryption(PKCS12_PASSWORD.encode()),
        )
        return self.file("cachet.p12", data)


def start(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    for name in KEY_NAMES:
        # The seal's key is RSA (most « cachet serveur » certificates are), the others ECDSA.
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if name == "leaf"
            else ec.generate_private_key(ec.SECP256R1())
        )
        (folder / f"{name}.key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    dispatch = _Dispatch()
    server = make_server("127.0.0.1", 0, dispatch, threaded=True, request_handler=_Quiet)
    url = f"http://127.0.0.1:{server.server_port}"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    config = CertomancerConfig.from_yaml(_config(url, now), key_search_dir=str(folder))
    arch = config.get_pki_arch(ArchLabel(ARCH))
    dispatch.app = Animator(AnimatorArchStore({ArchLabel(ARCH): arch}), with_web_ui=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    leaf = arch.get_cert(CertLabel("leaf"))
    return Pki(
        folder=folder,
        url=url,
        now=now,
        leaf_pem=_pem(leaf),
        interm_pem=_pem(arch.get_cert(CertLabel("interm"))),
        root_pem=_pem(arch.get_cert(CertLabel("root"))),
        leaf_key_pem=(folder / "leaf.key.pem").read_bytes(),
        leaf_expiry=leaf.not_valid_after,
        server=server,
    )


def stop(pki: Pki) -> None:
    pki.server.shutdown()
    pki.server.server_close()


def other_self_signed(folder: Path) -> tuple[str, str]:
    """Another key and its self-signed certificate: a seal nobody configured as trusted."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Cachet d'un autre serveur")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "autre-cert.pem", folder / "autre-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def softhsm_token(pki: Pki) -> Path:
    """A SoftHSM token holding the seal's key and its certificates (leaf, intermediate, root).

    Returns the SoftHSM configuration to point SOFTHSM2_CONF at. Fails, naming the Debian
    package, when SoftHSM is not installed: a missing token is never a silent skip.
    """
    util = shutil.which("softhsm2-util")
    if not util or not Path(SOFTHSM_MODULE).exists():
        pytest.fail(
            "SoftHSM est introuvable (softhsm2-util, libsofthsm2.so) : installer le paquet "
            "Debian softhsm2 (apt-get install softhsm2, listé dans system-packages.txt)."
        )
    tokens = pki.folder / "softhsm-tokens"
    tokens.mkdir(exist_ok=True)
    conf = pki.folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}

    def run(*args):
        subprocess.run([util, *args], env=env, check=True, capture_output=True)

    run("--init-token", "--free", "--label", HSM_TOKEN, "--so-pin", "0000", "--pin", HSM_PIN)
    key_file = pki.folder / "leaf.key.pem"
    run(
        "--import",
        str(key_file),
        "--token",
        HSM_TOKEN,
        "--label",
        HSM_LABEL,
        "--id",
        "01",
        "--pin",
        HSM_PIN,
    )
    return conf


def store_certificates_on_token(conf: Path, pki: Pki) -> None:
    """Writes the leaf (same label and id as the key) and its chain on the token."""
    import pkcs11
    from pkcs11 import Attribute, CertificateType, ObjectClass

    os.environ["SOFTHSM2_CONF"] = str(conf)
    lib = pkcs11.lib(SOFTHSM_MODULE)
    token = lib.get_token(token_label=HSM_TOKEN)
    with token.open(rw=True, user_pin=HSM_PIN) as session:
        for label, ident, pem in (
            (HSM_LABEL, b"\x01", pki.leaf_pem),
            ("intermediaire", b"\x02", pki.interm_pem),
            ("racine", b"\x03", pki.root_pem),
        ):
            der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.LABEL: label,
                    Attribute.SUBJECT: x509.load_pem_x509_certificate(pem).subject.public_bytes(),
                    Attribute.ID: ident,
                    Attribute.VALUE: der,
                }
            )
