"""A GET writes nothing: every page of every door (portal, signing links, API, dashboard, admin)
is opened on the demo world and every SQL statement it issues is read.

Issue 13: « A GET of any portal or API page issues no INSERT, UPDATE, DELETE or SELECT … FOR
UPDATE on the domain's tables (the API's call log, sessions and caches aside) and takes no lock
on the journal. »

How the pages are found: the URL conf is walked (`get_resolver()`), each pattern is one test
(`PAGES`). A pattern with path parameters is filled with the ids of real objects of the right
kind (`plan()`: every order of the demo vendor, every VA, claim, filing, each admin model's
rows…); a pattern no rule fills fails its test, so a new page cannot escape. Each page is opened
as the person it is for (`who_for`): the demo vendor's administrator (TOTP verified) on the
portal, a client identified on real signing links, a real API token of a demo vendor on the API
(an ANS administrator's token on `admin/…`), the demo superuser on the dashboard and the admin.
Each GET must answer 200, or the status written for it (`EXPECTED`, 405 for a view that only
takes POST, read from its decorators or its DRF action map), so that the page really ran.

What is caught (`violations`, `open_page`): an INSERT, UPDATE, DELETE or schema change on any
table but those listed below with their reason; a row lock (`FOR UPDATE`, `FOR NO KEY UPDATE`,
`FOR SHARE`); any statement on the journal's head (the lock that serialises every writer) or a
write of the journal; and every call of `select_for_update()`, named by the project's line that
made it (SQLite, the tests' database, drops the FOR UPDATE clause from the SQL).

The world: `manage.py load_dispositifs`, `manage.py seed_demo`, the demo vendor's users
(`portal.demo`) and signing link (`signing.demo`), completed through the real doors with what
the demo leaves out (a claim paid through a filing and the agency's feedback, a solde with its
invoice, an import, an API bulk job, a webhook, a signed and a BDC signing link…) and, for the
admin's pages only, a few rows no door makes from here (a recovery, a reminder, a dead letter, a
group, the beat's schedules). It is built once for the module with real commits (the demo renders
its PDFs after commit) and flushed after it; each page is opened inside a transaction rolled
back after its test, so a page that writes cannot spoil the next one.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import traceback
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connections, transaction
from django.db.models.query import QuerySet
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core.models import JournalEntry, JournalHead

pytestmark = pytest.mark.django_db

# --- What a GET may write, and why ------------------------------------------------------------

# Tables a GET may write to, whatever the statement.
ALLOWED_TABLES = {
    "django_session": "the session: a page may remember a step (signing identity, messages)",
    "api_apicall": "the API's call log: one row per request made with a token, by design",
}
# Tables a GET may UPDATE, these columns only.
ALLOWED_UPDATES = {
    "api_apitoken": (
        {"last_used_at"},
        "a token's last use, written at most once a minute (api/auth.py), like last_login",
    ),
    "auth_user": ({"last_login"}, "Django's last_login, written when someone signs in"),
}
# Not allowed, as no GET needs them: the sign-in throttles (portal.LoginFailure, SignInThrottle)
# are written by the sign-in POSTs only.


def _cache_tables() -> dict[str, str]:
    """The database cache's tables, if a database cache is configured."""
    return {
        conf["LOCATION"]: "a cache table"
        for conf in django_settings.CACHES.values()
        if conf.get("BACKEND", "").endswith("DatabaseCache")
    }


JOURNAL_HEAD = JournalHead._meta.db_table
JOURNAL_ENTRIES = JournalEntry._meta.db_table

WRITE = re.compile(
    r"""^\s*(?:
        (?P<insert>INSERT(?:\s+OR\s+\w+)?\s+INTO) | (?P<update>UPDATE) | (?P<delete>DELETE\s+FROM)
        | (?P<replace>REPLACE\s+INTO)
    )\s+(?P<table>"[^"]+"|`[^`]+`|[\w.]+)""",
    re.I | re.X,
)
DDL = re.compile(r"^\s*(CREATE|DROP|ALTER|TRUNCATE)\b", re.I)
LOCKING = re.compile(r"\bFOR\s+(NO\s+KEY\s+UPDATE|UPDATE|SHARE|KEY\s+SHARE)\b", re.I)
SET_COLUMNS = re.compile(r"\bSET\s+(?P<sets>.*?)(?:\s+WHERE\b|$)", re.I | re.S)


