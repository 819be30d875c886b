"""One client, one BDC at a time: the portal's forms call the commands the files and the API
call (save_clients, save_orders, record_signatures, attach_invoice), refuse what their rules
refuse under the field at fault, keep what was typed, and link a refused action to its fix."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from catalogue.deadlines import PARIS
from sons.models import ClientRelationship, OrderStatus, PurchaseOrder
from tests.portal.conftest import vendor_order, vendor_referencing
from tests.responses import text
from tests.sons.factories import ClientFactory, record_for, valid_rpps

pytestmark = pytest.mark.django_db


@pytest.fixture
def referencing(vendor, staff):
    return vendor_referencing(vendor, staff)


def error_under(page: str, field_id: str) -> str:
    """The error shown under a field (tied to it by aria-describedby)."""
    marker = f'id="{field_id}-erreur-1">'
    assert marker in page, f"no error under {field_id}"
    return page.split(marker, 1)[1].split("</p>", 1)[0]


def client_form(**changes):
    return {
        "kind": "medecin_liberal",
        "legal_name": "Dr Jeanne Martin",
        "rpps": valid_rpps(901),
        "email": "j.martin@example.invalid",
        "mssante_address": "j.martin@medecin.mssante.fr",
        **changes,
    }


def test_a_client_with_a_wrong_rpps_is_refused_under_the_field_then_registered(
    staff_client, vendor
):
    typed = client_form(rpps="12345678901")
    response = staff_client.post("/portail/clients/nouveau/", typed)
    assert response.status_code == 400
    page = text(response)
    assert "RPPS" in error_under(page, "id_rpps")
    # What was typed is kept.
    assert 'value="Dr Jeanne Martin"' in page and 'value="j.martin@medecin.mssante.fr"' in page
    assert not ClientRelationship.objects.filter(vendor=vendor).exists()

    response = staff_client.post("/portail/clients/nouveau/", client_form())
    assert response["Location"] == "/portail/clients/"
    record = ClientRelationship.objects.select_related("client").get(vendor=vendor)
    assert record.client.legal_name == "Dr Jeanne Martin"
    assert record.mssante_address == "j.martin@medecin.mssante.fr"
    assert "Dr Jeanne Martin" in text(staff_client.get("/portail/clients/"))


def test_a_professional_without_rpps_is_refused_by_the_clients_rule(staff_client, vendor):
    response = staff_client.post("/portail/clients/nouveau/", client_form(rpps=""))
    assert response.status_code == 400
    assert "doit avoir un RPPS" in error_under(text(response), "id_rpps")


def test_editing_a_client_changes_the_vendors_record_only(staff_client, vendor, other_vendor):
    client = ClientFactory()
    record_for(client, vendor, mssante_address="")
    theirs = record_for(client, other_vendor, mssante_address="autre@medecin.mssante.fr")
    response = staff_client.post(
        f"/portail/clients/{client.pk}/modifier/", {"mssante_address": "pas une adresse"}
    )
    assert response.status_code == 400
    assert error_under(text(response), "id_mssante_address")
    response = staff_client.post(
        f"/portail/clients/{client.pk}/modifier/",
        {"mssante_address": "dr@medecin.mssante.fr", "email": "dr@example.invalid"},
    )
    assert response.status_code == 302
    mine = ClientRelationship.objects.get(vendor=vendor, client=client)
    assert mine.mssante_address == "dr@medecin.mssante.fr"
    theirs.refresh_from_db()
    assert theirs.mssante_address == "autre@medecin.mssante.fr"


def test_another_vendors_client_is_not_found(staff_client, other_vendor):
    client = ClientFactory()
    record_for(client, other_vendor)
    assert staff_client.get(f"/portail/clients/{client.pk}/modifier/").status_code == 404


def test_a_bdc_is_created_for_one_client_then_corrected_while_a_draft(
    staff_client, vendor, staff, referencing
):
    client = ClientFactory()
    record_for(client, vendor)
    form = {
        "client": client.pk,
        "dispositif": referencing.dispositif.code,
        "solution_version": referencing.solution_version_id,
        "installation_scenario": "",
        "vendor_reference": "CRM-1",
    }
    response = staff_client.post("/portail/bdc/nouveau/", form)
    assert response.status_code == 400
    assert error_under(text(response), "id_installation_scenario")
    assert 'value="CRM-1"' in text(response)

    response = staff_client.post("/portail/bdc/nouveau/", {**form, "installation_scenario": "A"})
    order = PurchaseOrder.objects.get(vendor=vendor, client=client)
    assert response["Location"] == f"/portail/bdc/{order.pk}/"
    assert order.status == OrderStatus.DRAFT

    # One live BDC per client and dispositif: the command's rule, under the client field.
    response = staff_client.post("/portail/bdc/nouveau/", {**form, "installation_scenario": "A"})
    assert response.status_code == 400
    assert "déjà un BDC en cours" in error_under(text(response), "id_client")

    response = staff_client.post(
        f"/portail/bdc/{order.pk}/modifier/",
        {"installation_scenario": "B", "vendor_reference": "CRM-2"},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.installation_scenario, order.vendor_reference) == ("B", "CRM-2")


def test_a_signed_bdc_keeps_its_installation_scenario(staff_client, vendor, staff, referencing):
    order = vendor_order(vendor, staff, referencing=referencing)
    response = staff_client.post(
        f"/portail/bdc/{order.pk}/modifier/",
        {"installation_scenario": "Autre", "vendor_reference": ""},
    )
    assert response.status_code == 400
    assert "ne change plus" in error_under(text(response), "id_installation_scenario")


def test_a_signature_in_the_future_is_refused_under_its_field(
    staff_client, vendor, staff, referencing
):
    draft = vendor_order(vendor, staff, referencing=referencing, signed=False)
    future = (timezone.now() + dt.timedelta(days=40)).astimezone(PARIS)
    response = staff_client.post(
        f"/portail/bdc/{draft.pk}/actions/sign/",
        {
            "sign-signatory_name": "Dr Jeanne Martin",
            "sign-signatory_role": "Médecin",
            "sign-method": "handwritten",
            "sign-signed_at": future.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 400
    page = text(response)
    assert "dans le futur" in error_under(page, "id_sign-signed_at")
    assert 'value="Dr Jeanne Martin"' in page
    draft.refresh_from_db()
    assert draft.status == OrderStatus.DRAFT


def test_issuing_a_va_without_mssante_address_links_to_the_clients_record(
    staff_client, vendor, staff, referencing
):
    client = ClientFactory()
    order = vendor_order(vendor, staff, referencing=referencing, client=client)
    record_for(client, vendor, mssante_address="")
    page = text(staff_client.get(f"/portail/bdc/{order.pk}/"))
    assert 'disabled aria-describedby="raison-issue_va"' in page
    link = f"/portail/clients/{client.pk}/modifier/?next=%2Fportail%2Fbdc%2F{order.pk}%2F"
    assert link in page
    response = staff_client.post(link, {"mssante_address": "dr@medecin.mssante.fr"})
    assert response["Location"] == f"/portail/bdc/{order.pk}/"
    page = text(staff_client.get(f"/portail/bdc/{order.pk}/"))
    assert 'aria-describedby="raison-issue_va"' not in page


@pytest.fixture
def solde_claim(vendor, staff, referencing, django_capture_on_commit_callbacks):
    from payments.models import ClaimKind
    from payments.services import claims
    from tests.payments.factories import accept_by_va

    order = vendor_order(vendor, staff, referencing=referencing, pdf=True)
    accept_by_va(order, staff, django_capture_on_commit_callbacks)
    return claims.open_claim(order=order, kind=ClaimKind.SOLDE, actor=staff)


def test_an_invoice_dated_in_the_future_is_refused_under_its_field(staff_client, solde_claim):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.payments.factories import invoice_pdf

    tomorrow = timezone.now().astimezone(PARIS).date() + dt.timedelta(days=1)
    response = staff_client.post(
        f"/portail/demandes/{solde_claim.pk}/facture/",
        {
            "number": "F-1",
            "date": tomorrow.isoformat(),
            "amount": "1 800,00 €",
            "pdf": SimpleUploadedFile("facture.pdf", invoice_pdf()),
        },
    )
    assert response.status_code == 400
    page = text(response)
    assert "est dans le futur" in error_under(page, "id_date")
    assert 'value="F-1"' in page and 'value="1 800,00 €"' in page
    # Under its field only: no banner repeating it.
    assert 'class="fr-alert fr-alert--sm fr-alert--error' not in page
    solde_claim.refresh_from_db()
    assert not solde_claim.invoice_number


def test_an_invoice_that_is_not_a_pdf_keeps_what_was_typed(staff_client, solde_claim):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = staff_client.post(
        f"/portail/demandes/{solde_claim.pk}/facture/",
        {
            "number": "F-2",
            "date": "2026-11-20",
            "amount": "1800,00",
            "pdf": SimpleUploadedFile("facture.docx", b"PK\x03\x04 not a pdf"),
        },
    )
    assert response.status_code == 400
    page = text(response)
    assert error_under(page, "id_pdf")
    assert 'value="F-2"' in page and 'value="2026-11-20"' in page and 'value="1800,00"' in page


def test_a_passed_deadline_says_what_happened_not_what_to_do(staff_client, vendor, staff):
    from catalogue.models import Deadline

    order = vendor_order(vendor, staff, signed=False)
    page = re.sub(r"<[^>]+>", "", text(staff_client.get("/portail/")))
    assert "BDC à faire signer : 1" in page
    Deadline.objects.filter(version__dispositif=order.dispositif, kind="orders").update(
        at=timezone.now() - dt.timedelta(minutes=1)
    )
    page = re.sub(r"<[^>]+>", "", text(staff_client.get("/portail/")))
    assert "BDC à faire signer" not in page
    assert "BDC restés non signés à l'échéance : ils ne peuvent plus être signés" in page


def test_the_vas_page_says_aucun_when_no_client_is_waiting(staff_client):
    page = text(staff_client.get("/portail/va/"))
    assert "Aucun client n'attend de signer une VA" in page
    assert "0 client" not in page
