"""Server time of the pages and actions people use, on the demo world in the embedded mode.

Builds the demo world (`seed_demo`) on a fresh SQLite database in a temporary folder, as
`make run` does (DEBUG=1, no broker: tasks in-process, run after the response), starts
`runserver` on it, and walks in Debian's Chromium (Playwright, as tests/browser.py): the vendor
portal (home, orders, an order, recording a BDC's signature, issuing a VA, the claims), a
client's signing page (signing a VA with the code received by mail) and the administrators'
pages (dashboard, sorted by next deadline, the admin's order list, an order and its history).

Each page's `Server-Timing: app;dur=<ms>` (core/after_response.py) is read through the browser's
Performance API (its navigation entry); a form's redirect, which that API does not expose, is
read from the response's header as the browser received it. Prints a table and exits 1 when any
response took more than 500 ms of server time. `browser ms` (the navigation entry's duration,
redirect included) is what the person waited: reported, not judged.

    .venv/bin/python bench/pages.py        (also run by `make bench`)
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MS = 500.0
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1366, "height": 900}
CLIENT = "Dr Mesure"
CLIENT_RPPS = "10099000019"  # a valid key (Luhn)
CODE = re.compile(r"^\s+(?P<code>\d{6})\s*$", re.M)

# The embedded mode of `make run`, on a database and media folder of the run's own. What the
# other benchmarks set (PostgreSQL, Redis, DEBUG=0) is replaced. TASKS_AFTER_RESPONSE=0 shows the
# figures with the tasks run inside the request, as before.
WORK = Path(tempfile.mkdtemp(prefix="sons-bench-pages-"))
for name in (
    "DATABASE_URL",
    "CACHE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "CELERY_TASK_ALWAYS_EAGER",
):
    os.environ.pop(name, None)
os.environ.update(
    DEBUG="1",
    SECURE_SSL_REDIRECT="0",
    LOG_LEVEL="WARNING",
    DATABASE_URL=f"sqlite:///{WORK / 'db.sqlite3'}",
    MEDIA_ROOT=str(WORK / "media"),
    EMAIL_URL=f"filemail:///{WORK / 'mail'}",  # an absolute path: four slashes
    DJANGO_SETTINGS_MODULE="sons.settings",
)
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from portal.actions import order_actions  # noqa: E402
from portal.demo import create_demo_vendor_users  # noqa: E402
from portal.management.commands.screenshots import _session_of, _signing_path  # noqa: E402
from sons.demo_marks import DEMO_DISPOSITIF_PREFIX  # noqa: E402
from sons.models import PurchaseOrder  # noqa: E402


@dataclass
class Timing:
    step: str
    request: str
    server_ms: float
    browser_ms: float | None
    source: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server does not answer: {url}")


def _order_with(action: str, vendor, user) -> PurchaseOrder:
    """An order of the demo vendor on which `action` is possible now (the living demo's first)."""
    now = timezone.now()
    orders = PurchaseOrder.objects.filter(vendor=vendor).order_by("-dispositif__code", "pk")
    living = orders.filter(dispositif__code__startswith=DEMO_DISPOSITIF_PREFIX)
    for order in list(living) + list(orders.exclude(pk__in=living)):
        if any(a.key == action and a.enabled for a in order_actions(order, user=user, at=now)):
            return order
    raise SystemExit(f"no order of the demo vendor allows « {action} »: seed_demo changed?")


def _latest_code(after: int) -> str:
    """The code of the first mail written after the `after` first ones: the mail task runs
    after the response, so it may still be on its way."""
    for _ in range(120):
        messages = sorted((WORK / "mail").glob("*.log"), key=lambda p: p.stat().st_mtime)
        for message in messages[after:]:
            if found := CODE.search(message.read_text(errors="replace")):
                return found["code"]
        time.sleep(0.25)
    raise SystemExit("no signing code in the mails")


def _mails() -> int:
    return len(list((WORK / "mail").glob("*.log")))


def build_world() -> dict:
    call_command("migrate", verbosity=0)
    call_command("load_dispositifs", verbosity=0)
    call_command("seed_demo", verbosity=0)
    users = create_demo_vendor_users()
    admin = get_user_model().objects.get(username="admin", is_superuser=True)
    vendor, vendor_admin = users["vendor"], users["admin"]
    to_accept = _order_with("issue_va", vendor, vendor_admin)
    # The new BDC goes on the living demo's dispositif, with the solution its orders use.
    living = PurchaseOrder.objects.filter(
        vendor=vendor, dispositif__code__startswith=DEMO_DISPOSITIF_PREFIX
    ).first()
    if living is None:
        raise SystemExit("no order of the demo vendor on the living demo: seed_demo changed?")
    return {
        "vendor_session": _session_of(vendor_admin),
        "admin_session": _session_of(admin),
        "dispositif": living.dispositif.code,
        "solution_version": str(living.solution_version_id),
        "to_accept": to_accept,
        "signing_path": _signing_path(),
    }


class Walk:
    def __init__(self, base: str, page):
        self.base = base
        self.page = page
        self.timings: list[Timing] = []
        self.redirects: list[tuple[str, float]] = []
        page.on("response", self._heard)

    def _heard(self, response) -> None:
        # The Performance API shows the page a redirect leads to, not the redirect itself.
        if response.request.resource_type == "document" and 300 <= response.status < 400:
            header = response.header_value("server-timing") or ""
            if found := re.search(r"app;dur=([\d.]+)", header):
                path = urlparse(response.url).path
                self.redirects.append((f"{response.request.method} {path}", float(found[1])))

    def _navigation(self, step: str) -> None:
        entry = self.page.evaluate(
            """() => {
                const e = performance.getEntriesByType("navigation")[0];
                const app = e.serverTiming.find((t) => t.name === "app");
                return {url: e.name, duration: e.duration, type: e.type,
                        app: app ? app.duration : null};
            }"""
        )
        if entry["app"] is None:
            raise SystemExit(f"{step}: no Server-Timing on {entry['url']}")
        for request, server_ms in self.redirects:
            self.timings.append(Timing(step, request, server_ms, None, "header (redirect)"))
        self.redirects.clear()
        path = urlparse(entry["url"]).path
        query = urlparse(entry["url"]).query
        self.timings.append(
            Timing(
                step,
                f"GET {path}{'?' + query if query else ''}",
                entry["app"],
                entry["duration"],
                "Performance API",
            )
        )

    def navigated(self, step: str) -> None:
        self._navigation(step)

    def visit(self, step: str, path: str) -> None:
        response = self.page.goto(self.base + path)
        if response is None or response.status >= 400:
            raise SystemExit(f"{step}: {path} answered {response.status if response else '?'}")
        self._navigation(step)

    def submit(self, step: str, click, expected: str) -> None:
        """Submits a form by `click()`, then waits for the page it leads to (`expected`)."""
        with self.page.expect_navigation():
            click()
        self.page.get_by_text(expected).first.wait_for()
        self._navigation(step)


def walk(base: str, world: dict) -> list[Timing]:
    from playwright.sync_api import sync_playwright

    host = urlparse(base).hostname
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        timings: list[Timing] = []
        try:

            def context_for(session: str | None):
                context = browser.new_context(viewport=VIEWPORT, locale="fr-FR")
                if session:
                    cookie = {"name": settings.SESSION_COOKIE_NAME, "value": session}
                    context.add_cookies([{**cookie, "domain": host, "path": "/"}])
                return context

            # The vendor portal.
            context = context_for(world["vendor_session"])
            w = Walk(base, context.new_page())
            page = w.page
            w.visit("portail : accueil", "/portail/")
            w.visit("portail : BDC", "/portail/bdc/")
            # One client, then one BDC for it, created and signed through the portal's forms.
            w.visit("portail : nouveau client", "/portail/clients/nouveau/")
            page.get_by_label("Nature du client").select_option("medecin_liberal")
            page.get_by_label("Nom ou raison sociale").fill(CLIENT)
            page.get_by_label("RPPS").fill(CLIENT_RPPS)
            page.get_by_label("Courriel du signataire").fill("dr.mesure@example.invalid")
            page.get_by_label("Adresse MSSanté").fill("dr.mesure@medecin.mssante.fr")
            w.submit(
                "portail : créer un client",
                lambda: page.get_by_role("button", name="Enregistrer le client").click(),
                f"Client enregistré : {CLIENT}.",
            )
            with page.expect_navigation():
                page.get_by_role("link", name=f"Nouveau BDC pour {CLIENT}").click()
            w.navigated("portail : nouveau BDC")
            page.get_by_label("Dispositif").select_option(world["dispositif"])
            page.get_by_label("Solution et version").select_option(world["solution_version"])
            page.get_by_label("Scénario d'installation").fill("Poste du cabinet")
            w.submit(
                "portail : créer un BDC",
                lambda: page.get_by_role("button", name="Créer le BDC en brouillon").click(),
                f"– {CLIENT}",
            )
            new_order = urlparse(page.url).path
            page.locator("summary", has_text="Enregistrer la signature").click()
            page.get_by_label("Signataire (client)").fill(CLIENT)
            page.get_by_label("Qualité du signataire").fill("Médecin")
            page.get_by_label("Mode de signature").select_option("handwritten")
            now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
            page.get_by_label("Signé le").fill(now)
            w.submit(
                "portail : signer un BDC",
                lambda: page.get_by_role("button", name="Enregistrer la signature").click(),
                "BDC enregistré : signé",
            )
            w.visit("portail : un BDC", new_order)
            order = world["to_accept"]
            w.visit("portail : BDC à réceptionner", f"/portail/bdc/{order.pk}/")
            page.locator("summary", has_text="Émettre la VA").click()
            page.get_by_label("Prestation réalisée").fill("Mise à jour installée et paramétrée.")
            w.submit(
                "portail : émettre la VA",
                lambda: page.get_by_role("button", name="Émettre la VA").click(),
                "VA émise",
            )
            w.visit("portail : demandes", "/portail/demandes/")
            timings += w.timings
            context.close()

            # A client signs a VA through its personal link.
            if world["signing_path"]:
                context = context_for(None)
                w = Walk(base, context.new_page())
                page = w.page
                w.visit("signature : lien", world["signing_path"])
                before = _mails()
                w.submit(
                    "signature : code demandé",
                    lambda: page.get_by_role("button", name="Recevoir un code").click(),
                    "Un code vient d'être envoyé",
                )
                page.get_by_label("Code reçu par courriel").fill(_latest_code(before))
                w.submit(
                    "signature : code validé",
                    lambda: page.get_by_role("button", name="Valider le code").click(),
                    "Signer la VA",
                )
                for box in page.locator("form input[type=checkbox]").all():
                    if box.get_attribute("required") is not None or box.is_visible():
                        page.locator(f"label[for={box.get_attribute('id')}]").click()
                w.submit(
                    "signature : signer la VA",
                    lambda: page.get_by_role("button", name="Signer la VA").click(),
                    "La VA est signée",
                )
                timings += w.timings
                context.close()

            # The administrators.
            context = context_for(world["admin_session"])
            w = Walk(base, context.new_page())
            signed = new_order.rstrip("/").rsplit("/", 1)[-1]
            w.visit("admin : accueil", "/admin/")
            w.visit("admin : tableau de bord", "/admin/tableau-de-bord/")
            w.visit("admin : BDC", "/admin/sons/purchaseorder/")
            w.visit("admin : un BDC", f"/admin/sons/purchaseorder/{signed}/change/")
            w.visit("admin : historique", f"/admin/sons/purchaseorder/{signed}/history/")
            timings += w.timings
            context.close()
        finally:
            browser.close()
    return timings


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")  # the benchmark's output is its report


def main() -> int:
    if not Path(CHROMIUM).exists():
        sys.stderr.write(f"no Chromium at {CHROMIUM}: apt-get install chromium\n")
        return 1
    started = time.monotonic()
    world = build_world()
    say(f"demo world built in {time.monotonic() - started:.0f} s ({WORK})")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (WORK / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(base + "/health/live/")
        timings = walk(base, world)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    load = os.getloadavg()
    say(f"\nServer time per response (limit {LIMIT_MS:.0f} ms), load average {load[0]:.2f}")
    say(f"{'step':<30} {'request':<52} {'server ms':>9} {'browser ms':>10}  source")
    over = []
    for t in timings:
        mark = " <-- over" if t.server_ms > LIMIT_MS else ""
        waited = f"{t.browser_ms:.0f}" if t.browser_ms is not None else "-"
        say(f"{t.step:<30} {t.request[:52]:<52} {t.server_ms:>9.1f} {waited:>10}  {t.source}{mark}")
        if mark:
            over.append(t)
    worst = max(timings, key=lambda t: t.server_ms)
    say(f"\nslowest: {worst.request} {worst.server_ms:.0f} ms ({len(timings)} responses)")
    if over:
        say(f"FAILED: {len(over)} response(s) over {LIMIT_MS:.0f} ms of server time")
        return 1
    shutil.rmtree(WORK, ignore_errors=True)
    say("met: every response under the limit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
