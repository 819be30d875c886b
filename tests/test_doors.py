"""One item, every door, one rule code (issue 13, « Each use case is one command »).

For every rule that can refuse an order, client, signature, invoice or notice of completion
item, the same bad item is sent through each door that can carry it: the portal's form (where
there is one), the portal's bulk file, the API's single endpoint and the API's bulk endpoint.
Each door answers with the same rule code, and nothing of the domain is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from stdnum import luhn

from catalogue.deadlines import PARIS
from catalogue.models import Deadline
from core.models import JournalEntry
from payments.models import ClaimKind, PaymentClaim
from payments.services import claims as claim_services
from portal.models import BulkImport
from sons.models import Client, ClientRelationship, CompletionNotice, PurchaseOrder
from tests.api.conftest import Side, make_side
from tests.factories import SolutionVersionFactory
from tests.payments.factories import accept_by_va, invoice_pdf, open_dispositif
from tests.portal.conftest import make_member, sign_in, vendor_order
from tests.sons.factories import draft_order, valid_finess, valid_rpps

pytestmark = pytest.mark.django_db

HEADER = [
    "dispositif",
    "solution",
    "version",
    "client_nature",
    "client_nom",
    "client_rpps",
    "client_finess",
    "client_siret",
    "scenario_installation",
    "signe_le",
    "signataire",
    "qualite_signataire",
    "mode_signature",
]
DOMAIN = (PurchaseOrder, Client, ClientRelationship, PaymentClaim, CompletionNotice, JournalEntry)


@dataclass
class World:
    side: Side
    portal: object  # the Django test client, signed in to the portal as the vendor's staff
    staff: object
    dispositif: object


@pytest.fixture
def world(django_user_model, admin_user, client) -> World:
    dispositif = open_dispositif(acceptance="va")
    side = make_side(django_user_model, admin_user, dispositif, "A")
    staff = make_member(side.vendor)
    return World(side, sign_in(client, staff), staff, dispositif)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in DOMAIN}


def writes_nothing(door):
    """A door refusing an item leaves every table of the domain as it was."""

    def call(*args, **kwargs):
        before = counts()
        codes = door(*args, **kwargs)
        assert counts() == before, door.__name__
        return codes

    call.__name__ = door.__name__
    return call


# -- the bad items, as each door writes them ------------------------------------------------------


def order_of(world: World, **overrides) -> dict:
    """One order as a person or an integrator gives it: every door renders it its own way."""
    values = {
        "dispositif": world.dispositif.code,
        "version": world.side.version,
        "client": world.side.client,
        "client_data": None,  # a client registered in the same item (file), or by /clients/
        "scenario": "Poste du cabinet, profil référencé",
        "signed_at": None,
    }
    values.update(overrides)
    return values


SIGNATURE = {"signatory_name": "Dr Anne Martin", "signatory_role": "Titulaire", "method": "cps"}


def paris_text(instant: dt.datetime) -> str:
    return instant.astimezone(PARIS).strftime("%d/%m/%Y %H:%M")


def file_row(order: dict) -> dict:
    client = order["client_data"] or {
        "kind": order["client"].kind,
        "legal_name": order["client"].legal_name,
        "rpps": order["client"].rpps,
    }
    row = {
        "dispositif": order["dispositif"],
        "solution": order["version"].solution.name,
        "version": order["version"].version,
        "client_nature": client["kind"],
        "client_nom": client["legal_name"],
        "client_rpps": client.get("rpps", ""),
        "client_finess": client.get("finess", ""),
        "client_siret": client.get("siret", ""),
        "scenario_installation": order["scenario"],
        "signe_le": "",
        "signataire": "",
        "qualite_signataire": "",
        "mode_signature": "",
    }
    if order["signed_at"] is not None:
        row.update(
            signe_le=paris_text(order["signed_at"]),
            signataire=SIGNATURE["signatory_name"],
            qualite_signataire=SIGNATURE["signatory_role"],
            mode_signature=SIGNATURE["method"],
        )
    return row


def api_order(order: dict) -> dict:
    body = {
        "client": order["client"].pk,
        "dispositif": order["dispositif"],
        "solution_version": order["version"].pk,
        "installation_scenario": order["scenario"],
    }
    if order["signed_at"] is not None:
        body["signature"] = {**SIGNATURE, "signed_at": order["signed_at"].isoformat()}
    return body


# -- the doors -----------------------------------------------------------------------------------


@writes_nothing
def through_file(world: World, order: dict) -> set[str]:
    row = file_row(order)
    content = "\n".join(";".join(values) for values in [HEADER, [row[h] for h in HEADER]]).encode()
    world.portal.post("/portail/imports/", {"file": SimpleUploadedFile("bdc.csv", content)})
    bulk = BulkImport.objects.latest("pk")
    assert bulk.status == "invalid", bulk.errors
    return {e["code"] for e in bulk.errors}


@writes_nothing
def through_api(world: World, url: str, body: dict, **extra) -> set[str]:
    response = world.side.api.post(url, body, **extra)
    assert response.status_code in (400, 409), (response.status_code, response.json())
    problem = response.json()
    return {e["code"] for e in problem["errors"]} or {problem["code"]}


@writes_nothing
def through_sign_form(world: World, order: PurchaseOrder, signed_at: dt.datetime) -> set[str]:
    response = world.portal.post(
        f"/portail/bdc/{order.pk}/actions/sign/",
        {
            "sign-signatory_name": SIGNATURE["signatory_name"],
            "sign-signatory_role": SIGNATURE["signatory_role"],
            "sign-method": "handwritten",
            "sign-signed_at": signed_at.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 400
    (form,) = [a.form for a in response.context["actions"] if a.key == "sign"]
    return {e.code for errors in form.errors.as_data().values() for e in errors}


def through_sign_api(world: World, order: PurchaseOrder, signed_at: dt.datetime) -> set[str]:
    body = {**SIGNATURE, "signed_at": signed_at.isoformat()}
    return through_api(world, f"/api/v1/orders/{order.pk}/sign/", body)


def a_draft(world: World, *, created_days_ago: int = 0) -> PurchaseOrder:
    order = draft_order(referencing=world.side.referencing, actor=world.staff)
    if created_days_ago:
        PurchaseOrder.objects.filter(pk=order.pk).update(
            created_at=timezone.now() - dt.timedelta(days=created_days_ago)
        )
        order.refresh_from_db()
    return order


# -- the rules -------------------------------------------------------------------------------------


def order_doors(world: World, order: dict) -> dict[str, set[str]]:
    """An order to create: the portal's file, the API's single and bulk endpoints."""
    doors = {"portal_file": through_file(world, order)}
    if order["signed_at"] is None:
        doors["api_single"] = through_api(world, "/api/v1/orders/", api_order(order))
    doors["api_bulk"] = through_api(world, "/api/v1/orders/bulk/", {"items": [api_order(order)]})
    return doors


def client_doors(world: World, client: dict) -> dict[str, set[str]]:
    """A client to register: in an order line of the portal's file, the API's /clients/ single
    and bulk endpoints."""
    return {
        "portal_file": through_file(world, order_of(world, client_data=client)),
        "api_single": through_api(world, "/api/v1/clients/", client),
        "api_bulk": through_api(world, "/api/v1/clients/bulk/", {"items": [client]}),
    }


def signature_doors(world: World, *, signed_at, draft: PurchaseOrder | None) -> dict:
    """A paper BDC's signature: on a draft (the portal's form, the API's sign endpoint) and on
    an order created signed (the portal's file, the API's bulk endpoint)."""
    doors = {}
    if draft is not None:
        doors["portal_form"] = through_sign_form(world, draft, signed_at)
        doors["api_single"] = through_sign_api(world, draft, signed_at)
    new = order_of(world, signed_at=signed_at)
    doors["portal_file"] = through_file(world, new)
    doors["api_bulk"] = through_api(world, "/api/v1/orders/bulk/", {"items": [api_order(new)]})
    return doors


def bad_luhn(valid: str) -> str:
    body = valid[:-1]
    return body + str((int(luhn.calc_check_digit(body)) + 1) % 10)


def unknown_dispositif(world):
    return "does_not_exist", order_doors(world, order_of(world, dispositif="INCONNU-V9"))


def solution_not_distributable(world):
    return "vendor_not_mandated", order_doors(
        world, order_of(world, version=SolutionVersionFactory())
    )


def invalid_rpps(world):
    client = {"kind": "medecin_liberal", "legal_name": "Dr Faux", "rpps": bad_luhn(valid_rpps(91))}
    return "rpps_checksum", client_doors(world, client)


def invalid_finess(world):
    client = {"kind": "officine", "legal_name": "Pharmacie", "finess": bad_luhn(valid_finess(91))}
    return "finess_checksum", client_doors(world, client)


def invalid_siret(world):
    siret = bad_luhn("73282932000074")
    client = {"kind": "officine", "legal_name": "Pharmacie", "finess": valid_finess(92)}
    return "siret_checksum", client_doors(world, {**client, "siret": siret})


def missing_installation_scenario(world):
    return "installation_scenario_required", order_doors(world, order_of(world, scenario=""))


def one_live_order(world):
    draft_order(referencing=world.side.referencing, actor=world.staff, client=world.side.client)
    return "order_already_open", order_doors(world, order_of(world))


def signed_in_the_future(world):
    signed_at = timezone.now() + dt.timedelta(days=2)
    return "signed_at_future", signature_doors(
        world, signed_at=signed_at, draft=a_draft(world, created_days_ago=3)
    )


def signed_before_the_order_was_created(world):
    signed_at = timezone.now() - dt.timedelta(days=2)
    draft = a_draft(world)
    return "signed_at_before_creation", {
        "portal_form": through_sign_form(world, draft, signed_at),
        "api_single": through_sign_api(world, draft, signed_at),
    }


def signed_after_the_orders_deadline(world):
    draft = a_draft(world, created_days_ago=3)
    Deadline.objects.filter(version__dispositif=world.dispositif, kind="orders").update(
        at=timezone.now() - dt.timedelta(days=1)
    )
    signed_at = timezone.now() - dt.timedelta(hours=1)
    return "orders_deadline_passed", signature_doors(world, signed_at=signed_at, draft=draft)


# -- the notice of completion (SONS.md, « End of réalisation, exactly », COSUI 5 April 2023) ------


@writes_nothing
def through_completion_form(world: World, order: PurchaseOrder) -> set[str]:
    response = world.portal.post(
        f"/portail/bdc/{order.pk}/actions/notify_completion/",
        {"notify_completion-statement": "Prestation achevée."},
    )
    assert response.status_code == 400
    (form,) = [a.form for a in response.context["actions"] if a.key == "notify_completion"]
    return {e.code for errors in form.errors.as_data().values() for e in errors}


@writes_nothing
def through_completion_file(world: World, order: PurchaseOrder) -> set[str]:
    content = f"bdc;declaration_achevement\n{order.reference};Prestation achevée.\n".encode()
    world.portal.post("/portail/imports/", {"file": SimpleUploadedFile("achevements.csv", content)})
    bulk = BulkImport.objects.latest("pk")
    assert bulk.status == "invalid", bulk.errors
    return {e["code"] for e in bulk.errors}


def completion_doors(world: World, order: PurchaseOrder) -> dict[str, set[str]]:
    """A notice of completion: the order page's action, the portal's file of notices, the
    API's single endpoint and its bulk endpoint."""
    item = {"order": order.pk, "statement": "Prestation achevée."}
    return {
        "portal_form": through_completion_form(world, order),
        "portal_file": through_completion_file(world, order),
        "api_single": through_api(
            world, f"/api/v1/orders/{order.pk}/completion/", {"statement": item["statement"]}
        ),
        "api_bulk": through_api(world, "/api/v1/orders/completions/", {"items": [item]}),
    }


