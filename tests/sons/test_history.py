"""One history of an order (sons.history), read through three doors: the API, the vendor portal
and the admin show the same entries, in the same order, with the same French labels."""

from __future__ import annotations

import ast
import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from api.tokens import issue_token
from core.journal_display import JOURNAL_KINDS, format_paris, transition_label
from payments.models import ClaimKind
from payments.services import claims
from sons.history import order_history, order_parts
from sons.models import ClientConflict, Decision
from sons.services import deployments
from sons.services.conflicts import respond_to_conflict
from tests.payments.factories import accept_by_va, open_dispositif
from tests.portal.conftest import make_member, sign_in, vendor_order, vendor_referencing
from tests.sons.factories import ClientFactory

pytestmark = pytest.mark.django_db


class HistoryTable(HTMLParser):
    """The rows of the history table as a person reads them (cell texts)."""

    def __init__(self):
        super().__init__()
        self.rows: list[list[str]] = []
        self._depth = 0  # inside <table class="... history">
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and "history" in classes:
            self._depth = 1
        elif tag == "table" and self._depth:
            self._depth += 1
        elif self._depth and tag == "tr":
            self._row = []
        elif self._row is not None and tag == "td":
            self._cell = []
        elif self._cell is not None and tag == "br":
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag == "table" and self._depth:
            self._depth -= 1
        elif tag == "td" and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    parser = HistoryTable()
    parser.feed(response.content.decode())
    return parser.rows


# What a person reads in each row: when, object, transition, from → to, by, reason.
def seen_in_html(rows: list[list[str]]) -> list[tuple[str, ...]]:
    return [tuple(row[:6]) for row in rows]


def seen_in_api(entries: list[dict]) -> list[tuple[str, ...]]:
    seen = []
    for e in entries:
        at = dt.datetime.fromisoformat(e["acted_at"] or e["recorded_at"])
        seen.append(
            (
                format_paris(at),
                e["object_name"],
                e["transition_label"],
                f"{e['source_state_label'] or '—'} → {e['target_state_label'] or '—'}",
                e["actor_label"],
                e["reason"],
            )
        )
    return seen


@pytest.fixture
def world(admin_user, django_capture_on_commit_callbacks):
    """Vendor A's order with a deployment, a VA issued and signed, a conflict with vendor B's
    order on the same client (B answers, then withdraws), and an avance claim."""
    from tests.factories import VendorFactory

    dispositif = open_dispositif(acceptance="va")
    vendor_a, vendor_b = VendorFactory(name="Éditeur A"), VendorFactory(name="Éditeur B")
    user_a, user_b = make_member(vendor_a), make_member(vendor_b)
    client = ClientFactory()
    order_b = vendor_order(
        vendor_b,
        user_b,
        referencing=vendor_referencing(vendor_b, admin_user, dispositif),
        client=client,
    )
    order_a = vendor_order(
        vendor_a,
        user_a,
        referencing=vendor_referencing(vendor_a, admin_user, dispositif),
        client=client,
    )
    assert ClientConflict.objects.filter(positions__order=order_a).exists()
    respond_to_conflict(order=order_b, decision=Decision.KEEP, actor=user_b, note="Je maintiens.")
    respond_to_conflict(order=order_a, decision=Decision.KEEP, actor=user_a, note="Nous aussi.")
    respond_to_conflict(
        order=order_b,
        decision=Decision.WITHDRAW,
        actor=user_b,
        note="Le client a choisi l'autre fournisseur.",
    )
    deployments.schedule_deployment(
        order=order_a, firm_date=timezone.localdate() + dt.timedelta(days=2), actor=user_a
    )
    accept_by_va(order_a, user_a, django_capture_on_commit_callbacks)
    claims.open_claim(order=order_a, kind=ClaimKind.AVANCE, actor=user_a)
    return {
        "order": order_a,
        "other_order": order_b,
        "user_a": user_a,
        "user_b": user_b,
        "vendor_a": vendor_a,
        "vendor_b": vendor_b,
    }


