"""Deployments, VA and MOM, claims, filings and the agency's feedback through the API."""

import datetime as dt
import hashlib
import io
import json
import zipfile

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from payments.models import ClaimStatus, PaymentClaim
from sons.models import VerificationAptitude
from sons.services import acceptance
from sons.services.acceptance import Signer
from tests.api.conftest import signed_order
from tests.payments.factories import invoice_pdf, open_dispositif

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(side_a, dispositif, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return signed_order(side_a, dispositif)


def test_a_deployment_goes_from_firm_date_to_verified(side_a, order):
    firm = timezone.localdate() + dt.timedelta(days=5)
    created = side_a.api.post(
        f"/api/v1/orders/{order['id']}/deployments/", {"firm_date": str(firm)}
    )
    assert created.status_code == 201
    deployment = created.json()
    assert (deployment["status"], deployment["firm_date"]) == ("scheduled", str(firm))
    for step, state in (("start", "in_progress"), ("install", "installed"), ("verify", "verified")):
        response = side_a.api.post(f"/api/v1/deployments/{deployment['id']}/{step}/")
        assert response.status_code == 200 and response.json()["status"] == state
    abandon = side_a.api.post(
        f"/api/v1/deployments/{deployment['id']}/abandon/", {"reason": "Trop tard"}
    )
    assert abandon.status_code == 409
    listed = side_a.api.get("/api/v1/deployments/", {"order": order["id"]}).json()["results"]
    assert [d["status"] for d in listed] == ["verified"]


def test_a_firm_date_in_the_past_is_refused(side_a, order):
    response = side_a.api.post(
        f"/api/v1/orders/{order['id']}/deployments/", {"firm_date": "2001-01-01"}
    )
    assert response.status_code == 409 and response.json()["code"] == "firm_date_in_past"


def test_a_va_is_issued_and_its_link_mailed_then_resent(
    side_a, order, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = side_a.api.post(
            f"/api/v1/orders/{order['id']}/vas/", {"delivered_summary": "Mise à jour faite"}
        )
    assert response.status_code == 201
    va = response.json()
    assert (va["status"], va["version"], va["decision"]) == ("issued", 1, None)
    read = side_a.api.get(f"/api/v1/vas/{va['id']}/").json()
    assert len(read["pdf_sha256"]) == 64
    sent = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        resent = side_a.api.post(f"/api/v1/vas/{va['id']}/resend/")
    assert resent.status_code == 200
    assert len(mail.outbox) == sent + 1
    again = side_a.api.post(f"/api/v1/orders/{order['id']}/vas/", {"delivered_summary": "X"})
    assert again.status_code == 409 and again.json()["code"] == "va_already_open"


def test_a_signed_va_reads_as_signed_and_cannot_be_resent(
    side_a, order, django_capture_on_commit_callbacks
):
    va = sign_va_of(side_a, order, django_capture_on_commit_callbacks)
    body = side_a.api.get(f"/api/v1/vas/{va.pk}/").json()
    assert body["status"] == "signed"
    assert body["decision"]["outcome"] == "signed"
    assert body["decision"]["signer_name"] == "Dr Marie Curie"
    response = side_a.api.post(f"/api/v1/vas/{va.pk}/resend/")
    assert response.status_code == 409
    assert response.json()["code"] == "va_not_awaiting_signature"
    pending = side_a.api.get("/api/v1/vas/", {"status": "issued"}).json()["results"]
    assert pending == []


def test_a_mom_is_declared_where_the_dispositif_admits_it(side_a, order, admin_user):
    response = side_a.api.post(
        f"/api/v1/orders/{order['id']}/mom/",
        {"signer_name": "Paul Martin", "signer_role": "Chef de projet", "statement": "En service"},
    )
    assert response.status_code == 409 and response.json()["code"] == "mom_not_applicable"


def test_a_mom_declared_names_the_token_as_identity(side_a, admin_user):
    from tests.api.test_isolation import signed_order_on
    from tests.sons.factories import referenced

    dispositif = open_dispositif(acceptance="mom")
    referenced(
        dispositif=dispositif,
        actor=admin_user,
        at=timezone.now() - dt.timedelta(days=3),
        version=side_a.version,
    )
    order = signed_order_on(side_a, dispositif)
    response = side_a.api.post(
        f"/api/v1/orders/{order['id']}/mom/",
        {"signer_name": "Paul Martin", "signer_role": "Chef de projet", "statement": "En service"},
    )
    assert response.status_code == 201
    mom = response.json()
    assert mom["identity_method"].startswith("jeton d'API ")
    assert side_a.api.get(f"/api/v1/moms/{mom['id']}/").json()["statement"] == "En service"


def sign_va_of(side, order, capture) -> VerificationAptitude:
    with capture(execute=True):
        side.api.post(f"/api/v1/orders/{order['id']}/vas/", {"delivered_summary": "Fait"})
    va = VerificationAptitude.objects.get(order_id=order["id"])
    with capture(execute=True):
        return acceptance.sign_va(
            va=va,
            signer=Signer(name="Dr Marie Curie", role="Médecin", identity_method="otp"),
            confirmed=list(va.statements),
            document_sha256=va.pdf_sha256,
        )


def feedback(items) -> SimpleUploadedFile:
    content = json.dumps(
        {"schema_version": "1.0", "issued_at": "2026-11-20T10:00:00+01:00", "items": items}
    ).encode()
    return SimpleUploadedFile("retour.json", content, "application/json")


def test_a_whole_filing_through_the_api(
    side_a, order, dispositif, django_capture_on_commit_callbacks
):
    api = side_a.api
    sign_va_of(side_a, order, django_capture_on_commit_callbacks)
    # avance: open, check, file, download, transmit, paid by the agency
    avance = api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
    assert (avance["status"], avance["amount_ttc_cents"]) == ("draft", 54000)
    assert api.post(f"/api/v1/claims/{avance['id']}/make-ready/").json()["status"] == "ready"
    with django_capture_on_commit_callbacks(execute=True):
        built = api.post("/api/v1/filings/", {"dispositif": dispositif.code, "kind": "avance"})
    assert built.status_code == 201
    filing = built.json()["filings"][0]
    filing = api.get(f"/api/v1/filings/{filing['id']}/").json()
    assert (filing["files_ready"], filing["line_count"]) == (True, 1)
    downloaded = api.get(f"/api/v1/filings/{filing['id']}/json/")
    assert downloaded.status_code == 200
    content = b"".join(downloaded.streaming_content)
    assert hashlib.sha256(content).hexdigest() == filing["json_sha256"]
    assert filing["name"] in content.decode()
    archive = api.get(f"/api/v1/filings/{filing['id']}/zip/")
    assert archive["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))).namelist()
    assert "MANIFEST.sha256" in names
    assert api.post(f"/api/v1/filings/{filing['id']}/transmit/").json()["status"] == "transmitted"
    upload = feedback(
        [
            {
                "filing": filing["name"],
                "line_number": 1,
                "decision": "decidee_et_payee",
                "paid_on": "2026-11-19",
                "paid_amount_cents": 54000,
            }
        ]
    )
    imported = api.post("/api/v1/feedback-imports/", {"file": upload}, format="multipart")
    assert imported.status_code == 201
    assert imported.json()["moved_count"] == 1
    assert api.get(f"/api/v1/claims/{avance['id']}/").json()["status"] == "paid"
    upload.seek(0)
    again = api.post("/api/v1/feedback-imports/", {"file": upload}, format="multipart")
    assert again.status_code == 200 and again.json()["id"] == imported.json()["id"]
    # solde: the global invoice, then ready
    solde = api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "solde"}).json()
    not_yet = api.post(f"/api/v1/claims/{solde['id']}/make-ready/")
    assert not_yet.status_code == 409 and not_yet.json()["code"] == "invoice_missing"
    invoiced = api.post(
        f"/api/v1/claims/{solde['id']}/invoice/",
        {
            "number": "F-2026-001",
            "date": "2026-11-20",
            "amount_ttc_cents": 180000,
            "pdf": SimpleUploadedFile("facture.pdf", invoice_pdf(), "application/pdf"),
        },
        format="multipart",
    )
    assert invoiced.status_code == 200 and invoiced.json()["invoice_number"] == "F-2026-001"
    assert api.post(f"/api/v1/claims/{solde['id']}/make-ready/").json()["status"] == "ready"
    with django_capture_on_commit_callbacks(execute=True):
        built = api.post("/api/v1/filings/", {"dispositif": dispositif.code, "kind": "solde"})
    assert built.json()["filings"][0]["kind"] == "solde"
    kinds = {
        c["kind"] for c in api.get("/api/v1/claims/", {"order": order["id"]}).json()["results"]
    }
    assert kinds == {"avance", "solde"}


def test_nothing_to_file_is_a_409(side_a, dispositif):
    response = side_a.api.post(
        "/api/v1/filings/", {"dispositif": dispositif.code, "kind": "avance"}
    )
    assert response.status_code == 409 and response.json()["code"] == "nothing_to_file"


def test_a_malformed_feedback_file_is_a_400_naming_the_line(side_a):
    upload = feedback([{"filing": "X", "line_number": 0, "decision": "validee"}])
    response = side_a.api.post("/api/v1/feedback-imports/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "file.items.0.line_number"


def test_a_claim_is_cancelled_and_a_corrected_one_reopened(side_a, order):
    claim = side_a.api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
    reopen = side_a.api.post(f"/api/v1/claims/{claim['id']}/reopen/")
    assert reopen.status_code == 409
    cancelled = side_a.api.post(f"/api/v1/claims/{claim['id']}/cancel/", {"reason": "Doublon"})
    assert cancelled.json()["status"] == "cancelled"
    assert PaymentClaim.objects.get(pk=claim["id"]).status == ClaimStatus.CANCELLED


def close_avances(dispositif, *, ago=dt.timedelta(minutes=1)):
    """The dispositif's end of avances moved to a minute ago (its founding calendar)."""
    from catalogue.models import Deadline

    Deadline.objects.filter(version__dispositif=dispositif, kind="advances").update(
        at=timezone.now() - ago
    )


def test_step4_a_late_avance_is_left_out_of_the_filing_and_the_claim_says_why(
    side_a, order, dispositif, django_capture_on_commit_callbacks
):
    """SONS.md, life of a Prestation, step 4: never a late claim in a filing."""
    api = side_a.api
    avance = api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
    assert api.post(f"/api/v1/claims/{avance['id']}/make-ready/").json()["status"] == "ready"
    close_avances(dispositif)
    with django_capture_on_commit_callbacks(execute=True):
        built = api.post("/api/v1/filings/", {"dispositif": dispositif.code, "kind": "avance"})
    assert built.status_code == 200  # nothing built
    body = built.json()
    assert body["filings"] == []
    (left,) = body["left_out"]
    assert (left["claim_id"], left["kind"]) == (avance["id"], "avance")
    assert left["reason"].startswith("Fin des demandes d'avance le ")
    claim = api.get(f"/api/v1/claims/{avance['id']}/").json()
    assert claim["status"] == "ready" and claim["filing"] is None
    assert claim["deadline_missed_reason"] == left["reason"]
    assert claim["deadline_missed_at"] is not None


def test_step4_a_filing_transmitted_after_the_cut_off_is_refused_and_set_aside(
    side_a, order, dispositif, django_capture_on_commit_callbacks
):
    api = side_a.api
    avance = api.post(f"/api/v1/orders/{order['id']}/claims/", {"kind": "avance"}).json()
    api.post(f"/api/v1/claims/{avance['id']}/make-ready/")
    with django_capture_on_commit_callbacks(execute=True):
        built = api.post("/api/v1/filings/", {"dispositif": dispositif.code, "kind": "avance"})
    assert built.status_code == 201 and built.json()["left_out"] == []
    filing = api.get(f"/api/v1/filings/{built.json()['filings'][0]['id']}/").json()
    assert filing["files_ready"]
    close_avances(dispositif)
    with django_capture_on_commit_callbacks(execute=True):
        refused = api.post(f"/api/v1/filings/{filing['id']}/transmit/")
    assert refused.status_code == 409 and refused.json()["code"] == "filing_deadline_passed"
    after = api.get(f"/api/v1/filings/{filing['id']}/").json()
    assert (after["status"], after["transmitted_at"]) == ("set_aside", None)
    assert after["json_sha256"] == filing["json_sha256"]  # the file as built, never rewritten
    assert "Fin des demandes d'avance le " in after["set_aside_reason"]
    claim = api.get(f"/api/v1/claims/{avance['id']}/").json()
    assert (claim["status"], claim["filing"]) == ("ready", None)
    assert claim["deadline_missed_reason"].startswith("Fin des demandes d'avance le ")