def completion_after_the_end_of_realisation(world):
    order = vendor_order(world.side.vendor, world.staff, referencing=world.side.referencing)
    Deadline.objects.filter(version__dispositif=world.dispositif, kind="realisation").update(
        at=timezone.now() - dt.timedelta(hours=1)
    )
    return "realisation_deadline_passed", completion_doors(world, order)


def completion_of_a_draft(world):
    return "order_not_signed", completion_doors(world, a_draft(world))


def completion_notified_twice(world):
    from sons.services.completion import notify_completion

    order = vendor_order(world.side.vendor, world.staff, referencing=world.side.referencing)
    notify_completion(order=order, actor=world.staff)
    return "completion_already_notified", completion_doors(world, order)


def invoice_dated_in_the_future(world, capture):
    order = vendor_order(
        world.side.vendor, world.staff, referencing=world.side.referencing, pdf=True
    )
    accept_by_va(order, world.staff, capture)
    claim = claim_services.open_claim(order=order, kind=ClaimKind.SOLDE, actor=world.staff)
    day = (timezone.now().astimezone(PARIS) + dt.timedelta(days=2)).date()
    form = writes_nothing(world.portal.post)(
        f"/portail/demandes/{claim.pk}/facture/",
        {
            "number": "F-2026-099",
            "date": day.isoformat(),
            "amount": "1800,00",
            "pdf": SimpleUploadedFile("facture.pdf", invoice_pdf()),
        },
    )
    assert form.status_code == 400
    errors = form.context["invoice_form"].errors.as_data()
    doors = {
        "portal_form": {e.code for field in errors.values() for e in field},
        "api_single": through_api(
            world,
            f"/api/v1/claims/{claim.pk}/invoice/",
            {
                "number": "F-2026-099",
                "date": day.isoformat(),
                "amount_ttc_cents": 180000,
                "pdf": SimpleUploadedFile("facture.pdf", invoice_pdf(), "application/pdf"),
            },
            format="multipart",
        ),
    }
    assert PaymentClaim.objects.get(pk=claim.pk).invoice_number == ""
    return "invoice_date_future", doors


