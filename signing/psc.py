"""Pro Santé Connect: the professional signs in with OpenID Connect (authorization code + PKCE).

Authlib's requests client drives the exchange; the ID token is checked with joserfc (the JOSE
library Authlib itself now points to): signature against the provider's published keys, issuer,
audience, expiry and the nonce of this login. Nothing is written: the proven identity goes into
the person's session, and onto the signature when they sign.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from core.errors import RuleViolation
from core.identifiers import normalize_rpps

from .conf import setting

logger = logging.getLogger(__name__)

# Pro Santé Connect names the professional by their national id: "8" + RPPS for most.
NATIONAL_ID_CLAIMS = ("SubjectNameID", "preferred_username")
LEEWAY_SECONDS = 60  # clock drift tolerated on the ID token's instants
TIMEOUT_SECONDS = 10  # per call to the provider


@dataclass(frozen=True)
class Login:
    """One login attempt: what the callback must find again in the session."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class ProIdentity:
    subject: str
    national_id: str
    rpps: str
    name: str
    email: str


def _failure(detail: str) -> RuleViolation:
    logger.warning("psc_login_failed detail=%s", detail)
    return RuleViolation(
        "psc_failed",
        _(
            "La connexion avec Pro Santé Connect n'a pas abouti. Réessayez ; si le problème "
            "persiste, contactez votre fournisseur."
        ),
        field="identity",
    )


def _get_json(url: str) -> dict:
    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as exc:
        raise _failure(f"{url}: {exc}") from exc


def _provider() -> dict:
    return _get_json(setting("SIGNING_PSC_DISCOVERY_URL"))


def _session(redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(
        client_id=setting("SIGNING_PSC_CLIENT_ID"),
        client_secret=setting("SIGNING_PSC_CLIENT_SECRET"),
        scope=setting("SIGNING_PSC_SCOPES"),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def start_login(*, redirect_uri: str) -> Login:
    """Where to send the browser to sign in, and the secrets the callback will check."""
    provider = _provider()
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    extra = {"nonce": nonce}
    if setting("SIGNING_PSC_ACR_VALUES"):
        extra["acr_values"] = setting("SIGNING_PSC_ACR_VALUES")
    with _session(redirect_uri) as session:
        url, _state = session.create_authorization_url(
            provider["authorization_endpoint"], state=state, code_verifier=verifier, **extra
        )
    return Login(url=url, state=state, nonce=nonce, code_verifier=verifier)


def finish_login(*, redirect_uri: str, code: str, nonce: str, code_verifier: str) -> ProIdentity:
    """Exchanges the code for tokens, checks the ID token and returns who signed in."""
    provider = _provider()
    with _session(redirect_uri) as session:
        try:
            token = session.fetch_token(
                provider["token_endpoint"],
                code=code,
                code_verifier=code_verifier,
                timeout=TIMEOUT_SECONDS,
            )
        except Exception as exc:  # Authlib raises its own OAuth errors and requests' ones
            raise _failure(f"token endpoint: {exc}") from exc
    id_token = token.get("id_token")
    if not id_token:
        raise _failure("no id_token")
    claims = _checked_claims(id_token, provider=provider, nonce=nonce)
    userinfo = {}
    if provider.get("userinfo_endpoint") and token.get("access_token"):
        userinfo = _userinfo(provider["userinfo_endpoint"], token["access_token"])
        if userinfo.get("sub") not in (None, claims["sub"]):
            raise _failure("userinfo for another subject")
    merged = {**claims, **userinfo}
    national_id = next((str(merged[c]) for c in NATIONAL_ID_CLAIMS if merged.get(c)), "")
    name = " ".join(
        part for part in (merged.get("given_name"), merged.get("family_name")) if part
    ).strip()
    return ProIdentity(
        subject=str(claims["sub"]),
        national_id=national_id,
        rpps=_rpps(national_id),
        name=name or str(merged.get("name", "")),
        email=str(merged.get("email", "")),
    )


def _checked_claims(id_token: str, *, provider: dict, nonce: str) -> dict:
    keys = KeySet.import_key_set(_get_json(provider["jwks_uri"]))
    try:
        decoded = jwt.decode(id_token, keys)
        jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": provider["issuer"]},
            aud={"essential": True, "value": setting("SIGNING_PSC_CLIENT_ID")},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise _failure(f"id_token: {exc}") from exc
    if decoded.header.get("alg") in (None, "none"):
        raise _failure("unsigned id_token")
    return decoded.claims


def _userinfo(url: str, access_token: str) -> dict:
    try:
        response = requests.get(
            url,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as exc:
        raise _failure(f"userinfo: {exc}") from exc


def _rpps(national_id: str) -> str:
    """The RPPS inside a national id ("8" + RPPS), or "" for ids of another kind (ADELI...)."""
    if not national_id.startswith("8"):
        return ""
    try:
        return normalize_rpps(national_id)
    except ValidationError:
        return ""
