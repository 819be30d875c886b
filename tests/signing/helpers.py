"""Online signing test data, built through the services like the rest of the suite."""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from urllib.parse import parse_qs, urlparse

import requests
from django.core import mail
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader

from signing.conf import seal_paths
from sons.services import acceptance
from tests.sons.factories import lgc_dispositif, referenced, signed_order, valid_rpps

PSC_RPPS = valid_rpps(777001)  # the professional the test provider signs in
SUMMARY = "Mise à jour 5.2 installée et paramétrée ; deux utilisatrices formées (1 h)."
LINK = re.compile(r"https?://\S+/signature/(?P<token>[^/\s]+)/")
CODE = re.compile(r"^\s+(?P<code>\d{6})\s*$", re.M)


def order_for(user, **kwargs):
    ref = referenced(dispositif=lgc_dispositif(), actor=user)
    return signed_order(referencing=ref, actor=user, **kwargs)


def issue(order, user, capture):
    """A VA issued on `order`; what follows the commit runs (its PDF, the client's link mail)."""
    va = acceptance.create_va(order=order, delivered_summary=SUMMARY, actor=user)
    with capture(execute=True):
        acceptance.issue_va(va=va, actor=user)
    va.refresh_from_db()
    return va


def mails_to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]


def token_in(message) -> str:
    return LINK.search(message.body)["token"]


def code_in(message) -> str:
    return CODE.search(message.body)["code"]


def last_code_for(address: str) -> str:
    codes = [m for m in mails_to(address) if "code" in m.subject.lower()]
    return code_in(codes[-1])


def identify(client, token: str, address: str, capture) -> None:
    """Asks for a code on the link's page (mailed after commit) and types the one received."""
    with capture(execute=True):
        response = client.post(f"/signature/{token}/", {"action": "send"})
    assert response.status_code == 302, response.content.decode()[:500]
    response = client.post(
        f"/signature/{token}/", {"action": "verify", "code": last_code_for(address)}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == f"/signature/{token}/document/"


def text_of(content: bytes, page: int | None = None) -> str:
    pages = PdfReader(io.BytesIO(content)).pages
    chosen = pages if page is None else [pages[page]]
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in chosen))


def seal_status(content: bytes, *, trusting=None):
    """pyHanko's verdict on the seal, trusting the server's certificate (or `trusting`).

    Run in a thread of its own: pyHanko starts an event loop, which the test thread may already
    run once a browser test (Playwright) has started.
    """
    cert = trusting or load_cert_from_pemder(str(seal_paths()[0]))

    def validate():
        reader = PdfFileReader(io.BytesIO(content))
        (signature,) = reader.embedded_signatures
        return validate_pdf_signature(signature, ValidationContext(trust_roots=[cert]))

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(validate).result()


def html(response) -> str:
    """The page's text as read: entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", unescape(response.content.decode()))


def psc_sign_in(client, token: str):
    """The browser's way through Pro Santé Connect: to the provider, back to our callback."""
    start = client.get(f"/signature/{token}/pro-sante-connect/")
    assert start.status_code == 302
    at_provider = requests.get(start["Location"], allow_redirects=False, timeout=5)
    assert at_provider.status_code == 302, at_provider.text
    back = urlparse(at_provider.headers["Location"])
    assert back.path == "/signature/pro-sante-connect/retour/"
    return client.get(back.path, {k: v[0] for k, v in parse_qs(back.query).items()})
