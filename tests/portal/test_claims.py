"""Claims and filings from the portal: ready claims, building a filing, its JSON and zip, the
agency's feedback file and what it changed; every move through payments.services."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from payments.models import AspFiling, ClaimKind, ClaimStatus, FilingStatus, PaymentClaim
from sons.models import OrderStatus
from tests.payments.factories import accept_by_va, invoice_pdf
from tests.portal.conftest import vendor_order, vendor_referencing
from tests.responses import downloaded, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def accepted(vendor, staff, django_capture_on_commit_callbacks):
    order = vendor_order(vendor, staff, referencing=vendor_referencing(vendor, staff), pdf=True)
    accept_by_va(order, staff, django_capture_on_commit_callbacks)
    return order


def feedback(items):
    return json.dumps(
        {"schema_version": "1.0", "issued_at": "2026-11-20T10:00:00+01:00", "items": items}
    ).encode()


def test_a_solde_from_invoice_to_filing_to_the_agencys_payment(
    staff_client, accepted, django_capture_on_commit_callbacks
):
    page = text(staff_client.get("/portail/demandes/"))
    assert "1 BDC réceptionné sans demande de solde" in page
    response = staff_client.post(f"/portail/demandes/ouvrir/{accepted.pk}/solde/")
    claim = PaymentClaim.objects.get(order=accepted, kind=ClaimKind.SOLDE)
    assert response["Location"] == f"/portail/demandes/{claim.pk}/"
    page = text(staff_client.get(f"/portail/demandes/{claim.pk}/"))
    assert "La facture (numéro, date, PDF) doit être jointe." in page

    staff_client.post(f"/portail/demandes/{claim.pk}/prete/")
    assert PaymentClaim.objects.get(pk=claim.pk).status == ClaimStatus.DRAFT

    staff_client.post(
        f"/portail/demandes/{claim.pk}/facture/",
        {
            "number": "F-2026-001",
            "date": "2026-11-20",
            "amount": "1800,00",
            "pdf": SimpleUploadedFile("facture.pdf", invoice_pdf()),
        },
    )
    staff_client.post(f"/portail/demandes/{claim.pk}/prete/")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.READY
    assert downloaded(staff_client.get(f"/portail/demandes/{claim.pk}/facture.pdf")).startswith(
        b"%PDF"
    )

    page = text(staff_client.get("/portail/demandes/"))
    assert "Constituer le dépôt" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/portail/depots/constituer/",
            {"dispositif": accepted.dispositif_id, "kind": ClaimKind.SOLDE},
        )
    filing = AspFiling.objects.get()
    assert response["Location"] == f"/portail/depots/{filing.pk}/"
    page = text(staff_client.get(f"/portail/depots/{filing.pk}/"))
    assert filing.json_sha256 in page and filing.zip_sha256 in page
    document = json.loads(downloaded(staff_client.get(f"/portail/depots/{filing.pk}/fichier.json")))
    assert document
    assert downloaded(staff_client.get(f"/portail/depots/{filing.pk}/pieces.zip")).startswith(b"PK")
    staff_client.post(f"/portail/depots/{filing.pk}/transmettre/")
    assert AspFiling.objects.get().status == FilingStatus.TRANSMITTED

    content = feedback(
        [
            {
                "filing": filing.name,
                "line_number": 1,
                "decision": "decidee_et_payee",
                "paid_on": "2026-11-25",
                "paid_amount_cents": claim.amount_ttc_cents,
            }
        ]
    )
    response = staff_client.post(
        "/portail/retours-asp/", {"file": SimpleUploadedFile("retour.json", content)}
    )
    page = text(response)
    assert "1 demande modifiée par ce retour" in page
    assert "Déposée à l'ASP" in page and "Décidée et payée" in page
    accepted.refresh_from_db()
    assert accepted.status == OrderStatus.COMPLETED
    again = staff_client.post(
        "/portail/retours-asp/", {"file": SimpleUploadedFile("retour.json", content)}
    )
    assert "Ce fichier a déjà été importé" in text(again)


def test_an_avance_is_made_ready_in_one_step(staff_client, vendor, staff):
    order = vendor_order(vendor, staff)
    response = staff_client.post(f"/portail/demandes/ouvrir/{order.pk}/avance/", follow=True)
    assert "Demande d'avance de" in text(response)
    claim = PaymentClaim.objects.get(order=order)
    assert (claim.kind, claim.status, claim.amount_ttc_cents) == (
        ClaimKind.AVANCE,
        ClaimStatus.READY,
        54000,
    )
    response = staff_client.post(f"/portail/demandes/ouvrir/{order.pk}/avance/", follow=True)
    assert "a déjà une demande d'avance en cours ou payée" in text(response)


def test_a_solde_that_a_rule_stops_says_why(staff_client, vendor, staff):
    order = vendor_order(vendor, staff)  # signed, never delivered
    response = staff_client.get(f"/portail/bdc/{order.pk}/")
    solde = next(a for a in response.context["actions"] if a.key == "claim_solde")
    assert not solde.enabled
    assert "La VA signée par le client est requise." in solde.reasons


def test_a_feedback_file_naming_another_vendors_filing_changes_nothing(
    staff_client, other_vendor, staff, django_capture_on_commit_callbacks
):
    theirs = vendor_order(other_vendor, staff, pdf=True)
    from payments.services import claims, filings

    claim = claims.make_ready(
        claim=claims.open_claim(order=theirs, kind=ClaimKind.AVANCE, actor=staff), actor=staff
    )
    with django_capture_on_commit_callbacks(execute=True):
        (filing,) = filings.build_filings(
            vendor=other_vendor, dispositif=theirs.dispositif, kind=ClaimKind.AVANCE, actor=staff
        )
    content = feedback(
        [
            {
                "filing": filing.name,
                "line_number": 1,
                "decision": "rejetee",
                "reason": "Pièce manquante",
            }
        ]
    )
    response = staff_client.post(
        "/portail/retours-asp/", {"file": SimpleUploadedFile("retour.json", content)}
    )
    assert response.status_code == 400
    assert f"dépôt inconnu : {filing.name}" in text(response)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SUBMITTED


def test_an_unreadable_feedback_file_is_refused_whole(staff_client, staff):
    response = staff_client.post(
        "/portail/retours-asp/", {"file": SimpleUploadedFile("retour.json", b"{pas du json")}
    )
    assert response.status_code == 400
    assert "fichier illisible" in text(response)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("1 800,00", 180000), ("1800.5", 180050), ("1\u202f800,00 €", 180000), ("0,01", 1)],
)
def test_invoice_amounts_are_read_as_people_type_them(typed, cents):
    from portal.forms import InvoiceForm

    form = InvoiceForm(
        {"number": "F-1", "date": "2026-11-20", "amount": typed},
        {"pdf": SimpleUploadedFile("f.pdf", invoice_pdf())},
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == cents


@pytest.mark.parametrize("typed", ["douze", "12,345", "-5"])
def test_invoice_amounts_that_are_not_money_are_refused(typed):
    from portal.forms import InvoiceForm

    form = InvoiceForm(
        {"number": "F-1", "date": "2026-11-20", "amount": typed},
        {"pdf": SimpleUploadedFile("f.pdf", invoice_pdf())},
    )
    assert not form.is_valid()
    assert "amount" in form.errors


def test_the_secondary_prestation_is_claimed_where_the_dispositif_has_one(
    staff_client, vendor, staff, django_capture_on_commit_callbacks
):
    from decimal import Decimal

    from catalogue.models import Prestation, Tariff
    from catalogue.rules import TariffKind

    referencing = vendor_referencing(vendor, staff)
    Tariff.objects.create(
        dispositif=referencing.dispositif,
        prestation=Prestation.SECONDARY,
        kind=TariffKind.FLAT,
        flat_cents=50000,
        vat_rate=Decimal("0.20"),
    )
    order = vendor_order(vendor, staff, referencing=referencing)
    accept_by_va(order, staff, django_capture_on_commit_callbacks)
    response = staff_client.get(f"/portail/bdc/{order.pk}/")
    action = next(a for a in response.context["actions"] if a.key == "claim_secondaire")
    assert action.enabled, action.reasons
    response = staff_client.post(f"/portail/bdc/{order.pk}/actions/claim_secondaire/")
    claim = PaymentClaim.objects.get(order=order, kind=ClaimKind.SECONDAIRE)
    assert response["Location"] == f"/portail/demandes/{claim.pk}/"
    assert claim.amount_ttc_cents == 60000


def close_avances(dispositif):
    """The dispositif's end of avances moved to a minute ago."""
    import datetime as dt

    from django.utils import timezone

    from catalogue.models import Deadline

    Deadline.objects.filter(version__dispositif=dispositif, kind="advances").update(
        at=timezone.now() - dt.timedelta(minutes=1)
    )


