"""VA follow-up: who has not signed yet, re-sending their link, the documents."""

import pytest

from sons.models import VaStatus
from sons.services import acceptance
from tests.portal.conftest import vendor_order
from tests.responses import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued_va(vendor, staff, django_capture_on_commit_callbacks):
    order = vendor_order(vendor, staff)
    with django_capture_on_commit_callbacks(execute=True):
        va = acceptance.create_va(order=order, delivered_summary="Livré", actor=staff)
        acceptance.issue_va(va=va, actor=staff)
    va.refresh_from_db()
    return va


def test_the_va_page_lists_who_has_not_signed_and_the_orders_waiting_for_a_va(
    staff_client, issued_va, vendor, staff
):
    waiting_order = vendor_order(vendor, staff)
    page = text(staff_client.get("/portail/va/"))
    assert "1 client n'a pas encore signé" in page
    assert issued_va.order.reference in page
    assert "1 BDC signé attend sa VA" in page and waiting_order.reference in page


def test_re_sending_the_link_mails_the_client_again(
    staff_client, issued_va, mailoutbox, django_capture_on_commit_callbacks
):
    sent = len(mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"/portail/va/{issued_va.pk}/renvoyer/", follow=True)
    assert "Lien de signature renvoyé au client" in text(response)
    assert len(mailoutbox) == sent + 1
    assert mailoutbox[-1].to == [issued_va.order.contact.email]


def test_a_signed_va_has_no_link_to_re_send(staff_client, issued_va, staff):
    from sons.services.acceptance import Signer

    acceptance.sign_va(
        va=issued_va,
        signer=Signer(name="Dr X", role="Médecin", identity_method="otp"),
        confirmed=list(issued_va.statements),
        document_sha256=issued_va.pdf_sha256,
    )
    response = staff_client.post(f"/portail/va/{issued_va.pk}/renvoyer/", follow=True)
    assert "n'attend pas de signature" in text(response)
    assert issued_va.__class__.objects.get(pk=issued_va.pk).status == VaStatus.SIGNED
