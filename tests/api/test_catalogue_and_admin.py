"""The catalogue as read through the API, the vendor's referencing dossiers, its clients, and the
administrators' read-and-decide endpoints."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalogue.models import CalendarVersion, Deadline
from payments.models import ClaimKind, ClaimStatus, PaymentClaim
from sons.services import gates
from tests.api.conftest import signed_order
from tests.payments.factories import open_dispositif
from tests.sons.factories import valid_rpps

pytestmark = pytest.mark.django_db


def test_dispositifs_are_listed_and_filtered(side_a, dispositif):
    body = side_a.api.get("/api/v1/dispositifs/", {"vague": 1}).json()
    assert dispositif.code in [d["code"] for d in body["results"]]
    none = side_a.api.get("/api/v1/dispositifs/", {"couloir": "officines"}).json()["results"]
    assert dispositif.code not in [d["code"] for d in none]


def test_a_dispositif_shows_its_calendar_in_force_and_its_history(side_a, dispositif):
    moved = CalendarVersion.objects.create(
        dispositif=dispositif,
        legal_reference="arrêté modificatif du 8 mars",
        published_on=timezone.localdate() - dt.timedelta(days=1),
    )
    new_end = timezone.now() + dt.timedelta(days=90)
    Deadline.objects.create(version=moved, kind="orders", at=new_end)
    body = side_a.api.get(f"/api/v1/dispositifs/{dispositif.code}/").json()
    in_force = {d["kind"]: d for d in body["calendar_in_force"]}
    assert (
        in_force["orders"]["calendar_version"]["legal_reference"] == "arrêté modificatif du 8 mars"
    )
    assert in_force["orders"]["label"] == "Fin des commandes (BDC)"
    assert len(body["calendar_history"]) == 2
    before = (timezone.now() - dt.timedelta(days=5)).isoformat()
    past = side_a.api.get(f"/api/v1/dispositifs/{dispositif.code}/", {"at": before}).json()
    assert {d["kind"]: d for d in past["calendar_in_force"]}["orders"]["calendar_version"][
        "founding"
    ]
    assert side_a.api.get("/api/v1/dispositifs/INCONNU/").status_code == 404


def test_the_vendor_sees_its_solutions_and_files_a_referencing(side_a):
    solutions = side_a.api.get("/api/v1/solutions/").json()["results"]
    assert [s["id"] for s in solutions] == [side_a.version.solution_id]
    assert solutions[0]["versions"][0]["id"] == side_a.version.pk
    other = open_dispositif()
    created = side_a.api.post(
        "/api/v1/referencings/", {"solution_version": side_a.version.pk, "dispositif": other.code}
    )
    assert created.status_code == 201 and created.json()["status"] == "draft"
    submitted = side_a.api.post(f"/api/v1/referencings/{created.json()['id']}/submit/")
    assert submitted.json()["status"] == "submitted"
    again = side_a.api.post(
        "/api/v1/referencings/", {"solution_version": side_a.version.pk, "dispositif": other.code}
    )
    assert again.status_code == 409 and again.json()["code"] == "referencing_already_open"


def test_clients_are_registered_read_and_corrected_under_if_match(side_a, side_b):
    rpps = valid_rpps(4242)
    created = side_a.api.post(
        "/api/v1/clients/",
        {"kind": "medecin_liberal", "legal_name": "Dr Nouveau", "rpps": "8" + rpps},
    )
    assert created.status_code == 201
    client = created.json()
    assert client["rpps"] == rpps  # the CPx national id is stored as the RPPS
    url = f"/api/v1/clients/{client['id']}/"
    changed = side_a.api.patch(url, {"city": "Lyon"}, if_match=client["etag"])
    assert changed.status_code == 200 and changed.json()["city"] == "Lyon"
    assert side_a.api.patch(url, {"city": "Paris"}, if_match=client["etag"]).status_code == 412
    not_changeable = side_a.api.patch(url, {"rpps": rpps}, if_match=changed["ETag"])
    assert not_changeable.status_code == 400
    assert not_changeable.json()["errors"][0]["code"] == "unknown_field"
    # the same professional registered by another vendor: one identity (its name as first
    # registered), and a record of side B's own that shows nothing of side A's
    linked = side_b.api.post(
        "/api/v1/clients/", {"kind": "medecin_liberal", "legal_name": "Autre nom", "rpps": rpps}
    )
    assert linked.status_code == 201
    assert (linked.json()["id"], linked.json()["legal_name"]) == (client["id"], "Dr Nouveau")
    assert linked.json()["city"] == ""


def test_a_client_without_the_identifier_its_kind_requires_is_a_400(side_a):
    response = side_a.api.post("/api/v1/clients/", {"kind": "officine", "legal_name": "Pharmacie"})
    assert response.status_code == 400
    assert response.json()["field"] == "finess"
    wrong = side_a.api.post(
        "/api/v1/clients/",
        {"kind": "medecin_liberal", "legal_name": "Dr X", "rpps": "12345678901"},
    )
    assert wrong.status_code == 400 and wrong.json()["field"] == "rpps"


def test_clients_are_searched(side_a):
    found = side_a.api.get("/api/v1/clients/", {"search": "dr a"}).json()["results"]
    assert [c["id"] for c in found] == [side_a.client.pk]


# -- administrators ----------------------------------------------------------------------------


def test_vendor_tokens_cannot_use_the_administrators_endpoints(side_a):
    response = side_a.api.get("/api/v1/admin/referencings/")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_administrator_tokens_cannot_act_for_a_vendor(admin_api):
    assert admin_api.get("/api/v1/orders/").status_code == 403
    assert admin_api.get("/api/v1/dispositifs/").status_code == 200
    assert admin_api.get("/api/v1/me/").json()["programme_admin"] is True


def test_an_administrator_decides_a_referencing(admin_api, side_a):
    other = open_dispositif()
    dossier = side_a.api.post(
        "/api/v1/referencings/", {"solution_version": side_a.version.pk, "dispositif": other.code}
    ).json()
    side_a.api.post(f"/api/v1/referencings/{dossier['id']}/submit/")
    listed = admin_api.get("/api/v1/admin/referencings/", {"status": "submitted"}).json()
    assert [r["id"] for r in listed["results"]] == [dossier["id"]]
    url = f"/api/v1/admin/referencings/{dossier['id']}"
    assert admin_api.post(f"{url}/start-review/").json()["status"] == "under_review"
    no_number = admin_api.post(f"{url}/reference/", {"ans_number": " "})
    assert no_number.status_code == 400
    decided = admin_api.post(f"{url}/reference/", {"ans_number": "ANS-2026-42"})
    assert decided.json()["status"] == "referenced"
    withdrawn = admin_api.post(f"{url}/withdraw/", {"reason": "Non-conformité constatée"})
    assert withdrawn.json()["status"] == "withdrawn"
    assert admin_api.post(f"{url}/reject/", {"reason": "x"}).status_code == 409


def test_an_administrator_validates_or_rejects_a_preseries(admin_api, side_a, admin_user):
    preseries = gates.start_preseries(
        solution_version=side_a.version,
        pilots=[
            {"name": "Dr A", "role": "medecin", "rpps": valid_rpps(1)},
            {"name": "Ph B", "role": "pharmacien", "rpps": valid_rpps(2)},
        ],
        actor=admin_user,
    )
    gates.submit_preseries(preseries=preseries, actor=admin_user)
    url = f"/api/v1/admin/preseries/{preseries.pk}"
    assert admin_api.get(f"{url}/").json()["status"] == "submitted"
    rejected = admin_api.post(f"{url}/reject/", {"reason": "Ordonnances illisibles"})
    assert rejected.json()["status"] == "rejected"
    assert admin_api.post(f"{url}/validate/").status_code == 409


def test_an_administrator_runs_a_recovery(
    admin_api, side_a, dispositif, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = signed_order(side_a, dispositif)
    claim = side_a.api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
    PaymentClaim.objects.filter(pk=claim["id"]).update(
        status=ClaimStatus.PAID, paid_amount_cents=54000, paid_on=timezone.localdate()
    )
    assert PaymentClaim.objects.get(pk=claim["id"]).kind == ClaimKind.AVANCE
    side_a.api.post(f"/api/v1/orders/{order['id']}/declare-default/", {"reason": "Liquidation"})
    opened = admin_api.post(
        "/api/v1/admin/recoveries/",
        {"order": order["id"], "cause": "default", "reason": "Avance payée, prestation non faite"},
    )
    assert opened.status_code == 201
    recovery = opened.json()
    assert recovery["amount_cents"] == 54000
    url = f"/api/v1/admin/recoveries/{recovery['id']}"
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_api.post(f"{url}/notify/").json()["status"] == "notified"
    wrong = admin_api.post(f"{url}/settle/", {"settled_cents": 1})
    assert wrong.status_code == 409 and wrong.json()["code"] == "recovery_amount_mismatch"
    assert admin_api.post(f"{url}/settle/", {"settled_cents": 54000}).json()["status"] == "settled"
    assert admin_api.get("/api/v1/admin/recoveries/", {"status": "settled"}).json()["results"]
    unknown = admin_api.post(
        "/api/v1/admin/recoveries/", {"order": 999999, "cause": "default", "reason": "x"}
    )
    assert unknown.status_code == 400 and unknown.json()["field"] == "order"


def test_the_api_says_non_publiee_and_fin_de_journee(side_a):
    """Issue 14 (SONS.md « Calendar and deadlines »): every kind is listed; one without a
    published deadline is « non publiée » (nothing enforced); a day without an hour is shown
    « (fin de journée) » and its instant is the next day's 00:00 Paris."""
    call_command("load_dispositifs", verbosity=0)
    at = "2022-11-01T12:00:00+01:00"
    body = side_a.api.get("/api/v1/dispositifs/HOP-DPI-V1/", {"at": at}).json()
    in_force = {d["kind"]: d for d in body["calendar_in_force"]}
    assert set(in_force) == {
        "referencing_dossier",
        "proofs",
        "ans_exchanges",
        "orders",
        "advances",
        "firm_date",
        "realisation",
        "soldes",
    }
    orders = in_force["orders"]
    assert orders["published"] and orders["hour_sourced"] is False
    assert orders["shown"] == "30/11/2022 (fin de journée)"
    assert orders["at"] in ("2022-11-30T23:00:00Z", "2022-12-01T00:00:00+01:00")
    soldes = in_force["soldes"]
    assert soldes["hour_sourced"] is True and soldes["shown"] == "14/12/2023 à 14:00"
    proofs = in_force["proofs"]
    assert proofs == {
        "kind": "proofs",
        "label": "Dépôt des preuves",
        "published": False,
        "at": None,
        "hour_sourced": None,
        "shown": "non publiée",
        "calendar_version": None,
    }
    history = body["calendar_history"][0]["deadlines"]
    orders_row = next(d for d in history if d["kind"] == "orders")
    assert orders_row["hour_sourced"] is False
    assert orders_row["shown"] == "30/11/2022 (fin de journée)"
    pde = side_a.api.get("/api/v1/dispositifs/ESMS-DUI-PDE-V1/").json()
    assert [v["pending"] for v in pde["calendar_history"]] == [False, True]
    hop = side_a.api.get("/api/v1/dispositifs/HOP-DPI-V2/").json()
    assert [v["code"] for v in hop["prestation_variants"]] == ["v2", "v1_v2"]
    assert hop["asp_openings"][0]["at"] == "2024-09-12T14:00"