def api_for(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user=user, name='CRM').secret}")
    return api


def test_the_history_holds_the_whole_life_of_the_order_in_french(world):
    order = world["order"]
    history = order_history(order, vendor=world["vendor_a"])
    seen = [(row.object_name, row.transition, row.source, row.target) for row in history]
    ref = order.reference
    va = ("VA v1",)
    assert seen[:2] == [
        (ref, "Création", "", "Brouillon"),
        (ref, "Signer le BDC", "Brouillon", "Signé"),
    ]
    assert seen[2:] == [
        ("Conflit de financement", "Ouverture", "", "En cours"),
        ("Conflit de financement", "Réponse au conflit : maintien", "En cours", "En cours"),
        ("Conflit de financement", "Régler le conflit", "En cours", "Réglé"),
        (seen[5][0], "Date ferme confirmée", "", "Planifié (date ferme)"),
        (*va, "Création", "", "Brouillon"),
        (*va, "Émettre la VA", "Brouillon", "Émise, en attente de signature"),
        (*va, "Signer la VA", "Émise, en attente de signature", "Signée"),
        ("Demande d'avance", "Création", "", "Brouillon"),
    ]
    assert seen[5][0].startswith("Déploiement (date ferme ")
    sequences = [row.entry.sequence for row in history]
    assert sequences == sorted(sequences)
    # Vendor B's answers and its order's cancellation are B's history, not A's.
    other = ("sons.purchaseorder", str(world["other_order"].pk))
    assert all((row.object_type, row.entry.object_id) != other for row in history)
    answers = [row for row in history if row.entry.transition.startswith("respond_")]
    assert [row.entry.snapshot["order_id"] for row in answers] == [order.pk]
    # Read by vendor A: B's people are not named, B's order is not listed.
    settle = next(row for row in history if row.entry.transition == "settle")
    assert settle.actor == "autre partie"
    opening = next(row for row in history if row.entry.transition == "open")
    assert opening.snapshot["orders"] == [order.pk]
    # Read by the administration: everyone is named.
    staff_view = order_history(order)
    assert [r.entry.pk for r in staff_view] == [r.entry.pk for r in history]
    settle = next(row for row in staff_view if row.entry.transition == "settle")
    assert settle.actor == world["user_b"].get_username()


def test_the_api_the_portal_and_the_admin_show_the_same_history(world, admin_user):
    order = world["order"]
    api = api_for(world["user_a"]).get(f"/api/v1/orders/{order.pk}/journal/")
    assert api.status_code == 200
    portal = table_rows(sign_in(Client(), world["user_a"]).get(f"/portail/bdc/{order.pk}/"))
    admin_client = Client()
    admin_client.force_login(admin_user)
    admin = table_rows(admin_client.get(f"/admin/sons/purchaseorder/{order.pk}/change/"))

    by_api, by_portal, by_admin = seen_in_api(api.json()), seen_in_html(portal), seen_in_html(admin)
    assert len(by_portal) == 10
    assert by_api == by_portal
    # The administration sees the same rows; only the other vendor's person is named there.
    masked = [i for i, row in enumerate(by_portal) if row[4] == "autre partie"]
    assert masked and all(by_admin[i][4] == world["user_b"].get_username() for i in masked)
    assert [row[:4] + row[5:] for row in by_admin] == [row[:4] + row[5:] for row in by_portal]
    # The same journal line numbers, in the same order, through the three doors.
    numbers = [e["sequence"] for e in api.json()]
    assert [int(re.search(r"n° (\d+)", row[6])[1]) for row in portal] == numbers
    assert [int(re.search(r"n° (\d+)", row[6])[1]) for row in admin] == numbers

    # A person reads French, never the codes.
    transitions = [row[2] for row in by_portal]
    assert "Signer la VA" in transitions and "Régler le conflit" in transitions
    assert not {"sign", "issue", "create", "settle", "open"} & set(transitions)
    assert by_portal[1][3] == "Brouillon → Signé"
    assert ("Conflit de financement", "Réponse au conflit : maintien") in [
        row[1:3] for row in by_portal
    ]
    assert "Nous aussi." in [row[5] for row in by_portal]
    assert "Je maintiens." not in [row[5] for row in by_admin]  # B's answer: B's history
    # The API keeps its fields, codes included, beside the labels.
    first = api.json()[1]
    assert (first["object_type"], first["transition"], first["target_state"]) == (
        "sons.purchaseorder",
        "sign",
        "signed",
    )
    assert (first["transition_label"], first["target_state_label"]) == ("Signer le BDC", "Signé")


