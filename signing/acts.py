"""The guards of sending a signing link (core.guards): the service checks them under its locks,
the portal reads them to offer « envoyer » / « renvoyer » or say why not."""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from core.guards import Act, guard
from sons.models import OrderStatus, PurchaseOrder, VaStatus, VerificationAptitude


def va_address(va: VerificationAptitude) -> str:
    """Where a VA's links go: the client's e-mail as the vendor's record gave it when the VA was
    issued, else the MSSanté address the VA names (never what the record says now)."""
    return va.contact_email or va.mssante_address


def order_address(order: PurchaseOrder) -> str:
    """Where a draft BDC's link goes: the vendor's own record of the client (its e-mail, else
    its MSSanté address), as it stands when the BDC is sent; no other vendor's."""
    return order.contact.contact_address


def _no_address(order: PurchaseOrder) -> str:
    return _(
        "%(client)s n'a ni courriel ni adresse MSSanté : renseignez-en un pour lui "
        "envoyer le lien de signature."
    ) % {"client": order.client.legal_name}


@guard("order_not_draft", field="order")
def order_draft(order: PurchaseOrder, at: dt.datetime) -> str | None:
    if order.status == OrderStatus.DRAFT:
        return None
    return _(
        "Seul un BDC en brouillon s'envoie pour signature en ligne ; le %(reference)s "
        "est « %(state)s »."
    ) % {"reference": order.reference, "state": order.get_status_display()}


@guard("client_address_required", field="email")
def order_address_known(order: PurchaseOrder, at: dt.datetime) -> str | None:
    return None if order_address(order) else _no_address(order)


@guard("va_not_awaiting_signature", field="va")
def va_awaiting_signature(va: VerificationAptitude, at: dt.datetime) -> str | None:
    """A VA link is (re)sent while that version waits for the client on a signed BDC."""
    if va.status == VaStatus.ISSUED and va.order.status == OrderStatus.SIGNED:
        return None
    return _(
        "La VA version %(version)s du %(reference)s n'attend pas de signature (%(state)s)."
    ) % {
        "version": va.version,
        "reference": va.order.reference,
        "state": str(va.get_status_display()).lower(),
    }


@guard("client_address_required", field="email")
def va_address_known(va: VerificationAptitude, at: dt.datetime) -> str | None:
    return None if va_address(va) else _no_address(va.order)


SEND_ORDER_LINK = Act(
    "send_order_link",
    _("Envoyer le BDC au client pour signature en ligne"),
    (order_draft, order_address_known),
)
SEND_VA_LINK = Act(
    "send_va_link",
    _("Renvoyer au client le lien de signature de la VA"),
    (va_awaiting_signature, va_address_known),
)
