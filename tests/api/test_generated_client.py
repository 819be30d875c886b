"""An integrator's client, generated from api/openapi.yaml by openapi-python-client at test
time, runs the whole vendor flow of docs/api.md against a live server: catalogue, clients,
orders, signature, deployment, VA, MOM, avance and solde claims, filing, the agency's feedback,
bulk (sync and async), webhooks, errors. Any exception in the generated code (an answer it cannot
read) fails the test, and every answer is also checked against the schema by openapi-core.

What a vendor cannot do through the API is set up through the services and factories: the
dispositifs, the referenced solution version, the token, the client's signature of the VA."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from api.views.docs import SCHEMA_FILE
from sons.models import VerificationAptitude
from sons.services import acceptance
from sons.services.acceptance import Signer
from tests.payments.factories import DAY, invoice_pdf, open_dispositif
from tests.sons.factories import ClientFactory, referenced

from .schema_check import check_answer

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "sons_client"
# The generator's settings, as an integrator writes them: the problem documents read as JSON,
# the zip archive as bytes; no formatter run on the generated code.
GENERATOR_CONFIG = f"""\
package_name_override: {PACKAGE}
project_name_override: sons-client
post_hooks: []
content_type_overrides:
  application/problem+json: application/json
  application/zip: application/octet-stream
"""


def generate_client(folder: Path) -> None:
    """openapi-python-client generate, as docs/api.md shows it."""
    config = folder / "config.yaml"
    config.write_text(GENERATOR_CONFIG, encoding="utf-8")
    generator = Path(sys.executable).parent / "openapi-python-client"
    run = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(SCHEMA_FILE),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(folder / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Warning" not in output and "Error" not in output, output


@pytest.fixture(scope="module")
def sons_client(tmp_path_factory):
    """The generated package, imported like any installed one."""
    folder = tmp_path_factory.mktemp("client")
    generate_client(folder)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


class Vendor:
    """The generated client with the vendor's token; every answer checked by openapi-core."""

    def __init__(self, sons_client, base_url: str, token: str | None):
        self.sc = sons_client
        self.api = importlib.import_module(f"{PACKAGE}.api")
        self.m = importlib.import_module(f"{PACKAGE}.models")
        self.types = importlib.import_module(f"{PACKAGE}.types")
        hooks = {"response": [self._check]}
        if token is None:
            self.client = sons_client.Client(
                base_url=base_url,
                raise_on_unexpected_status=True,
                httpx_args={"event_hooks": hooks},
            )
        else:
            self.client = sons_client.AuthenticatedClient(
                base_url=base_url,
                token=token,
                raise_on_unexpected_status=True,
                httpx_args={"event_hooks": hooks},
            )
        self.base_url = base_url

    def close(self) -> None:
        """Closes the kept-alive connections: the server's threads finish within the test."""
        self.client.get_httpx_client().close()

    def _check(self, response) -> None:
        response.read()
        check_answer(
            method=response.request.method,
            path=response.request.url.path,
            status=response.status_code,
            headers=dict(response.headers.items()),
            body=response.content,
            host_url=self.base_url,
        )

    def call(self, module: str, expect: int = 200, /, **kwargs):
        """Calls one operation (« bdc.orders_create »): its answer, parsed by the generated
        code, with the expected status; a POST gets a fresh Idempotency-Key."""
        group, name = module.split(".")
        operation = importlib.import_module(f"{PACKAGE}.api.{group}.{name}")
        if "idempotency_key" in operation.sync_detailed.__code__.co_varnames:
            kwargs.setdefault("idempotency_key", str(uuid.uuid4()))
        response = operation.sync_detailed(client=self.client, **kwargs)
        assert response.status_code == expect, (module, response.status_code, response.content)
        return response


def _file(sons_client_types, content: bytes, name: str, mime: str):
    return sons_client_types.File(payload=io.BytesIO(content), file_name=name, mime_type=mime)


def sign_the_va(order_id: int) -> None:
    """The client signs the VA on its link (not an API operation)."""
    va = VerificationAptitude.objects.get(order_id=order_id)
    acceptance.sign_va(
        va=va,
        signer=Signer(name="Dr Marie Curie", role="Médecin", identity_method="otp"),
        confirmed=list(va.statements),
        document_sha256=va.pdf_sha256,
    )


@pytest.fixture
def connect(sons_client, live_server):
    """Opens a generated client on the live server (with a token, or none); closed after."""
    opened = []

    def connect(token: str | None) -> Vendor:
        opened.append(Vendor(sons_client, live_server.url, token))
        return opened[-1]

    yield connect
    for vendor in opened:
        vendor.close()