RULES = [
    unknown_dispositif,
    solution_not_distributable,
    invalid_rpps,
    invalid_finess,
    invalid_siret,
    missing_installation_scenario,
    one_live_order,
    signed_in_the_future,
    signed_before_the_order_was_created,
    signed_after_the_orders_deadline,
    completion_after_the_end_of_realisation,
    completion_of_a_draft,
    completion_notified_twice,
]


@pytest.mark.parametrize("rule", RULES, ids=[r.__name__ for r in RULES])
def test_the_same_bad_item_gets_the_same_rule_code_at_every_door(world, rule):
    # Each door is called through `writes_nothing`: the rows counted before and after it.
    code, doors = rule(world)
    assert len(doors) >= 2
    assert all(found == {code} for found in doors.values()), doors


def test_the_same_bad_invoice_gets_the_same_rule_code_at_every_door(
    world, django_capture_on_commit_callbacks
):
    code, doors = invoice_dated_in_the_future(world, django_capture_on_commit_callbacks)
    assert set(doors) == {"portal_form", "api_single"}
    assert all(found == {code} for found in doors.values()), doors


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"signed_at": timezone.now() + dt.timedelta(days=2)}, "signed_at_future"),
        ({"scenario": ""}, "installation_scenario_required"),
        ({"dispositif": "INCONNU-V9"}, "does_not_exist"),
    ],
    ids=["signed_in_the_future", "missing_installation_scenario", "unknown_dispositif"],
)
def test_a_bulk_run_as_a_task_refuses_with_the_same_rule_code(
    world, overrides, code, django_capture_on_commit_callbacks
):
    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        response = world.side.api.post(
            "/api/v1/orders/bulk/",
            {"items": [api_order(order_of(world, **overrides))]},
            HTTP_PREFER="respond-async",
        )
    assert response.status_code == 202
    job = world.side.api.get(response["Location"]).json()
    assert job["state"] == "failed"
    assert {e["code"] for e in job["errors"]} == {code}
    assert counts() == before
