"""The online signing settings (the block « Online signing » of sons/settings.py)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def setting(name: str):
    return getattr(settings, name)


def psc_configured() -> bool:
    """Pro Santé Connect replaces the mailed code once its issuer and client are set."""
    return bool(
        settings.SIGNING_PSC_DISCOVERY_URL
        and settings.SIGNING_PSC_CLIENT_ID
        and settings.SIGNING_PSC_CLIENT_SECRET
    )


def seal_source() -> str:
    """Where the seal's key lives: "pkcs11" (a token), "pkcs12", "pem" files, or "demo"."""
    if settings.SIGNING_SEAL_PKCS11_MODULE:
        return "pkcs11"
    if settings.SIGNING_SEAL_PKCS12_FILE:
        return "pkcs12"
    if settings.SIGNING_SEAL_CERT_FILE and settings.SIGNING_SEAL_KEY_FILE:
        return "pem"
    return "demo"


def seal_paths() -> tuple[Path, Path, bool]:
    """The seal's certificate and key files, and whether they are ours to generate."""
    cert, key = settings.SIGNING_SEAL_CERT_FILE, settings.SIGNING_SEAL_KEY_FILE
    if cert and key:
        return Path(cert), Path(key), False
    folder = Path(settings.MEDIA_ROOT) / "seal"
    return folder / "seal-cert.pem", folder / "seal-key.pem", True
