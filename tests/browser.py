"""Browser fixtures: Debian's Chromium driven by Playwright against Django's live server (one
browser per test module, shared by its browser tests, in tests/e2e and elsewhere).

No browser is downloaded: the executable is the system's (`CHROMIUM`, default /usr/bin/chromium),
which `make test` installs with the other system packages. Without it the browser tests fail
with the command that installs it: they are never skipped.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Playwright's sync API keeps an event loop in the test thread; Django's ORM guard would then
# refuse the test's own database calls although they are made synchronously, one at a time.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

TABLET = {"width": 768, "height": 1024}
PHONE = {"width": 375, "height": 740}
LAPTOP = {"width": 1280, "height": 800}


# One browser per test module, not per session: Playwright's sync API runs its event loop in
# the test thread while it is open, and Django's test client refuses to run an async view (the
# health checks') in a thread with a running loop: a test of another module after a browser
# test would fail for that alone.
@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"no Chromium at {CHROMIUM}: run `make system-packages` as root (or "
            "`apt-get install chromium`), or point CHROMIUM at Debian's chromium"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


def csp_violations(context) -> list[str]:
    """What Chromium's console reports against the Content-Security-Policy (core/csp.py) in
    every page of the context: an inline script or style, a resource from elsewhere."""
    violations: list[str] = []

    def heard(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{message.location.get('url', '')}: {message.text}")

    context.on("console", heard)
    return violations


@pytest.fixture
def phone_page(browser, live_server):
    """A page on a 375 px wide touch screen, in French, with downloads allowed; the test fails
    on any Content-Security-Policy violation the browser reports."""
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="fr-FR", accept_downloads=True
    )
    violations = csp_violations(context)
    page = context.new_page()
    yield page
    context.close()
    assert violations == [], "Content-Security-Policy violated"


@pytest.fixture
def laptop_page(browser, live_server):
    context = browser.new_context(viewport=LAPTOP, locale="fr-FR", accept_downloads=True)
    violations = csp_violations(context)
    page = context.new_page()
    yield page
    context.close()
    assert violations == [], "Content-Security-Policy violated"


def dsfr_ready(page):
    """On a page of the design system (Django's admin pages are not), waits until its script has
    set the page up (`data-fr-js` on the root and on the header's menu), then returns the page.
    Before that, for a few milliseconds, the header's menu still carries the accessible name its
    script moves away on a wide screen, and axe-core would judge markup no one is shown."""
    page.wait_for_function(
        "() => !document.querySelector('script[src*=\"/dsfr/\"]') || "
        "(document.documentElement.dataset.frJs === 'true' && "
        "[...document.querySelectorAll('.fr-header__menu.fr-modal')]"
        ".every(e => e.hasAttribute('data-fr-js-header-modal')))"
    )
    return page
