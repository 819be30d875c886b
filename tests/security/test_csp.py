"""A Content-Security-Policy header on every HTML page (core/csp.py), strict enough that the
pages must carry no inline script nor style; the browser tests (tests/e2e, the dashboard's)
fail on any violation the console reports (tests/browser.py)."""

from __future__ import annotations

import re

import pytest

from core.csp import DEFAULT_POLICY

pytestmark = pytest.mark.django_db

PAGES = [
    "/portail/connexion/",
    "/admin/login/",
    "/referencements/",
    "/signature/lien-inconnu/",
    "/api/v1/docs/",
    "/portail/mot-de-passe/oublie/",
]
STAFF_PAGES = ["/admin/", "/admin/tableau-de-bord/", "/admin/core/journalentry/"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


def check(response):
    assert response["Content-Type"].startswith("text/html")
    assert response["Content-Security-Policy"] == DEFAULT_POLICY
    html = response.content.decode()
    scripts = [s for s in INLINE_SCRIPT.findall(html) if "application/json" not in s]
    assert scripts == [], scripts  # json_script data blocks are not run
    assert not STYLE_ATTRIBUTE.search(html)
    assert "<style" not in html


def test_the_policy_is_strict():
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in DEFAULT_POLICY
    assert "unsafe-inline" not in DEFAULT_POLICY and "unsafe-eval" not in DEFAULT_POLICY


@pytest.mark.parametrize("path", PAGES)
def test_every_html_page_carries_the_policy(client, path):
    response = client.get(path, follow=True)
    assert response.status_code in (200, 400, 404), path
    check(response)


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_the_administrations_pages_carry_it_too(client, admin_user, path):
    client.force_login(admin_user)
    response = client.get(path)
    assert response.status_code == 200
    check(response)


def test_json_answers_are_left_alone(client):
    response = client.get("/api/v1/me/")
    assert response["Content-Type"].startswith("application/")
    assert "Content-Security-Policy" not in response


def test_the_header_can_be_turned_off_or_replaced(client, settings):
    settings.CONTENT_SECURITY_POLICY = ""
    assert "Content-Security-Policy" not in client.get("/portail/connexion/")
    settings.CONTENT_SECURITY_POLICY = "default-src 'none'"
    assert client.get("/portail/connexion/")["Content-Security-Policy"] == "default-src 'none'"
