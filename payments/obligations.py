"""What each deadline still asks of vendors: the live orders it concerns, as one queryset per
kind of deadline, so reminders, pages and exports name the same orders."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import DeadlineKind
from sons.models import OrderStatus, PurchaseOrder
from sons.selectors import completion_due, without_firm_date

from .models import ClaimKind
from .selectors import admitting_avance, filed_claim


def orders_concerned(kind: str, *, at: dt.datetime | None = None) -> QuerySet[PurchaseOrder] | None:
    """The live orders for which the deadline of `kind` still asks something (None: the kind
    concerns no order, e.g. a deadline of the referencing of a solution already referenced),
    as judged at `at` (now by default)."""
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
    # A claim the agency has (or had) in hand: the vendor has done its part for that deadline.
    if kind == DeadlineKind.ADVANCES:
        return admitting_avance(orders).exclude(filed_claim([ClaimKind.AVANCE]))
    if kind == DeadlineKind.FIRM_DATE:
        return without_firm_date(orders)
    if kind == DeadlineKind.REALISATION:
        # Neither the completion notified nor the solde filed (SONS.md, « End of réalisation,
        # exactly »): the one predicate of the sweep, the dashboard and the reminders.
        return completion_due(orders, at=at or timezone.now())
    if kind == DeadlineKind.SOLDES:
        return orders.filter(status=OrderStatus.SIGNED).exclude(filed_claim([ClaimKind.SOLDE]))
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
    DeadlineKind.REALISATION: _(
        "achever la prestation et notifier l'achèvement à l'ASP (ou déposer la demande de solde)"
    ),
    DeadlineKind.SOLDES: _("déposer la demande de solde de ces BDC"),
}