def test_another_vendor_cannot_read_the_history(world):
    order = world["order"]
    assert api_for(world["user_b"]).get(f"/api/v1/orders/{order.pk}/journal/").status_code == 404
    page = sign_in(Client(), world["user_b"]).get(f"/portail/bdc/{order.pk}/")
    assert page.status_code == 404


def test_the_journal_admin_names_transitions_and_states_in_french(world, admin_user):
    admin_client = Client()
    admin_client.force_login(admin_user)
    page = admin_client.get("/admin/core/journalentry/").content.decode()
    assert "Signer la VA" in page and "Émise, en attente de signature" in page
    assert "Régler le conflit" in page
    va_page = admin_client.get(
        f"/admin/sons/verificationaptitude/{world['order'].vas.get().pk}/change/"
    )
    assert [row[2] for row in table_rows(va_page)] == ["Création", "Émettre la VA", "Signer la VA"]


# -- every journal kind has its French words ------------------------------------------------------

SOURCES = [
    path
    for app in ("core", "catalogue", "sons", "payments", "signing", "portal", "api", "reminders")
    for path in (Path(settings.BASE_DIR) / app).rglob("*.py")
    if "migrations" not in path.parts
]


def _kinds_written_outside_state_machines() -> set[str]:
    """Transition names the services write themselves (not through a model's @transition)."""
    kinds: set[str] = set()
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            for keyword in node.keywords:
                if keyword.arg == "transition" and isinstance(keyword.value, ast.Constant):
                    kinds.add(keyword.value.value)
            if name == "Change" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                kinds.add(node.args[1].value)
            if name in {"_journal_member", "_flag"}:
                kinds.update(
                    a.value
                    for a in node.args
                    if isinstance(a, ast.Constant)
                    and isinstance(a.value, str)
                    and re.fullmatch(r"[a-z_]+", a.value)
                    and not a.value.endswith("_at")
                )
    return kinds


def _fsm_transitions() -> dict[type, set[str]]:
    found: dict[type, set[str]] = {}
    for model in apps.get_models():
        for name in dir(model):
            if getattr(getattr(model, name, None), "_django_fsm", None) is not None:
                found.setdefault(model, set()).add(name)
    return found


def test_every_state_machine_transition_has_a_french_label():
    for model, names in _fsm_transitions().items():
        for name in names:
            assert transition_label(model, name) != name, f"{model.__name__}.{name}"


def test_every_journal_kind_written_by_a_service_has_french_words():
    kinds = _kinds_written_outside_state_machines()
    assert {"create", "register", "change_contact", "flag_missing_firm_date"} <= kinds
    fsm_names = set().union(*_fsm_transitions().values())
    respond = {f"respond_{d}" for d in Decision.values if d != Decision.PENDING}
    missing = sorted((kinds | respond) - set(JOURNAL_KINDS) - fsm_names)
    assert not missing, f"sans libellé (core.journal_display.JOURNAL_KINDS) : {missing}"


def test_every_journaled_object_of_an_order_is_in_its_history():
    labels = {part.model._meta.label for part in order_parts()}
    assert labels >= {
        "sons.PurchaseOrder",
        "sons.Deployment",
        "sons.VerificationAptitude",
        "sons.MomDeclaration",
        "sons.ClientConflict",
        "sons.PilotSite",
        "payments.PaymentClaim",
        "payments.Recovery",
    }
