"""Pictures of the demo's pages for the documentation: the portal's home, a client's VA signing
page and the administrators' dashboard, taken by Debian's Chromium through Playwright (the
browser tests' own, never a downloaded one) from a server of the demo world.

Run after `seed_demo` (DEBUG=1), on the same database. Without `--url` the command starts its
own `runserver` on a free local port and stops it at the end. The demo users are signed in by a
session written on the server's database (the portal's collaborator, the demo administrator),
and the signing page is opened through a fresh personal link of a VA that waits for its client.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.core.management.base import BaseCommand, CommandError

from portal.demo import DEMO_STAFF, create_demo_vendor_users
from sons.demo_marks import DEMO_DISPOSITIF_PREFIX
from sons.models import VaStatus, VerificationAptitude

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 900}
ACTOR = "système:captures d'écran"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise CommandError(f"Le serveur ne répond pas : {url}")


def _session_of(user) -> str:
    """A signed-in session for `user`, second factor verified when it has one (as the tests'
    `sign_in` does): the pictures show the pages, not the sign-in."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.create()
    return session.session_key


def _signing_path() -> str | None:
    """The path of a fresh personal link to a VA waiting for its client (the living demo's
    first), or None when the demo has none."""
    from signing.services import send_va_link
    from signing.tasks import link_url

    waiting = VerificationAptitude.objects.filter(status=VaStatus.ISSUED).order_by(
        "-order__dispositif__code"
    )
    va = waiting.filter(order__dispositif__code__startswith=DEMO_DISPOSITIF_PREFIX).first()
    va = va or waiting.first()
    if va is None:
        return None
    link = send_va_link(va=va, actor=ACTOR, mail=False)
    return urlparse(link_url(link)).path


class Command(BaseCommand):
    help = (
        "Captures d'écran (PNG) du portail, d'une page de signature et du tableau de bord du "
        "monde de démonstration, par Chromium (Debian) et Playwright, dans docs/screenshots/."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default="", help="Serveur déjà démarré (sinon la commande lance le sien)."
        )
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "docs" / "screenshots"))
        parser.add_argument("--force", action="store_true", help="Même avec DEBUG désactivé.")

    def handle(self, *args, url: str, out: str, force: bool, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Captures du monde de démonstration refusées hors mode DEBUG.")
        if not Path(CHROMIUM).exists():
            raise CommandError(f"Chromium absent ({CHROMIUM}) : apt-get install chromium.")
        users = create_demo_vendor_users()
        admin = get_user_model().objects.filter(is_superuser=True, username="admin").first()
        if not users or admin is None:
            raise CommandError("Chargez d'abord le monde de démonstration : manage.py seed_demo.")
        staff = get_user_model().objects.get(username=DEMO_STAFF)
        pages = [("portail-accueil.png", "/portail/", _session_of(staff))]
        signing = _signing_path()
        if signing is not None:
            pages.append(("signature-va.png", signing, None))
        pages.append(("tableau-de-bord.png", "/admin/tableau-de-bord/", _session_of(admin)))
        target = Path(out)
        target.mkdir(parents=True, exist_ok=True)
        server = None
        if not url:
            port = _free_port()
            url = f"http://127.0.0.1:{port}"
            server = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                cwd=settings.BASE_DIR,
                env={**os.environ, "DEBUG": "1"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        try:
            _wait_for(url + "/portail/connexion/")
            written = self._shoot(url.rstrip("/"), pages, target)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
        for path in written:
            self.stdout.write(str(path))

    def _shoot(self, base: str, pages, target: Path) -> list[Path]:
        """In a thread of its own: Playwright's sync API refuses a thread whose event loop
        already runs (a caller's own browser session, as in the test suite)."""
        outcome: dict = {}

        def work():
            try:
                outcome["written"] = self._shoot_in_browser(base, pages, target)
            except BaseException as error:  # handed back to the caller's thread
                outcome["error"] = error

        thread = threading.Thread(target=work, name="screenshots")
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["written"]

    def _shoot_in_browser(self, base: str, pages, target: Path) -> list[Path]:
        from playwright.sync_api import sync_playwright

        host = urlparse(base).hostname
        written = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
            )
            try:
                for name, path, session in pages:
                    context = browser.new_context(viewport=VIEWPORT, locale="fr-FR")
                    if session:
                        context.add_cookies(
                            [
                                {
                                    "name": settings.SESSION_COOKIE_NAME,
                                    "value": session,
                                    "domain": host,
                                    "path": "/",
                                }
                            ]
                        )
                    page = context.new_page()
                    response = page.goto(base + path, wait_until="networkidle")
                    if response is None or response.status >= 400:
                        status = response.status if response else "?"
                        raise CommandError(f"{path} : réponse {status}")
                    if urlparse(page.url).path != path:  # e.g. sent to a sign-in page
                        raise CommandError(f"{path} : redirigé vers {page.url}")
                    destination = target / name
                    page.screenshot(path=str(destination), full_page=True)
                    written.append(destination)
                    context.close()
            finally:
                browser.close()
        return written
