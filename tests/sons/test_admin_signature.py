"""An administrator records a client's signature of a BDC through the signatures command every
other door calls (portal, API, files): the instant of the signature is asked, in Paris time, and
the command's rules answer under their field — not in the future, not before the BDC existed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from catalogue.deadlines import PARIS
from sons.models import OrderStatus, PurchaseOrder
from tests.payments.factories import open_dispositif
from tests.responses import text
from tests.sons.factories import draft_order, referenced

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(admin_user):
    referencing = referenced(dispositif=open_dispositif(), actor=admin_user)
    return draft_order(referencing=referencing, actor=admin_user)


def sign(client, order, signed_at: dt.datetime):
    return client.post(
        f"/admin/sons/purchaseorder/{order.pk}/transition/sign/",
        {
            "signatory_name": "Dr Anne Martin",
            "signatory_role": "Médecin titulaire",
            "method": "cps",
            "signed_at": signed_at.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M"),
        },
    )


def test_the_admin_records_a_signature_by_the_signatures_command(client, admin_user, draft):
    client.force_login(admin_user)
    future = sign(client, draft, timezone.now() + dt.timedelta(days=1))
    assert future.status_code == 200
    assert "La date de signature est dans le futur." in text(future)
    before = sign(client, draft, draft.created_at - dt.timedelta(days=1))
    assert "La date de signature précède la création du BDC" in text(before)
    assert PurchaseOrder.objects.get(pk=draft.pk).status == OrderStatus.DRAFT

    signed_at = timezone.now().replace(second=0, microsecond=0)
    done = sign(client, draft, signed_at)
    assert done.status_code == 302, text(done)
    order = PurchaseOrder.objects.get(pk=draft.pk)
    assert order.status != OrderStatus.DRAFT
    assert order.signed_at == signed_at and order.signatory_name == "Dr Anne Martin"
