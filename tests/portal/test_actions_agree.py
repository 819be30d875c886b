"""What the order's page offers is what the services do: every action the page shows as
possible succeeds when sent, and every action it disables is refused with the first reason the
page gave, nothing written. Both read the same declared guards (core.guards)."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.db import transaction
from django.utils import timezone

from core.models import JournalEntry
from signing.models import SigningLink
from sons.models import PurchaseOrder
from sons.services import acceptance
from tests.portal.conftest import vendor_order
from tests.sons.factories import ClientFactory, record_for

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate

FORM_DATA = {
    "sign": lambda: {
        "signatory_name": "Dr Marie Curie",
        "signatory_role": "Médecin titulaire",
        "method": "handwritten",
        "signed_at": (timezone.localtime() - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
    },
    "schedule": lambda: {"firm_date": (TODAY() + dt.timedelta(days=30)).isoformat()},
    "issue_va": lambda: {"delivered_summary": "Logiciel installé et paramétré."},
    "mom": lambda: {"statement": "Le logiciel fonctionne."},
    "notify_completion": lambda: {"statement": "Prestation achevée."},
    "cancel": lambda: {"sworn_statement": "Je déclare sur l'honneur.", "client_renunciation": ""},
    "declare_default": lambda: {"reason": "Impossible de livrer."},
    "conflict_keep": lambda: {"note": "Maintenu."},
    "conflict_withdraw": lambda: {"note": "Retiré."},
}


def _written() -> tuple[int, int]:
    return JournalEntry.objects.count(), SigningLink.objects.count()


def _situations(vendor, staff):
    """Orders in the states a vendor meets, each with its own client."""
    draft = vendor_order(vendor, staff, signed=False)
    # Made yesterday, so that a signature recorded an hour ago is after it.
    PurchaseOrder.objects.filter(pk=draft.pk).update(
        created_at=timezone.now() - dt.timedelta(days=1)
    )
    signed = vendor_order(vendor, staff)
    no_address_client = ClientFactory()
    no_address = vendor_order(vendor, staff, client=no_address_client)
    record_for(no_address_client, vendor, mssante_address="")
    with_va = vendor_order(vendor, staff)
    acceptance.create_va(order=with_va, delivered_summary="Livré", actor=staff)
    return [draft, signed, no_address, with_va]


def _post(staff_client, order, key):
    data = {f"{key}-{name}": value for name, value in FORM_DATA.get(key, dict)().items()}
    return staff_client.post(f"/portail/bdc/{order.pk}/actions/{key}/", data, follow=True)


def test_every_action_the_page_offers_or_refuses_is_what_the_service_does(
    staff_client, vendor, staff
):
    checked = {True: 0, False: 0}
    for order in _situations(vendor, staff):
        page = staff_client.get(f"/portail/bdc/{order.pk}/")
        assert page.status_code == 200
        for action in page.context["actions"]:
            with transaction.atomic():
                before = _written()
                response = _post(staff_client, order, action.key)
                after = _written()
                errors = [
                    str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"
                ]
                shown = response.content.decode()
                transaction.set_rollback(True)
            where = f"{PurchaseOrder.reference_of(order.pk)} {action.key}"
            if action.enabled:
                assert after != before, f"{where}: offered, but nothing was done ({errors})"
                assert not errors, f"{where}: offered, but refused: {errors}"
            else:
                assert after == before, f"{where}: disabled, but it wrote"
                first = action.reasons[0]
                assert any(first in e for e in errors) or first in shown, (
                    f"{where}: the page said « {first} », the service said {errors}"
                )
            checked[action.enabled] += 1
    assert checked[True] >= 8 and checked[False] >= 8, checked