def test_the_generated_client_runs_the_whole_vendor_flow(
    connect, side_a, dispositif, admin_user, settings
):
    settings.API_WEBHOOK_ALLOW_LOOPBACK = True
    unset = open_dispositif(acceptance="")  # as 9 of the 15 real ones: acceptance not published
    mom_dispositif = open_dispositif(acceptance="mom")
    referenced(
        dispositif=mom_dispositif,
        actor=admin_user,
        at=timezone.now() - 3 * DAY,
        version=side_a.version,
    )
    vendor = connect(side_a.secret)
    m, types = vendor.m, vendor.types

    # -- the token and the catalogue -------------------------------------------------------
    me = vendor.call("compte.me_retrieve").parsed
    assert me.vendor.name == side_a.vendor.name
    listed = vendor.call("catalogue.dispositifs_list", page_size=100).parsed.results
    acceptances = {d.code: d.acceptance for d in listed}
    assert acceptances[dispositif.code] == m.AcceptanceEnum.VA
    assert acceptances[unset.code] is None
    detail = vendor.call("catalogue.dispositifs_retrieve", code=dispositif.code).parsed
    assert [t.characteristic for t in detail.tariffs] == [None]
    assert len(detail.calendar_in_force) >= 5
    solutions = vendor.call("catalogue.solutions_list").parsed.results
    assert side_a.version.pk in {v.id for s in solutions for v in s.versions}
    referencings = vendor.call("catalogue.referencings_list").parsed.results
    assert {r.dispositif for r in referencings} >= {dispositif.code, mom_dispositif.code}

    # -- clients ----------------------------------------------------------------------------
    created = vendor.call(
        "clients.clients_create",
        201,
        body=m.ClientWriteRequest(
            kind=m.ClientKindEnum.MEDECIN_LIBERAL,
            legal_name="Dr Claire Martin",
            rpps=ClientFactory.build().rpps,
        ),
    )
    client = created.parsed
    assert (client.email, client.mssante_address) == (None, None)
    assert created.headers["Location"].endswith(f"/clients/{client.id}/")
    read = vendor.call("clients.clients_retrieve", id=client.id)
    updated = vendor.call(
        "clients.clients_partial_update",
        id=client.id,
        if_match=read.headers["ETag"],
        body=m.PatchedClientUpdateRequest(
            email="c.martin@example.invalid",
            mssante_address="claire.martin@medecin.mssante.fr",
            city="Lyon",
        ),
    ).parsed
    assert (updated.city, updated.email) == ("Lyon", "c.martin@example.invalid")
    stale = vendor.call(
        "clients.clients_partial_update",
        412,
        id=client.id,
        if_match=read.headers["ETag"],
        body=m.PatchedClientUpdateRequest(city="Lyon 3e"),
    ).parsed
    assert isinstance(stale, m.Problem) and stale.field == "If-Match"
    assert client.id in {c.id for c in vendor.call("clients.clients_list").parsed.results}

    # -- an order: draft (in the list too), corrected, signed, its journal ------------------
    key = str(uuid.uuid4())
    body = m.OrderCreateRequest(
        client=client.id,
        dispositif=dispositif.code,
        solution_version=side_a.version.pk,
        installation_scenario="Poste de travail, profil cabinet libéral",
        vendor_reference="CRM-1001",
    )
    draft_answer = vendor.call("bdc.orders_create", 201, body=body, idempotency_key=key)
    draft = draft_answer.parsed
    assert (draft.status, draft.signature_method) == (m.OrderStatusEnum.DRAFT, None)
    replayed = vendor.call("bdc.orders_create", 201, body=body, idempotency_key=key)
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.parsed.id == draft.id
    page = vendor.call("bdc.orders_list", status=m.OrdersListStatus.DRAFT).parsed
    assert [o.signature_method for o in page.results if o.id == draft.id] == [None]
    corrected = vendor.call(
        "bdc.orders_partial_update",
        id=draft.id,
        if_match=draft_answer.headers["ETag"],
        body=m.PatchedOrderUpdateRequest(vendor_reference="CRM-1001-b"),
    ).parsed
    assert corrected.vendor_reference == "CRM-1001-b"
    signed = vendor.call(
        "bdc.orders_sign_create",
        id=draft.id,
        body=m.OrderSignRequest(
            signatory_name="Dr Claire Martin",
            signatory_role="Médecin titulaire",
            method=m.SignatureMethodEnum.HANDWRITTEN,
        ),
    ).parsed
    assert (signed.status, signed.signature_method) == (
        m.OrderStatusEnum.SIGNED,
        m.SignatureMethodEnum.HANDWRITTEN,
    )
    assert signed.amount_ttc_cents == 180000
    journal = vendor.call("bdc.orders_journal_list", id=draft.id).parsed
    assert [e.transition for e in journal][:2] == ["create", "update"]
    assert journal[0].object_id == draft.id

    # -- deployment -------------------------------------------------------------------------
    deployment = vendor.call(
        "deploiements.orders_deployments_create",
        201,
        id=draft.id,
        body=m.DeploymentCreateRequest(firm_date=timezone.localdate() + dt.timedelta(days=5)),
    ).parsed
    for step in ("start", "install", "verify"):
        deployment = vendor.call(f"deploiements.deployments_{step}_create", id=deployment.id).parsed
    assert deployment.status == m.DeploymentStatusEnum.VERIFIED

    # -- the VA: issued, read, resent, signed by the client ----------------------------------
    va = vendor.call(
        "va_et_mom.orders_vas_create",
        201,
        id=draft.id,
        body=m.VaCreateRequest(delivered_summary="Mise à jour 6.0 installée et paramétrée."),
    ).parsed
    assert (va.status, va.decision) == (m.VaStatusEnum.ISSUED, None)
    vendor.call("va_et_mom.vas_resend_create", id=va.id)
    sign_the_va(draft.id)
    va = vendor.call("va_et_mom.vas_retrieve", id=va.id).parsed
    assert va.status == m.VaStatusEnum.SIGNED and va.decision.signer_name == "Dr Marie Curie"

    # -- the avance: claim, ready, filing, files, transmitted, paid by the agency -----------
    avance = vendor.call(
        "demandes_de_paiement.orders_claims_create",
        201,
        id=draft.id,
        body=m.ClaimCreateRequest(kind=m.FilableKindEnum.AVANCE),
    ).parsed
    ready = vendor.call("demandes_de_paiement.claims_make_ready_create", id=avance.id).parsed
    assert ready.status == m.ClaimStatusEnum.READY
    built = vendor.call(
        "depots_asp.filings_create",
        201,
        body=m.FilingCreateRequest(dispositif=dispositif.code, kind=m.FilableKindEnum.AVANCE),
    ).parsed
    (filing,) = built.filings
    filing = vendor.call("depots_asp.filings_retrieve", id=filing.id).parsed
    assert (filing.files_ready, filing.line_count) == (True, 1)
    assert vendor.call("depots_asp.filings_json_retrieve", id=filing.id).status_code == 200
    archive = vendor.call("depots_asp.filings_zip_retrieve", id=filing.id)
    assert archive.content[:2] == b"PK"
    transmitted = vendor.call("depots_asp.filings_transmit_create", id=filing.id).parsed
    assert transmitted.status == m.FilingStatusEnum.TRANSMITTED
    feedback = {
        "schema_version": "1.0",
        "issued_at": "2026-11-20T10:00:00+01:00",
        "items": [
            {
                "filing": filing.name,
                "line_number": 1,
                "decision": "decidee_et_payee",
                "paid_on": "2026-11-19",
                "paid_amount_cents": avance.amount_ttc_cents,
            }
        ],
    }
    imported = vendor.call(
        "depots_asp.feedback_imports_create",
        201,
        body=m.FeedbackUploadRequest(
            file=_file(types, json.dumps(feedback).encode(), "retour.json", "application/json")
        ),
    ).parsed
    assert imported.moved_count == 1
    paid = vendor.call("demandes_de_paiement.claims_retrieve", id=avance.id).parsed
    assert paid.status == m.ClaimStatusEnum.PAID

    # -- the solde: claim, global invoice, ready, filing ------------------------------------
    solde = vendor.call(
        "demandes_de_paiement.orders_claims_create",
        201,
        id=draft.id,
        body=m.ClaimCreateRequest(kind=m.FilableKindEnum.SOLDE),
    ).parsed
    not_yet = vendor.call("demandes_de_paiement.claims_make_ready_create", 409, id=solde.id).parsed
    assert not_yet.code == "invoice_missing"
    invoiced = vendor.call(
        "demandes_de_paiement.claims_invoice_create",
        id=solde.id,
        body=m.InvoiceRequest(
            number="F-2026-001",
            date=dt.date(2026, 11, 20),
            amount_ttc_cents=180000,
            pdf=_file(types, invoice_pdf(), "facture.pdf", "application/pdf"),
        ),
    ).parsed
    assert invoiced.invoice_number == "F-2026-001"
    vendor.call("demandes_de_paiement.claims_make_ready_create", id=solde.id)
    built = vendor.call(
        "depots_asp.filings_create",
        201,
        body=m.FilingCreateRequest(dispositif=dispositif.code, kind=m.FilableKindEnum.SOLDE),
    ).parsed
    assert [f.kind for f in built.filings] == [m.FilingKindEnum.SOLDE]
    kinds = {c.kind for c in vendor.call("demandes_de_paiement.claims_list").parsed.results}
    assert kinds == {m.ClaimKindEnum.AVANCE, m.ClaimKindEnum.SOLDE}

    # -- a MOM where the dispositif asks for one ---------------------------------------------
    mom_order = vendor.call(
        "bdc.orders_create",
        201,
        body=m.OrderCreateRequest(
            client=client.id,
            dispositif=mom_dispositif.code,
            solution_version=side_a.version.pk,
            installation_scenario="Serveur du cabinet",
        ),
    ).parsed
    vendor.call(
        "bdc.orders_sign_create",
        id=mom_order.id,
        body=m.OrderSignRequest(
            signatory_name="Dr Claire Martin", method=m.SignatureMethodEnum.CPS
        ),
    )
    mom = vendor.call(
        "va_et_mom.orders_mom_create",
        201,
        id=mom_order.id,
        body=m.MomCreateRequest(
            signer_name="Paul Martin", signer_role="Chef de projet", statement="En service"
        ),
    ).parsed
    assert vendor.call("va_et_mom.moms_retrieve", id=mom.id).parsed.statement == "En service"

    # -- bulk, answered at once then by a task ------------------------------------------------
    clients_job = vendor.call(
        "clients.clients_bulk_create",
        body=m.BulkClientsRequest(
            items=[
                m.BulkClientItemRequest(
                    kind=m.ClientKindEnum.MEDECIN_LIBERAL,
                    legal_name=f"Dr Masse {n}",
                    rpps=ClientFactory.build().rpps,
                )
                for n in range(2)
            ]
        ),
    )
    assert clients_job.parsed.state == m.BulkJobStateEnum.SUCCEEDED
    new_clients = [r.id for r in clients_job.parsed.results]
    items = [
        m.BulkOrderItemRequest(
            client=client_id,
            dispositif=dispositif.code,
            solution_version=side_a.version.pk,
            installation_scenario="Poste de travail",
        )
        for client_id in new_clients
    ]
    at_once = vendor.call("bdc.orders_bulk_create", body=m.BulkOrdersRequest(items=items[:1]))
    assert at_once.parsed.state == m.BulkJobStateEnum.SUCCEEDED
    queued = vendor.call(
        "bdc.orders_bulk_create",
        202,
        body=m.BulkOrdersRequest(items=items[1:]),
        prefer="respond-async",
    )
    assert queued.headers["Location"] == f"/api/v1/bulk-jobs/{queued.parsed.id}/"
    job = vendor.call("traitements_en_masse.bulk_jobs_retrieve", id=str(queued.parsed.id)).parsed
    assert job.state == m.BulkJobStateEnum.SUCCEEDED and len(job.results) == 1

    # -- webhooks: subscribe, read, change, its deliveries, unsubscribe ----------------------
    subscribed = vendor.call(
        "webhooks.webhooks_create",
        201,
        body=m.WebhookSubscriptionWriteRequest(
            url="http://127.0.0.1:9/hooks/sons",
            events=[m.EventsEnum.VA_SIGNED, m.EventsEnum.CLAIM_PAID],
        ),
    )
    subscription = subscribed.parsed
    assert subscription.secret
    changed = vendor.call(
        "webhooks.webhooks_partial_update",
        id=subscription.id,
        if_match=subscribed.headers["ETag"],
        body=m.PatchedWebhookSubscriptionUpdateRequest(description="CRM de production"),
    ).parsed
    assert changed.description == "CRM de production"
    assert [w.id for w in vendor.call("webhooks.webhooks_list").parsed.results] == [subscription.id]
    vendor.call("webhooks.webhooks_deliveries_list", id=subscription.id)
    vendor.call("webhooks.webhooks_destroy", 204, id=subscription.id)

    # -- errors, read as problem documents ---------------------------------------------------
    again = vendor.call(
        "bdc.orders_sign_create",
        409,
        id=draft.id,
        body=m.OrderSignRequest(signatory_name="X", method=m.SignatureMethodEnum.CPS),
    ).parsed
    assert (again.code, again.field) == ("transition_not_allowed", "status")
    unknown = vendor.call("bdc.orders_retrieve", 404, id=10**17).parsed
    assert unknown.code == "not_found" and unknown.detail.startswith("Aucun objet")
    invalid = vendor.call(
        "bdc.orders_create",
        400,
        body=m.OrderCreateRequest(
            client=10**17,
            dispositif=dispositif.code,
            solution_version=side_a.version.pk,
            installation_scenario="Poste",
        ),
    ).parsed
    assert invalid.field == "client" and invalid.errors[0].field == "client"
    anonymous = connect(None)
    refused = anonymous.call("compte.me_retrieve", 401)
    assert refused.parsed.code == "not_authenticated"
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
