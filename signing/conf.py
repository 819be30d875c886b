"""The online signing settings, each with its default (see the block in sons/settings.py)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

DEFAULTS = {
    "SIGNING_LINK_MAX_AGE": 14 * 24 * 3600,
    "SIGNING_BASE_URL": "http://127.0.0.1:8000",
    "SIGNING_CODE_MAX_AGE": 10 * 60,
    "SIGNING_CODE_MAX_ATTEMPTS": 5,
    "SIGNING_LOCKOUT_SECONDS": 30 * 60,
    "SIGNING_CODE_RESEND_SECONDS": 60,
    "SIGNING_CODE_MAX_SENDS": 10,
    "SIGNING_SESSION_MAX_AGE": 30 * 60,
    "SIGNING_PSC_DISCOVERY_URL": "",
    "SIGNING_PSC_CLIENT_ID": "",
    "SIGNING_PSC_CLIENT_SECRET": "",
    "SIGNING_PSC_SCOPES": "openid scope_all",
    "SIGNING_PSC_ACR_VALUES": "eidas1",
    "SIGNING_PSC_TIMEOUT": 10,
    "SIGNING_SEAL_CERT_FILE": "",
    "SIGNING_SEAL_KEY_FILE": "",
    "SIGNING_SEAL_KEY_PASSPHRASE": "",
}


def setting(name: str):
    return getattr(settings, name, DEFAULTS[name])


def psc_configured() -> bool:
    """Pro Santé Connect replaces the mailed code once its issuer and client are set."""
    return bool(
        setting("SIGNING_PSC_DISCOVERY_URL")
        and setting("SIGNING_PSC_CLIENT_ID")
        and setting("SIGNING_PSC_CLIENT_SECRET")
    )


def seal_paths() -> tuple[Path, Path, bool]:
    """The seal's certificate and key files, and whether they are ours to generate."""
    cert, key = setting("SIGNING_SEAL_CERT_FILE"), setting("SIGNING_SEAL_KEY_FILE")
    if cert and key:
        return Path(cert), Path(key), False
    folder = Path(settings.MEDIA_ROOT) / "seal"
    return folder / "seal-cert.pem", folder / "seal-key.pem", True
