"""A small, real OpenID Connect provider for the tests, served over HTTP on localhost.

It publishes a discovery document and its signing keys (JWKS), authorizes at once whoever it is
told is signing in (as Pro Santé Connect would after the CPS / e-CPS step), checks PKCE and the
client's credentials at the token endpoint, and signs real ID tokens (RS256) with a key
generated for the run. Our code talks to it exactly as it would to Pro Santé Connect.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "sons-signature"
CLIENT_SECRET = "secret-de-test"


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str
    challenge: str
    claims: dict


@dataclass
class Provider:
    """Who signs in next (`claims`), and knobs to make the provider misbehave on purpose."""

    claims: dict = field(default_factory=dict)
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    )
    # Sign ID tokens with this key instead (not the one published): a forged token.
    forging_key: RSAKey | None = None
    audience: str | None = None  # another audience than the client's
    nonce: str | None = None  # another nonce than the one asked for
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, dict] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def issuer(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience or grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce or grant.nonce,
            "acr": "eidas1",
            **{k: v for k, v in grant.claims.items() if k in ("sub", "SubjectNameID")},
        }
        key = self.forging_key or self.key
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def _handler(provider: Provider):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urlparse(self.path)
            provider.requests.append(url.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                return self._json(200, provider.discovery())
            if url.path == "/jwks":
                return self._json(200, {"keys": [provider.key.as_dict(private=False)]})
            if url.path == "/authorize":
                return self._authorize(query)
            if url.path == "/userinfo":
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                claims = provider.tokens.get(token)
                if claims is None:
                    return self._json(401, {"error": "invalid_token"})
                return self._json(200, claims)
            return self._json(404, {"error": "not_found"})

        def _authorize(self, query: dict) -> None:
            if (
                query.get("response_type") != "code"
                or query.get("client_id") != CLIENT_ID
                or query.get("code_challenge_method") != "S256"
                or "openid" not in query.get("scope", "").split()
            ):
                return self._json(400, {"error": "invalid_request"})
            code = secrets.token_urlsafe(16)
            provider.grants[code] = Grant(
                client_id=query["client_id"],
                redirect_uri=query["redirect_uri"],
                nonce=query.get("nonce", ""),
                challenge=query["code_challenge"],
                claims=dict(provider.claims),
            )
            target = (
                query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
            )
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()

        def do_POST(self):
            url = urlparse(self.path)
            provider.requests.append(url.path)
            if url.path != "/token":
                return self._json(404, {"error": "not_found"})
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            client_id, secret = form.get("client_id"), form.get("client_secret")
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
                return self._json(401, {"error": "invalid_client"})
            grant = provider.grants.pop(form.get("code", ""), None)
            if grant is None or grant.redirect_uri != form.get("redirect_uri"):
                return self._json(400, {"error": "invalid_grant"})
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if challenge != grant.challenge:
                return self._json(400, {"error": "invalid_grant", "error_description": "PKCE"})
            access = secrets.token_urlsafe(16)
            provider.tokens[access] = grant.claims
            return self._json(
                200,
                {
                    "access_token": access,
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": provider.id_token(grant),
                },
            )

    return Handler


def start(provider: Provider) -> Provider:
    provider.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    threading.Thread(target=provider.server.serve_forever, daemon=True).start()
    return provider


def stop(provider: Provider) -> None:
    provider.server.shutdown()
    provider.server.server_close()
