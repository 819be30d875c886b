"""What payments adds to an order's history (sons.history): its payment claims and recoveries.
Registered at start-up by PaymentsConfig.ready(), since sons may not import payments."""

from __future__ import annotations

from django.utils.translation import gettext as _

from sons.history import register_order_part

from .models import PaymentClaim, Recovery


def _claim_name(claim: PaymentClaim) -> str:
    """« Demande d'avance », « Demande d'avance (avenant) »."""
    name = str(claim.get_kind_display())
    return _("%(name)s (avenant)") % {"name": name} if claim.amends_id else name


def register() -> None:
    register_order_part(
        PaymentClaim,
        rows=lambda order: PaymentClaim.objects.filter(order=order),
        name=_claim_name,
    )
    register_order_part(
        Recovery,
        rows=lambda order: Recovery.objects.filter(order=order),
        name=lambda recovery: _("Recouvrement"),
    )