def violations(sql: str) -> list[str]:
    """What is wrong with one statement a GET issued (empty: nothing)."""
    problems = []
    if LOCKING.search(sql):
        problems.append("takes a row lock (SELECT … FOR UPDATE/SHARE)")
    if re.search(rf'\b"?{JOURNAL_HEAD}"?\b', sql):
        problems.append("touches the journal's head (the lock that serialises every writer)")
    if DDL.match(sql):
        problems.append("changes the schema")
    match = WRITE.match(sql)
    if match:
        table = match["table"].strip('"`')
        verb = next(k for k in ("insert", "update", "delete", "replace") if match[k])
        if table == JOURNAL_ENTRIES:
            problems.append("writes the journal")
        elif table in ALLOWED_TABLES or table in _cache_tables():
            pass
        elif verb == "update" and table in ALLOWED_UPDATES:
            sets = SET_COLUMNS.search(sql)
            columns = {
                c.split("=")[0].strip().strip('"`').split(".")[-1]
                for c in re.split(r",\s*(?=[\"`\w]+\s*=)", sets["sets"] if sets else "")
            }
            if not columns <= ALLOWED_UPDATES[table][0]:
                problems.append(f"{verb.upper()} of {table} ({', '.join(sorted(columns))})")
        else:
            problems.append(f"{verb.upper()} on {table}")
    return problems


# --- The world ----------------------------------------------------------------------------------


@dataclass
class World:
    vendor: Any
    vendor_admin: Any
    vendor_staff: Any
    superuser: Any
    api_secret: str
    api_admin_secret: str
    api_other_secret: str
    media: Any
    links: dict = field(default_factory=dict)  # "va", "bdc", "decided": the link's token
    signer_session: str = ""  # the session key of a person identified on every link


def _build_world(media) -> World:
    from api.tokens import issue_token
    from portal.demo import create_demo_vendor_users
    from signing.demo import demo_links

    call_command("load_dispositifs", verbosity=0)
    call_command("seed_demo", force=True, stdout=io.StringIO())
    users = create_demo_vendor_users()
    superuser = get_user_model().objects.get(username="admin")
    world = World(
        vendor=users["vendor"],
        vendor_admin=users["admin"],
        vendor_staff=users["staff"],
        superuser=superuser,
        api_secret=issue_token(user=users["admin"], name="CRM démo").secret,
        api_admin_secret=issue_token(user=superuser, name="Outil ANS").secret,
        api_other_secret=issue_token(user=_member_of_mom_vendor(), name="CRM").secret,
        media=media,
    )
    demo_links()
    _payments(world)
    _signing_links(world)
    _the_rest(world)
    # The scheduler's routines have run, as on any live server: the health page reads them.
    # The sweep's run is recorded, not made: at today's instant it would end the demo's 2023
    # orders (recoveries), and with them the links this world opens.
    from core.models import RoutineRun

    RoutineRun.record(RoutineRun.SWEEP, succeeded=True, detail="monde de test")
    call_command("verify_journal", stdout=io.StringIO())
    return world


def _member_of_mom_vendor():
    """A member of the demo vendor whose order carries the demo's MOM (MSSanté)."""
    from catalogue.models import VendorMember
    from sons.models import MomDeclaration

    vendor = MomDeclaration.objects.select_related("order__vendor").get().order.vendor
    user = get_user_model().objects.create_user("membre@demo-sante.invalid", password=None)
    VendorMember.objects.create(user=user, vendor=vendor, role=VendorMember.Role.ADMIN)
    return user


def _api_client(secret):
    from tests.api.conftest import Api

    return Api(secret)


def _ok(response, *statuses):
    assert response.status_code in (statuses or (200, 201)), (
        response.status_code,
        response.content[:2000],
    )
    return response.json()


def _payments(world: World) -> None:
    """The demo's claimable order (LGC vague 2, accepted lately) through the API: its avance
    filed, transmitted and paid by the agency's feedback; its solde opened with its invoice."""
    from sons.models import PurchaseOrder
    from tests.payments.factories import invoice_pdf

    api = _api_client(world.api_secret)
    order = PurchaseOrder.objects.get(vendor=world.vendor, client__legal_name="Dr Démo Karim")
    avance = _ok(api.post(f"/api/v1/orders/{order.pk}/claims/", {"kind": "avance"}))
    _ok(api.post(f"/api/v1/claims/{avance['id']}/make-ready/"))
    built = _ok(
        api.post("/api/v1/filings/", {"dispositif": order.dispositif.code, "kind": "avance"})
    )
    filing = built["filings"][0]
    _ok(api.post(f"/api/v1/filings/{filing['id']}/transmit/"))
    content = json.dumps(
        {
            "schema_version": "1.0",
            "issued_at": timezone.now().isoformat(),
            "items": [
                {
                    "filing": filing["name"],
                    "line_number": 1,
                    "decision": "decidee_et_payee",
                    "paid_on": timezone.localdate().isoformat(),
                    "paid_amount_cents": avance["amount_ttc_cents"],
                }
            ],
        }
    ).encode()
    upload = SimpleUploadedFile("retour.json", content, "application/json")
    _ok(api.post("/api/v1/feedback-imports/", {"file": upload}, format="multipart"))
    solde = _ok(api.post(f"/api/v1/orders/{order.pk}/claims/", {"kind": "solde"}))
    _ok(
        api.post(
            f"/api/v1/claims/{solde['id']}/invoice/",
            {
                "number": "F-DEMO-001",
                "date": timezone.localdate().isoformat(),
                "amount_ttc_cents": 180000,
                "pdf": SimpleUploadedFile("facture.pdf", invoice_pdf(), "application/pdf"),
            },
            format="multipart",
        )
    )


