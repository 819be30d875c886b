"""What each deadline still asks of vendors: the live orders it concerns, as one queryset per
kind of deadline, so reminders, pages and exports name the same orders."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import DeadlineKind
from sons.models import Deployment, DeploymentStatus, OrderStatus, PurchaseOrder
from sons.selectors import undelivered

from .models import ClaimKind, ClaimStatus, PaymentClaim

# A claim the agency has (or had) in hand: the vendor has done its part for that deadline.
FILED = [ClaimStatus.SUBMITTED, ClaimStatus.VALIDATED, ClaimStatus.PAID]
_LIVE = [OrderStatus.CONDITIONAL, OrderStatus.SIGNED]


def _without_filed(orders: QuerySet[PurchaseOrder], kinds: list[str]) -> QuerySet[PurchaseOrder]:
    filed = PaymentClaim.objects.filter(order=OuterRef("pk"), kind__in=kinds, status__in=FILED)
    return orders.exclude(Exists(filed))


def orders_concerned(kind: str) -> QuerySet[PurchaseOrder] | None:
    """The live orders for which the deadline of `kind` still asks something (None: the kind
    concerns no order, e.g. a deadline of the referencing of a solution already referenced)."""
    orders = PurchaseOrder.objects.all()
    if kind in (
        DeadlineKind.REFERENCING_DOSSIER,
        DeadlineKind.PROOFS,
        DeadlineKind.ANS_EXCHANGES,
    ):
        # Orders signed « sous condition de référencement » lapse if referencing comes late.
        return orders.filter(status=OrderStatus.CONDITIONAL)
    if kind == DeadlineKind.ORDERS:
        return orders.filter(status=OrderStatus.DRAFT)
    if kind == DeadlineKind.ADVANCES:
        return _without_filed(orders.filter(status__in=_LIVE), [ClaimKind.AVANCE])
    if kind == DeadlineKind.FIRM_DATE:
        scheduled = Deployment.objects.filter(order=OuterRef("pk")).exclude(
            status=DeploymentStatus.ABANDONED
        )
        return undelivered(orders.filter(status=OrderStatus.SIGNED)).exclude(Exists(scheduled))
    if kind == DeadlineKind.REALISATION:
        return undelivered(orders.filter(status__in=_LIVE))
    if kind == DeadlineKind.SOLDES:
        return _without_filed(orders.filter(status=OrderStatus.SIGNED), [ClaimKind.SOLDE])
    return None


# What the vendor must do before each deadline, as the reminder and the portal say it.
TO_DO = {
    DeadlineKind.REFERENCING_DOSSIER: _(
        "faire référencer la solution : ces BDC signés sous condition deviendraient caducs"
    ),
    DeadlineKind.PROOFS: _(
        "déposer les preuves du référencement : ces BDC signés sous condition en dépendent"
    ),
    DeadlineKind.ANS_EXCHANGES: _(
        "conclure les échanges avec l'ANS : ces BDC signés sous condition en dépendent"
    ),
    DeadlineKind.ORDERS: _("faire signer ces BDC par les clients"),
    DeadlineKind.ADVANCES: _("déposer la demande d'avance de ces BDC"),
    DeadlineKind.FIRM_DATE: _("confirmer au client une date ferme de réalisation"),
    DeadlineKind.REALISATION: _("achever la prestation et obtenir la VA (ou déclarer la MOM)"),
    DeadlineKind.SOLDES: _("déposer la demande de solde de ces BDC"),
}