def test_step4_late_avances_are_left_out_and_the_pages_say_why(
    staff_client, vendor, staff, django_capture_on_commit_callbacks
):
    """SONS.md, life of a Prestation, step 4: a claim ready in time but deposited after the
    cut-off is late; the filing leaves it out, the pages say so and why."""
    from django.core import mail

    from payments.services import claims

    vendor.contact_email = "depots@editeur-a.example"
    vendor.save(update_fields=["contact_email"])
    order = vendor_order(vendor, staff, referencing=vendor_referencing(vendor, staff), pdf=True)
    claim = claims.make_ready(
        claim=claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=staff), actor=staff
    )
    close_avances(order.dispositif)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/portail/depots/constituer/",
            {"dispositif": order.dispositif_id, "kind": "avance"},
            follow=True,
        )
    page = text(response)
    assert "1 demande(s) hors délai écartée(s) du dépôt" in page
    assert "Demandes hors délai, écartées des dépôts" in page
    assert "Fin des demandes d'avance le " in page
    assert not AspFiling.objects.exists()
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.READY and claim.deadline_missed_reason
    assert "Fin des demandes d'avance le " in text(
        staff_client.get(f"/portail/demandes/{claim.pk}/")
    )
    (message,) = mail.outbox
    assert order.reference in message.body and claim.deadline_missed_reason in message.body


def test_step4_a_filing_transmitted_after_the_cut_off_is_shown_set_aside(
    staff_client, vendor, staff, django_capture_on_commit_callbacks
):
    from payments.services import claims, filings

    order = vendor_order(vendor, staff, referencing=vendor_referencing(vendor, staff), pdf=True)
    claims.make_ready(
        claim=claims.open_claim(order=order, kind=ClaimKind.AVANCE, actor=staff), actor=staff
    )
    with django_capture_on_commit_callbacks(execute=True):
        (filing,) = filings.build_filings(
            vendor=vendor, dispositif=order.dispositif, kind=ClaimKind.AVANCE, actor=staff
        )
    close_avances(order.dispositif)
    response = staff_client.post(f"/portail/depots/{filing.pk}/transmettre/", follow=True)
    page = text(response)
    assert "Dépôt non transmis et écarté" in page
    assert "Écarté : hors délai, non transmis" in page
    assert "Marquer transmis à l'ASP" not in page
    filing.refresh_from_db()
    assert filing.status == FilingStatus.SET_ASIDE