def _identify(client, token: str) -> None:
    """The client's way in on a signing link: a code mailed, then typed."""
    from django.core import mail

    from tests.signing.helpers import CODE

    mail.outbox.clear()
    assert client.post(f"/signature/{token}/", {"action": "send"}).status_code == 302
    code = CODE.search(mail.outbox[-1].body)["code"]
    response = client.post(f"/signature/{token}/", {"action": "verify", "code": code})
    assert response.status_code == 302, response.content[:2000]


def _signing_links(world: World) -> None:
    """Three links: the demo VA signed online (its confirmation and signed PDF), the next demo
    VA waiting, a draft BDC sent for online signature; one person identified on all three."""
    from signing.demo import demo_links, waiting_demo_va
    from signing.models import SigningLink
    from signing.services import send_order_link
    from signing.tokens import link_token
    from sons.models import OrderStatus, PurchaseOrder

    def token(link):
        return link_token(link.public_id)

    signer = Client()
    va = waiting_demo_va()
    decided = SigningLink.objects.filter(va=va, used_at__isnull=True).latest("pk")
    _identify(signer, token(decided))
    form = {
        "signer_name": "Dr Démo",
        "signer_role": "Médecin",
        "document_sha256": va.pdf_sha256,
        **{f"statement_{i}": "on" for i in range(len(va.statements))},
    }
    response = signer.post(f"/signature/{token(decided)}/signer/", form)
    assert response.status_code == 302, response.content[:2000]
    demo_links()
    waiting = SigningLink.objects.filter(va=waiting_demo_va(), used_at__isnull=True).latest("pk")
    _identify(signer, token(waiting))
    draft = PurchaseOrder.objects.filter(vendor=world.vendor, status=OrderStatus.DRAFT).first()
    bdc = send_order_link(order=draft, actor=world.vendor_admin)
    _identify(signer, token(bdc))
    world.links = {"decided": token(decided), "va": token(waiting), "bdc": token(bdc)}
    world.signer_session = signer.cookies[django_settings.SESSION_COOKIE_NAME].value


def _the_rest(world: World) -> None:
    """What no demo step makes: a portal import, an API bulk job, a webhook and a delivery, a
    recovery, reminders and a preference, a dead letter, a group, the beat's schedules."""
    from django.contrib.auth.models import Group
    from django_celery_beat.models import ClockedSchedule, IntervalSchedule, SolarSchedule

    from api.bulk import start_job
    from api.models import BulkJob, WebhookDelivery, WebhookSubscription
    from core.models import TaskFailure
    from payments.models import Recovery, RecoveryCause
    from payments.services.recovery import record_notice
    from portal.bulk import template_csv
    from portal.services.imports import upload_import
    from reminders.models import Preference, Reminder, ReminderKind
    from sons.models import OrderStatus, PurchaseOrder

    upload_import(
        vendor=world.vendor,
        user=world.vendor_admin,
        file_name="bdc.csv",
        content=template_csv().encode() if isinstance(template_csv(), str) else template_csv(),
    )
    start_job(vendor=world.vendor, user=world.vendor_admin, kind=BulkJob.Kind.ORDERS, items=[])
    api = _api_client(world.api_secret)
    hook = _ok(
        api.post(
            "/api/v1/webhooks/", {"url": "https://127.0.0.1/crochets", "events": ["va.signed"]}
        )
    )
    WebhookDelivery.objects.create(
        subscription=WebhookSubscription.objects.get(pk=hook["id"]),
        event="va.signed",
        payload={"démo": True},
    )
    # The demo's order in recovery received nothing (the service would refuse to open one):
    # its recovery row is written as the service would have, for the pages that show one.
    in_recovery = PurchaseOrder.objects.get(vendor=world.vendor, status=OrderStatus.IN_RECOVERY)
    Recovery.objects.create(
        order=in_recovery,
        cause=RecoveryCause.REALISATION,
        received_cents=45000,
        offset_cents=0,
        amount_cents=45000,
        opened_at=timezone.now(),
        reason="Prestation non réalisée à la date de fin de réalisation (démo).",
    )
    Reminder.objects.create(
        key=f"démo:{world.vendor.pk}",
        kind=ReminderKind.values[0],
        run_id=uuid.uuid4(),
        computed_at=timezone.now(),
        vendor=world.vendor,
        threshold_days=7,
        order_ids=list(
            PurchaseOrder.objects.filter(vendor=world.vendor).values_list("pk", flat=True)
        ),
    )
    notice = b"%PDF-1.4 avis de recouvrement (demo)"
    record_notice(
        recovery_id=Recovery.objects.get(order=in_recovery).pk,
        name="avis.pdf",
        content=notice,
        sha256=hashlib.sha256(notice).hexdigest(),
    )
    Preference.objects.create(user=world.superuser)
    TaskFailure.objects.create(
        task_name="sons.tasks.render_order_pdf", task_id="démo", exception="Démo"
    )
    Group.objects.create(name="Instructeurs (démo)")
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    IntervalSchedule.objects.create(every=10, period=IntervalSchedule.MINUTES)
    SolarSchedule.objects.create(event="sunrise", latitude=48.85, longitude=2.35)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The demo world, committed once for the module, flushed after it."""
    from django.test.utils import override_settings

    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
        try:
            yield _build_world(media)
        finally:
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def media_root(settings, world):
    """The world's files stay where it was built (tests/conftest.py gives each test its own)."""
    settings.MEDIA_ROOT = world.media
    return world.media


