"""A vendor cannot take over another vendor's client (SONS.md, « Who may change what about a
client »). The attack replayed: vendor B, knowing the RPPS of vendor A's client (public
identifiers), registers it, changes its e-mail and characteristics, and waits for A to re-send
its VA link, to receive the link and the one-time code and sign A's VA as the client. Every
step that used to work now fails, through the API, the bulk API and the portal's file."""

import pytest
from django.core import mail

from signing.models import OneTimeCode, SigningLink
from signing.services import request_code
from sons.models import ClientRelationship, PurchaseOrder
from sons.services import acceptance
from tests.api.conftest import SIGNATURE, create_order

pytestmark = pytest.mark.django_db

EVIL = "b-attaquant@example.invalid"


def issued_va_of_side_a(side_a, dispositif, capture):
    order = create_order(side_a, dispositif)
    assert side_a.api.post(f"/api/v1/orders/{order['id']}/sign/", SIGNATURE).status_code == 200
    order = PurchaseOrder.objects.get(pk=order["id"])
    va = acceptance.create_va(order=order, delivered_summary="Mise à jour faite", actor="test")
    with capture(execute=True):
        acceptance.issue_va(va=va, actor="test")
    return order, va


def test_registering_a_known_client_shows_nothing_of_the_other_vendor(side_a, side_b):
    a_view = side_a.api.get(f"/api/v1/clients/{side_a.client.pk}/").json()
    assert a_view["email"] and a_view["mssante_address"]
    answer = side_b.api.post(
        "/api/v1/clients/",
        {"kind": "medecin_liberal", "legal_name": "x", "rpps": side_a.client.rpps},
    )
    assert answer.status_code == 201
    b_view = answer.json()
    assert b_view["id"] == side_a.client.pk  # one identity
    for field in ("email", "mssante_address", "address", "city", "postal_code"):
        assert b_view[field] in ("", None), field  # nothing of A's record
    assert b_view["characteristics"] == {}
    assert b_view["etag"] != a_view["etag"]


def test_the_takeover_chain_fails_at_its_first_step(
    side_a, side_b, dispositif, django_capture_on_commit_callbacks
):
    _order, va = issued_va_of_side_a(side_a, dispositif, django_capture_on_commit_callbacks)
    a_address = side_a.api.get(f"/api/v1/clients/{side_a.client.pk}/").json()["email"]
    # B registers A's client and changes « its » e-mail and figures under the ETag it was given
    registered = side_b.api.post(
        "/api/v1/clients/",
        {"kind": "medecin_liberal", "legal_name": "x", "rpps": side_a.client.rpps},
    )
    changed = side_b.api.patch(
        f"/api/v1/clients/{side_a.client.pk}/",
        {"email": EVIL, "characteristics": {"doctors": 40}},
        if_match=registered["ETag"],
    )
    assert changed.status_code == 200  # B's own record only
    # B cannot change the shared identity either
    renamed = side_b.api.patch(
        f"/api/v1/clients/{side_a.client.pk}/", {"legal_name": "Dr B"}, if_match=changed["ETag"]
    )
    assert renamed.status_code == 400
    # A's record, and A's view of its client, are as A left them
    record = ClientRelationship.objects.get(vendor=side_a.vendor, client=side_a.client)
    assert (record.email, record.characteristics) == (a_address, {})
    assert side_a.api.get(f"/api/v1/clients/{side_a.client.pk}/").json()["email"] == a_address
    # A re-sends its VA link: the link and the code go where A's VA was issued to
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert side_a.api.post(f"/api/v1/vas/{va.pk}/resend/").status_code == 200
    link = SigningLink.objects.filter(va=va, revoked_at__isnull=True).get()
    assert link.sent_to == a_address
    with django_capture_on_commit_callbacks(execute=True):
        code = request_code(link=link)
    assert OneTimeCode.objects.get(pk=code.pk).sent_to == a_address
    assert {to for message in mail.outbox for to in message.to} == {a_address}
    assert not [m for m in mail.outbox if EVIL in m.to]


def test_a_later_change_by_the_vendor_itself_redirects_nothing_already_issued(
    side_a, dispositif, django_capture_on_commit_callbacks
):
    """A VA's links go to the address of the record as it stood when the VA was issued; a
    change of address is journaled and re-sends nothing on its own."""
    _order, va = issued_va_of_side_a(side_a, dispositif, django_capture_on_commit_callbacks)
    issued_to = SigningLink.objects.get(va=va).sent_to
    client = side_a.api.get(f"/api/v1/clients/{side_a.client.pk}/")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        side_a.api.patch(
            f"/api/v1/clients/{side_a.client.pk}/",
            {"email": "nouvelle@example.invalid"},
            if_match=client["ETag"],
        )
    assert mail.outbox == []  # nothing re-sent on its own
    with django_capture_on_commit_callbacks(execute=True):
        side_a.api.post(f"/api/v1/vas/{va.pk}/resend/")
    assert SigningLink.objects.filter(va=va, revoked_at__isnull=True).get().sent_to == issued_to
    from core.models import JournalEntry

    record = ClientRelationship.objects.get(vendor=side_a.vendor, client=side_a.client)
    (entry,) = JournalEntry.objects.for_object(record).filter(transition="change_contact")
    assert entry.snapshot["after"] == {"email": "nouvelle@example.invalid"}


def test_the_bulk_api_cannot_reach_the_other_vendors_record(side_a, side_b):
    response = side_b.api.post(
        "/api/v1/clients/bulk/",
        {
            "items": [
                {
                    "kind": "medecin_liberal",
                    "legal_name": "x",
                    "rpps": side_a.client.rpps,
                    "email": EVIL,
                }
            ]
        },
    )
    assert response.status_code == 200, response.json()
    record = ClientRelationship.objects.get(vendor=side_a.vendor, client=side_a.client)
    assert record.email != EVIL
    # B's bulk correction names the client's id: it reaches B's record only
    b = side_b.api.get(f"/api/v1/clients/{side_a.client.pk}/").json()
    side_b.api.post(
        "/api/v1/clients/bulk/",
        {"items": [{"id": b["id"], "if_match": b["etag"], "mssante_address": "x@evil.mssante.fr"}]},
    )
    record.refresh_from_db()
    assert record.mssante_address != "x@evil.mssante.fr"
