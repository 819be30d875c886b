"""Orders: the list (filters, search, export), one order's page (journal, documents with their
hashes, actions allowed now or the rule that forbids them) and the actions, through services."""

import datetime as dt

import pytest
from django.utils import timezone

from catalogue.deadlines import PARIS
from sons.models import OrderStatus, PurchaseOrder, VaStatus
from sons.services import acceptance
from sons.tasks import render_order_pdf
from tests.portal.conftest import vendor_order, vendor_referencing
from tests.responses import downloaded, text
from tests.sons.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def referencing(vendor, staff):
    return vendor_referencing(vendor, staff)


@pytest.fixture
def order(vendor, staff, referencing):
    return vendor_order(vendor, staff, referencing=referencing)


def refs(response):
    return {o.reference for o in response.context["page"]}


def test_the_list_filters_and_searches_the_vendors_orders(
    staff_client, vendor, staff, referencing, other_vendor
):
    signed = vendor_order(vendor, staff, referencing=referencing)
    draft = vendor_order(
        vendor,
        staff,
        referencing=referencing,
        signed=False,
        client=ClientFactory(legal_name="Cabinet des Lilas"),
    )
    elsewhere = vendor_order(vendor, staff)  # another dispositif
    foreign = vendor_order(other_vendor, staff)
    everything = refs(staff_client.get("/portail/bdc/"))
    assert everything == {signed.reference, draft.reference, elsewhere.reference}
    assert foreign.reference not in everything
    code = referencing.dispositif.code
    assert refs(staff_client.get(f"/portail/bdc/?dispositif={code}")) == {
        signed.reference,
        draft.reference,
    }
    assert refs(staff_client.get("/portail/bdc/?status=draft")) == {draft.reference}
    assert refs(staff_client.get("/portail/bdc/?client=lilas")) == {draft.reference}
    assert refs(staff_client.get(f"/portail/bdc/?q={signed.reference.lower()}")) == {
        signed.reference
    }
    assert refs(staff_client.get(f"/portail/bdc/?q={signed.client.rpps}")) == {signed.reference}
    today = timezone.now().astimezone(PARIS).date()
    week_ago = (today - dt.timedelta(days=7)).isoformat()
    signed_window = f"date_field=signed_at&date_from={week_ago}&date_until={today.isoformat()}"
    assert refs(staff_client.get(f"/portail/bdc/?{signed_window}")) == {
        signed.reference,
        elsewhere.reference,
    }
    created_today = f"date_field=created_at&date_from={today.isoformat()}"
    assert len(refs(staff_client.get(f"/portail/bdc/?{created_today}"))) == 3


def test_the_export_is_the_filtered_list_as_csv(staff_client, vendor, staff, order, other_vendor):
    foreign = vendor_order(other_vendor, staff)
    response = staff_client.get("/portail/bdc/export.csv?status=signed")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    lines = body.strip().splitlines()
    assert lines[0].startswith("BDC;Votre référence;Client")
    assert len(lines) == 2
    # An amount a spreadsheet reads as a number: decimal comma, no thousands space, no sign.
    assert order.reference in lines[1] and lines[1].endswith(";1500,00;1800,00")
    assert foreign.reference not in body