# --- The pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One URL pattern of the URL conf."""

    key: str  # "namespace:name", or the route itself when the pattern has no name
    route: str  # as Django's ResolverMatch.route spells it
    namespace: str
    name: str | None
    params: tuple[str, ...]
    callback: Any = field(compare=False, repr=False)


def _join(prefix: str, route: str) -> str:
    return prefix + (route[1:] if route.startswith("^") else route)


def _walk(resolver, prefix: str = "", namespace: str = "", params: tuple = ()):
    for pattern in resolver.url_patterns:
        route = _join(prefix, str(pattern.pattern))
        groups = params + tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            inner = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from _walk(pattern, route, inner if pattern.namespace else namespace, groups)
        elif isinstance(pattern, URLPattern):
            key = ":".join(filter(None, [namespace, pattern.name])) if pattern.name else route
            yield Page(key, route, namespace, pattern.name, groups, pattern.callback)


PAGES = sorted(set(_walk(get_resolver())), key=lambda p: p.key)
HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"}


def answers_get(callback) -> bool:
    """Whether the view serves GET: a DRF action map, a class's methods, or the method list of
    Django's `require_http_methods` (`require_GET`, `require_POST`) found in its wrappers."""
    actions = getattr(callback, "actions", None)
    if actions is not None:
        return "get" in actions
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is not None and "get" not in view_class.http_method_names:
        return False
    function = callback
    while function is not None:
        for cell in getattr(function, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if isinstance(value, list | tuple) and value and set(value) <= HTTP_METHODS:
                return "GET" in value
        function = getattr(function, "__wrapped__", None)
    return True


@dataclass
class Visit:
    """One GET of a page: its path parameters, as whom, the status that proves it ran."""

    kwargs: dict
    who: str | None = None  # default: the page's person (`who_for`)
    expect: int | None = None  # default: 200, or 405 where the view refuses GET
    query: str = ""
    path: str | None = None  # a path given whole (catch-all patterns)


# Who opens a page, by the first part of its namespace; exceptions by page below.
WHO_BY_NAMESPACE = {
    "portal": "vendor",  # the demo vendor's administrator, second factor verified
    "api_tokens": "vendor",
    "signing": "signer",  # the client, identified on the link (code by mail)
    "api": "api",  # a token of the demo vendor's administrator
    "admin": "staff",  # the demo's superuser
    "dashboard": "staff",
}
METRICS_TOKEN = "jeton-de-collecte"
WHO = {
    "metrics": "scraper",  # Prometheus, with the bearer token of METRICS_TOKEN
    "portal:login": "anonymous",  # signed in, the sign-in page only sends you home
    "portal:password_reset": "anonymous",
    "portal:set_password": "anonymous",  # the invited person's mailed link
    "portal:login_code": "pending",  # the password accepted, the code awaited
    "portal:enrol": "vendor_staff",  # a collaborator enrolling a second factor (« Mon compte »)
}


def who_for(page: Page) -> str:
    if page.key in WHO:
        return WHO[page.key]
    if page.namespace == "api" and (page.name or "").startswith("admin-"):
        return "api_admin"  # an ANS administrator's token
    return WHO_BY_NAMESPACE.get(page.namespace.split(":")[0], "anonymous")


# Statuses other than 200 (or 405 for a view that refuses GET), and why.
EXPECTED = {
    "": 302,  # the root sends to the published catalogue
    "admin:login": 302,  # already signed in: to the admin's index
    "admin:logout": 405,  # Django's admin signs out on POST only
    "admin:autocomplete": 403,  # without the field it completes, refused (it still ran)
    "signing:psc_callback": 400,  # no sign-in under way with Pro Santé Connect
    "signing:psc_start": 404,  # Pro Santé Connect not configured in tests
}


# --- Filling the path parameters with real objects -----------------------------------------------


def _pks(queryset, limit: int | None = None) -> list:
    pks = list(queryset.order_by("pk").values_list("pk", flat=True))
    assert pks, f"the world has no {queryset.model._meta.label}: nothing to open the page with"
    return pks[:limit] if limit else pks


def _each(queryset, name: str = "pk", limit: int | None = None, **visit) -> list[Visit]:
    return [Visit({name: pk}, **visit) for pk in _pks(queryset, limit)]


def _vendor_models(world: World):
    from api.models import ApiToken, BulkJob, WebhookSubscription
    from catalogue.models import Referencing, Solution, VendorMember
    from payments.models import AspFiling, PaymentClaim
    from portal.models import BulkImport
    from sons.models import (
        Client as SonsClient,
    )
    from sons.models import (
        Deployment,
        PurchaseOrder,
        VerificationAptitude,
    )

    v = world.vendor
    return SimpleNamespace(
        orders=PurchaseOrder.objects.filter(vendor=v),
        vas=VerificationAptitude.objects.filter(order__vendor=v),
        deployments=Deployment.objects.filter(order__vendor=v),
        claims=PaymentClaim.objects.filter(order__vendor=v),
        filings=AspFiling.objects.filter(vendor=v),
        imports=BulkImport.objects.filter(vendor=v),
        members=VendorMember.objects.filter(vendor=v),
        tokens=ApiToken.objects.filter(user=world.vendor_admin),
        jobs=BulkJob.objects.filter(vendor=v),
        hooks=WebhookSubscription.objects.filter(vendor=v),
        clients=SonsClient.objects.filter(relationships__vendor=v).distinct(),
        solutions=Solution.objects.filter(editor=v),
        referencings=Referencing.objects.filter(vendor=v),
    )


def _portal(world: World) -> dict[str, Callable[[], list[Visit]]]:
    m = _vendor_models(world)
    invited = get_user_model().objects.get(pk=world.vendor_admin.pk)
    uid = urlsafe_base64_encode(force_bytes(invited.pk))
    reset_token = default_token_generator.make_token(invited)
    return {
        "portal:set_password": lambda: [Visit({"uidb64": uid, "token": reset_token})],
        "portal:member_update": lambda: [
            Visit({"pk": pk, "step": "role"}) for pk in _pks(m.members, 1)
        ],
        "portal:order_detail": lambda: _each(m.orders),
        "portal:order_update": lambda: _each(m.orders),
        "portal:client_update": lambda: _each(m.clients),
        "portal:order_pdf": lambda: _each(m.orders.exclude(pdf="")),
        "portal:order_action": lambda: [
            Visit({"pk": pk, "action": "schedule"}) for pk in _pks(m.orders, 1)
        ],
        "portal:import_detail": lambda: _each(m.imports),
        "portal:import_progress": lambda: _each(m.imports),
        "portal:import_confirm": lambda: _each(m.imports),
        "portal:import_errors": lambda: _each(m.imports),
        "portal:import_file": lambda: _each(m.imports.exclude(file="")),
        "portal:va_resend": lambda: _each(m.vas, limit=1),
        "portal:va_pdf": lambda: _each(m.vas.exclude(pdf="")),
        "portal:va_signed_pdf": lambda: _each(m.vas.exclude(signed_pdf="")),
        "portal:claim_open": lambda: [
            Visit({"pk": pk, "kind": "avance"}) for pk in _pks(m.orders, 1)
        ],
        "portal:claim_detail": lambda: _each(m.claims),
        "portal:claim_attach_invoice": lambda: _each(m.claims, limit=1),
        "portal:claim_invoice": lambda: _each(m.claims.exclude(invoice_pdf="")),
        "portal:claim_step": lambda: [
            Visit({"pk": pk, "step": "prete"}) for pk in _pks(m.claims, 1)
        ],
        "portal:filing_detail": lambda: _each(m.filings),
        "portal:filing_json": lambda: _each(m.filings.exclude(json_file="")),
        "portal:filing_zip": lambda: _each(m.filings.exclude(zip_file="")),
        "portal:filing_transmit": lambda: _each(m.filings, limit=1),
        "api_tokens:revoke": lambda: _each(m.tokens, limit=1),
        # a vendor member without a preference yet, and the ANS administrator who has one
        "reminders:preferences": lambda: [Visit({}, who="vendor"), Visit({}, who="staff")],
    }


def _signing(world: World) -> dict[str, Callable[[], list[Visit]]]:
    usable = [world.links["va"], world.links["bdc"]]
    decided = world.links["decided"]

    def tokens(*values, **visit):
        return lambda: [Visit({"token": t}, **visit) for t in values]

    return {
        "signing:open": lambda: [
            *(Visit({"token": t}, who="anonymous") for t in usable),  # the link just opened
            *(Visit({"token": t}, expect=302) for t in usable),  # identified: to the document
            Visit({"token": decided}, expect=410),  # « déjà signé »
        ],
        "signing:psc_start": tokens(*usable),
        "signing:document": tokens(*usable),
        "signing:document_pdf": tokens(*usable),
        "signing:sign": tokens(*usable),
        "signing:refuse": tokens(world.links["va"]),
        "signing:done": tokens(decided),
        "signing:signed_pdf": tokens(decided),
    }


def _api(world: World) -> tuple[dict, dict]:
    """The API's pages, and its detail routes by basename (for the actions on one object)."""
    from catalogue.models import Dispositif, Referencing
    from payments.models import Recovery
    from sons.models import ClientConflict, MomDeclaration, OnPreseries

    m = _vendor_models(world)
    detail = {
        "dispositif": lambda: [
            Visit({"code": c})
            for c in Dispositif.objects.order_by("code").values_list("code", flat=True)
        ],
        "solution": lambda: _each(m.solutions),
        "referencing": lambda: _each(m.referencings),
        "client": lambda: _each(m.clients),
        "order": lambda: _each(m.orders),
        "bulk-job": lambda: [
            Visit({"pk": str(p)}) for p in m.jobs.values_list("public_id", flat=True)
        ],
        "deployment": lambda: _each(m.deployments),
        "va": lambda: _each(m.vas),
        # the demo's only MOM is another demo vendor's (MSSanté): opened with its own token
        "mom": lambda: _each(MomDeclaration.objects.all(), who="api_other"),
        "claim": lambda: _each(m.claims),
        "filing": lambda: _each(m.filings),
        "webhook": lambda: _each(m.hooks),
        "admin-referencing": lambda: _each(Referencing.objects.all()),
        "admin-preseries": lambda: _each(OnPreseries.objects.all()),
        "admin-recovery": lambda: _each(Recovery.objects.all()),
        # the conflicts the demo vendor's orders are in; every conflict for the administrators
        "conflict": lambda: _each(
            ClientConflict.objects.filter(positions__order__vendor=world.vendor).distinct()
        ),
        "admin-conflict": lambda: _each(ClientConflict.objects.all()),
    }
    visits = {f"api:{basename}-detail": fill for basename, fill in detail.items()}
    # the actions on one object: every action that reads (journal, files, deliveries) on each
    visits.update(
        {
            "api:order-journal": detail["order"],
            "api:filing-json-file": detail["filing"],
            "api:filing-zip-file": detail["filing"],
            "api:webhook-deliveries": detail["webhook"],
            # POST only (405 to a GET): answering and deciding a conflict
            "api:conflict-answer": detail["conflict"],
            "api:admin-conflict-decide": detail["admin-conflict"],
        }
    )
    return visits, detail


def _dashboard(world: World) -> dict[str, Callable[[], list[Visit]]]:
    from catalogue.models import Dispositif
    from dashboard.lists import LISTS
    from sons.models import PurchaseOrder

    codes = sorted(set(PurchaseOrder.objects.values_list("dispositif__code", flat=True)))
    assert codes
    return {
        "dashboard:dispositif": lambda: [
            Visit({"code": c})
            for c in Dispositif.objects.order_by("code").values_list("code", flat=True)
        ],
        "dashboard:list": lambda: [
            Visit({"code": c, "slug": slug}, query=query)
            for c in codes
            for slug in LISTS
            for query in ("", "format=csv", "format=xlsx")
        ],
    }


def _model_admin(page: Page):
    """The ModelAdmin a page belongs to (its views, or a view it added in get_urls)."""
    found = getattr(page.callback, "model_admin", None)
    function = page.callback
    while found is None and function is not None:
        owner = getattr(function, "__self__", None)
        if isinstance(owner, admin.ModelAdmin):
            found = owner
        function = getattr(function, "__wrapped__", None)
    return found


def _admin(page: Page, world: World) -> list[Visit] | None:
    """A model's pages in the admin: its list, its add page, and for two of its rows their
    change, history and delete pages, each of their transitions' forms and stored files."""
    model_admin = _model_admin(page)
    if model_admin is None:
        return None
    model = model_admin.model
    request = RequestFactory().get("/admin/")
    request.user = world.superuser
    name = page.name or ""
    rows = list(model._default_manager.order_by("pk")[:2])
    assert rows, f"the world has no {model._meta.label}: nothing to open {page.route} with"
    if name == "auth_user_password_change":
        return [Visit({"id": row.pk}) for row in rows]
    if name.endswith("_changelist") or name.endswith("_add"):
        if name.endswith("_add"):
            return [Visit({}, expect=200 if model_admin.has_add_permission(request) else 403)]
        return [Visit({}), Visit({}, query="q=D%C3%A9mo")]
    if name.endswith("_delete"):
        return [
            Visit(
                {"object_id": row.pk},
                expect=200 if model_admin.has_delete_permission(request, row) else 403,
            )
            for row in rows
        ]
    if name.endswith("_transition"):
        if not model_admin.transitions:  # none offered in the admin: any name is unknown
            return [Visit({"pk": rows[0].pk, "name": "aucune"}, expect=404)]
        return [
            Visit({"pk": row.pk, "name": transition})
            for row in rows
            for transition in model_admin.transitions
        ]
    if name.endswith("_publish"):  # recording a calendar version's publication: its form
        return [Visit({"pk": row.pk}) for row in rows]
    if name.endswith("_file"):
        visits = [
            Visit({"pk": row.pk, "field": file_field})
            for file_field in model_admin.file_fields()
            for row in model._default_manager.exclude(**{file_field: ""}).order_by("pk")[:2]
        ]
        assert visits, f"the world has no {model._meta.label} with a stored file"
        return visits
    if name.endswith("_change") or name.endswith("_history"):
        return [Visit({"object_id": row.pk}) for row in rows]
    if name.endswith("_config") or name.endswith("_qrcode"):
        return [Visit({"pk": row.pk}) for row in rows]
    if not name and page.params == ("object_id",):
        # the old address of a change page: sent to the new one
        return [Visit({"object_id": row.pk}, expect=302) for row in rows]
    return None


def _admin_site(world: World) -> dict[str, Callable[[], list[Visit]]]:
    from django.contrib.contenttypes.models import ContentType

    from sons.models import PurchaseOrder

    order = PurchaseOrder.objects.filter(vendor=world.vendor).order_by("pk").first()
    order_type = ContentType.objects.get_for_model(PurchaseOrder).pk
    labels = sorted({model._meta.app_label for model in admin.site._registry})
    return {
        "admin:app_list": lambda: [Visit({"app_label": label}) for label in labels],
        "admin:view_on_site": lambda: [
            Visit(
                {"content_type_id": order_type, "object_id": order.pk},
                expect=302 if hasattr(PurchaseOrder, "get_absolute_url") else 404,
            )
        ],
        "admin/(?P<url>.*)$": lambda: [Visit({"url": "nulle-part/"}, expect=404)],
        "api/v1/[\\s\\S]*$": lambda: [Visit({}, path="/api/v1/nulle-part/", expect=404)],
    }


def plan(page: Page, world: World) -> list[Visit]:
    """The GETs that exercise a page: its parameters filled with real objects."""
    api_visits, api_details = _api(world)
    explicit = {
        **_portal(world),
        **_signing(world),
        **api_visits,
        **_dashboard(world),
        **_admin_site(world),
    }
    if page.key in explicit:
        visits = explicit[page.key]()
    elif (visits := _admin(page, world)) is not None:
        pass
    elif page.namespace == "api" and page.params:
        # an action on one object (sign, cancel, make-ready…): its kind's first object
        basenames = [b for b in api_details if (page.name or "").startswith(b + "-")]
        assert basenames, f"{page.route}: no rule fills this API page's {page.params}"
        visits = api_details[max(basenames, key=len)]()[:1]
    elif not page.params:
        visits = [Visit({})]
    else:
        pytest.fail(
            f"{page.route} ({page.key}): no rule fills its parameters {page.params}; "
            "add one to plan() so that this page is opened too"
        )
    assert visits, f"{page.route}: no object of the world to open it with"
    for visit in visits:
        visit.who = visit.who or who_for(page)
        if visit.expect is None:
            visit.expect = EXPECTED.get(page.key, 200 if answers_get(page.callback) else 405)
    return visits


def url_of(page: Page, visit: Visit) -> str:
    if visit.path is not None:
        return visit.path
    path = page.route
    for name, value in visit.kwargs.items():
        path, count = re.subn(
            rf"<(?:\w+:)?{name}>|\(\?P<{name}>[^)]*\)", lambda _m, v=value: str(v), path
        )
        assert count == 1, (page.route, name)
    path = "/" + path.replace("^", "").replace("$", "")
    assert "<" not in path and "(?P" not in path, f"{page.route}: unfilled in {path}"
    return path + (f"?{visit.query}" if visit.query else "")


# --- Opening a page and reading what it did ------------------------------------------------------


def client_for(who: str, world: World):
    """A browser (or an API client) of the person; its signing in is done before the capture."""
    from rest_framework.test import APIClient

    from portal.demo import DEMO_ADMIN, DEMO_PASSWORD
    from tests.portal.conftest import sign_in

    if who in ("api", "api_admin", "api_other"):
        client = APIClient()
        secret = {
            "api": world.api_secret,
            "api_admin": world.api_admin_secret,
            "api_other": world.api_other_secret,
        }[who]
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client
    if who == "scraper":
        return Client(HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    client = Client()
    if who == "vendor":
        sign_in(client, world.vendor_admin)
    elif who == "vendor_staff":
        client.force_login(world.vendor_staff)
    elif who == "staff":
        client.force_login(world.superuser)
    elif who == "pending":
        response = client.post(
            "/portail/connexion/", {"username": DEMO_ADMIN, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 302, response.status_code
    elif who == "signer":
        client.cookies[django_settings.SESSION_COOKIE_NAME] = world.signer_session
    else:
        assert who == "anonymous", who
    return client


def _caller() -> str:
    """The project's frame nearest the call (the code to fix), its installed packages aside."""
    root = f"{django_settings.BASE_DIR}/"
    for frame in reversed(traceback.extract_stack()[:-2]):
        name = frame.filename
        if name.startswith(root) and "site-packages" not in name:
            return f"{name[len(root) :]}:{frame.lineno} in {frame.name}"
    return "?"


def _consume(response) -> None:
    """Reads a streamed body (its queries run while it is read) and closes its file, without
    `response.close()` (that signal closes the test's database connection)."""
    if getattr(response, "streaming", False):
        for _chunk in response.streaming_content:
            pass
        stream = getattr(response, "file_to_stream", None)
        if stream is not None:
            stream.close()


def _name(function) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', function)}"


def open_page(client, path: str) -> tuple[Any, list[str], list[str], list[str]]:
    """GETs the path; returns the response, every statement run, every select_for_update()
    call, and the work it left to run after commit (never run here: the test's transaction is
    rolled back, so a write deferred that way would pass unseen otherwise)."""
    locks: list[str] = []
    select_for_update = QuerySet.select_for_update

    def spied(queryset, *args, **kwargs):
        locks.append(_caller())
        return select_for_update(queryset, *args, **kwargs)

    pending = {alias: len(connections[alias].run_on_commit) for alias in connections}
    with ExitStack() as stack:
        captures = [stack.enter_context(CaptureQueriesContext(connections[a])) for a in connections]
        QuerySet.select_for_update = spied
        try:
            response = client.get(path)
            _consume(response)
        finally:
            QuerySet.select_for_update = select_for_update
    deferred = [
        _name(entry[1])
        for alias, before in pending.items()
        for entry in connections[alias].run_on_commit[before:]
    ]
    return response, [q["sql"] for c in captures for q in c.captured_queries], locks, deferred


def check(page: Page, visit: Visit, world: World) -> list[str]:
    """What is wrong with one GET: each bad statement, each lock asked, each piece of work left
    for after commit, a status that shows the page did not run."""
    path = url_of(page, visit)
    response, statements, locks, deferred = open_page(client_for(visit.who, world), path)
    where = f"GET {path} ({page.key}, as {visit.who})"
    failures = [
        f"{where}: {problem}\n      {sql[:400]}"
        for sql in statements
        for problem in violations(sql)
    ]
    failures += [f"{where}: select_for_update() at {caller}" for caller in locks]
    failures += [f"{where}: leaves {name} to run after commit" for name in deferred]
    if response.status_code != visit.expect:
        failures.append(f"{where}: status {response.status_code}, expected {visit.expect}")
    return failures


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.key or "/")
def test_a_get_writes_nothing(page, world, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    failures = [problem for visit in plan(page, world) for problem in check(page, visit, world)]
    assert not failures, "\n".join(failures)


def test_a_page_that_writes_or_locks_is_named_with_its_statement(world, monkeypatch):
    """The check itself: a public page made to write a row and to take the journal's lock is
    reported with its address, the statement and the line that asked for the lock."""
    from django.contrib.auth.models import Group

    page = next(p for p in PAGES if p.key == "catalogue:published")
    pattern = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "catalogue"
    ).url_patterns[0]
    real = pattern.callback

    def writing(request, *args, **kwargs):
        Group.objects.create(name="écrit par un GET")
        JournalHead.objects.select_for_update().filter(id=1).first()
        transaction.on_commit(send_a_mail)
        return real(request, *args, **kwargs)

    def send_a_mail():
        pass

    monkeypatch.setattr(pattern, "callback", writing)
    failures = check(page, Visit({}, who="anonymous", expect=200), world)
    assert failures[0].startswith("GET /referencements/ (catalogue:published, as anonymous)")
    assert any('INSERT on auth_group\n      INSERT INTO "auth_group"' in f for f in failures)
    assert any("touches the journal's head" in f and "core_journalhead" in f for f in failures)
    assert any(f.endswith("in writing") and "select_for_update() at tests/" in f for f in failures)
    assert any(f.endswith("send_a_mail to run after commit") for f in failures)


def test_every_filling_rule_names_a_page(world):
    """A rule left behind by a renamed page would fill nothing: each one names a page."""
    keys = {page.key for page in PAGES}
    api_visits, _details = _api(world)
    rules = {**_portal(world), **_signing(world), **api_visits, **_dashboard(world)}
    rules.update(_admin_site(world))
    assert set(rules) - keys == set()
    assert set(WHO) - keys == set() and set(EXPECTED) - keys == set()


@pytest.mark.parametrize(
    ("sql", "problems"),
    [
        ('SELECT "sons_purchaseorder"."id" FROM "sons_purchaseorder"', []),
        ('INSERT INTO "api_apicall" ("token_id") VALUES (1)', []),
        ('UPDATE "django_session" SET "session_data" = \'x\' WHERE "session_key" = \'k\'', []),
        ('UPDATE "api_apitoken" SET "last_used_at" = \'2026-12-03\' WHERE "id" = 1', []),
        (
            'UPDATE "api_apitoken" SET "revoked_at" = NULL, "last_used_at" = NULL WHERE "id" = 1',
            ["UPDATE of api_apitoken (last_used_at, revoked_at)"],
        ),
        (
            'DELETE FROM "otp_totp_totpdevice" WHERE "user_id" = 3',
            ["DELETE on otp_totp_totpdevice"],
        ),
        (
            'SELECT "id" FROM "sons_purchaseorder" WHERE "id" = 1 FOR NO KEY UPDATE',
            ["takes a row lock (SELECT … FOR UPDATE/SHARE)"],
        ),
        (
            'SELECT "id" FROM "core_journalhead" WHERE "id" = 1',
            ["touches the journal's head (the lock that serialises every writer)"],
        ),
        ('INSERT INTO "core_journalentry" ("sequence") VALUES (1)', ["writes the journal"]),
    ],
)
def test_the_statements_judged(sql, problems):
    assert violations(sql) == problems
