"""What goes into a link and a mailed code: values signed or derived with the server's key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from django.conf import settings
from django.core import signing

# Separate salts: a value signed for one use is worthless for any other.
LINK_SALT = "signing.link"
CODE_SALT = b"signing.one-time-code"
CODE_DIGITS = 6


def _signer() -> signing.Signer:
    return signing.Signer(salt=LINK_SALT, sep=".")


def link_token(public_id: uuid.UUID) -> str:
    """The token in a link's URL: the link's random id and the server's signature of it."""
    return _signer().sign(public_id.hex)


def public_id_from_token(token: str) -> uuid.UUID | None:
    """The link id a token carries, or None when the token was not signed by this server."""
    try:
        return uuid.UUID(hex=_signer().unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def new_code_secret() -> str:
    return secrets.token_hex(32)


def code_from_secret(secret: str) -> str:
    """The six digits mailed to the client, derived from the stored secret and the server key."""
    key = hashlib.sha256(CODE_SALT + settings.SECRET_KEY.encode()).digest()
    digest = hmac.new(key, secret.encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def same_code(secret: str, typed: str) -> bool:
    typed = "".join(ch for ch in typed if not ch.isspace())
    return hmac.compare_digest(code_from_secret(secret), typed)