def test_the_order_page_shows_its_whole_life_and_its_documents(
    staff_client, order, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        va = acceptance.create_va(order=order, delivered_summary="Livré", actor=staff)
        acceptance.issue_va(va=va, actor=staff)
    render_order_pdf(order.pk)
    order.refresh_from_db()
    va.refresh_from_db()
    page = text(staff_client.get(f"/portail/bdc/{order.pk}/"))
    journal = [
        (row.entry.transition, row.transition, row.target)
        for row in staff_client.get(f"/portail/bdc/{order.pk}/").context["journal"]
    ]
    assert journal[:2] == [("create", "Création", "Brouillon"), ("sign", "Signer le BDC", "Signé")]
    assert ("issue", "Émettre la VA", "Émise, en attente de signature") in journal
    assert "Émettre la VA" in page and "Émise, en attente de signature" in page
    assert order.pdf_sha256 in page and va.pdf_sha256 in page
    pdf = staff_client.get(f"/portail/bdc/{order.pk}/bdc.pdf")
    assert pdf["Content-Disposition"] == f'attachment; filename="{order.reference}.pdf"'
    assert downloaded(pdf).startswith(b"%PDF")
    assert downloaded(staff_client.get(f"/portail/va/{va.pk}/va.pdf")).startswith(b"%PDF")
    assert staff_client.get(f"/portail/va/{va.pk}/va-signee.pdf").status_code == 404  # not yet


def test_actions_a_rule_forbids_are_disabled_with_the_rule_in_its_own_words(
    staff_client, vendor, staff, referencing
):
    draft = vendor_order(vendor, staff, referencing=referencing, signed=False)
    response = staff_client.get(f"/portail/bdc/{draft.pk}/")
    actions = {a.key: a for a in response.context["actions"]}
    assert actions["sign"].enabled
    assert not actions["issue_va"].enabled
    assert "Le BDC n'est pas signé ferme (état actuel : Brouillon)." in actions["issue_va"].reasons
    assert not actions["claim_solde"].enabled
    assert any("n'est pas signé" in r for r in actions["claim_solde"].reasons)
    assert not actions["declare_default"].enabled
    page = text(response)
    assert 'disabled aria-describedby="raison-issue_va"' in page
    # Trying the rules to explain them wrote nothing.
    assert not draft.vas.exists() and not draft.claims.exists()


def test_the_client_signature_of_a_paper_bdc_is_recorded_through_the_service(
    staff_client, vendor, staff, referencing
):
    draft = vendor_order(vendor, staff, referencing=referencing, signed=False)
    # The paper BDC was printed from the draft, so signed after its creation (a signature
    # dated before the order is refused: signed_at_before_creation).
    PurchaseOrder.objects.filter(pk=draft.pk).update(
        created_at=timezone.now() - dt.timedelta(days=3)
    )
    signed_at = (timezone.now() - dt.timedelta(days=1)).astimezone(PARIS)
    response = staff_client.post(
        f"/portail/bdc/{draft.pk}/actions/sign/",
        {
            "sign-signatory_name": "Dr Jeanne Martin",
            "sign-signatory_role": "Médecin",
            "sign-method": "handwritten",
            "sign-signed_at": signed_at.strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response["Location"] == f"/portail/bdc/{draft.pk}/"
    draft.refresh_from_db()
    assert draft.status == OrderStatus.SIGNED
    assert draft.signed_at == signed_at.replace(second=0, microsecond=0)


def test_an_incomplete_form_is_shown_again_with_its_errors(staff_client, order):
    response = staff_client.post(f"/portail/bdc/{order.pk}/actions/cancel/", {})
    assert response.status_code == 400
    page = text(response)
    assert "Ce champ est obligatoire." in page
    order.refresh_from_db()
    assert order.status == OrderStatus.SIGNED


def test_a_refused_action_shows_the_services_reason_and_changes_nothing(
    staff_client, vendor, staff, referencing
):
    draft = vendor_order(vendor, staff, referencing=referencing, signed=False)
    response = staff_client.post(
        f"/portail/bdc/{draft.pk}/actions/issue_va/",
        {"issue_va-delivered_summary": "Livré"},
        follow=True,
    )
    assert "Le BDC n'est pas signé ferme" in text(response)
    assert not draft.vas.exists()


def test_issuing_a_va_from_the_order_page(
    staff_client, order, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"/portail/bdc/{order.pk}/actions/issue_va/",
            {"issue_va-delivered_summary": "Mise à jour installée, deux personnes formées."},
            follow=True,
        )
    va = order.vas.get()
    assert va.status == VaStatus.ISSUED and va.pdf_sha256
    assert "VA émise" in text(response)
    actions = {a.key for a in response.context["actions"]}
    assert "resend_va" in actions and "issue_va" not in actions


def test_a_deployment_moves_step_by_step(staff_client, order):
    today = timezone.now().astimezone(PARIS).date()
    staff_client.post(
        f"/portail/bdc/{order.pk}/actions/schedule/",
        {"schedule-firm_date": (today + dt.timedelta(days=3)).isoformat()},
    )
    for step in ("deployment_start", "deployment_install", "deployment_verify"):
        staff_client.post(f"/portail/bdc/{order.pk}/actions/{step}/")
    assert order.deployments.get().status == "verified"


def test_cancelling_needs_a_sworn_statement_and_goes_through_the_service(staff_client, order):
    staff_client.post(
        f"/portail/bdc/{order.pk}/actions/cancel/",
        {"cancel-sworn_statement": "Je déclare sur l'honneur que rien n'a été engagé."},
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_an_unknown_action_is_refused(staff_client, order):
    response = staff_client.post(f"/portail/bdc/{order.pk}/actions/tout-casser/", follow=True)
    assert "Action inconnue." in text(response)
    assert PurchaseOrder.objects.get(pk=order.pk).status == OrderStatus.SIGNED
