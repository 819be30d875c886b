"""Recovery (mise en recouvrement): when money was received for a prestation not delivered."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import RuleViolation
from core.journal import Actor, record_transition
from core.services import after_commit, now_or
from core.transitions import apply_transition
from sons.models import OrderStatus, PurchaseOrder
from sons.selectors import realisation_missed as orders_realisation_missed
from sons.services import orders as order_services

from .. import tasks
from ..models import LIVE_RECOVERY_STATUSES, Recovery, RecoveryCause
from ..selectors import due_for_recovery, recovery_amounts, with_recovery_amounts

logger = logging.getLogger(__name__)

# Who opens the recovery of an order that ended (cancelled, set aside) with its avance paid.
SYSTEM = "système:recouvrement des BDC annulés"


def amounts_for(order: PurchaseOrder) -> tuple[int, int]:
    """(received, offset): what the agency paid for the order, what was offset since."""
    return recovery_amounts(with_recovery_amounts(PurchaseOrder.objects.filter(pk=order.pk)).get())


def open_recovery(
    *,
    order: PurchaseOrder,
    cause: str,
    reason: str,
    actor: Actor,
    at: dt.datetime | None = None,
) -> Recovery:
    """Opens the recovery of what was received minus what was offset; the order follows."""
    at = now_or(at)
    if not reason.strip():
        raise RuleViolation(
            "recovery_reason_required", _("Un recouvrement doit être motivé."), field="reason"
        )
    with transaction.atomic():
        order = PurchaseOrder.objects.select_for_update(no_key=True).get(pk=order.pk)
        if cause == RecoveryCause.DEFAULT and order.status != OrderStatus.DEFAULTED:
            raise RuleViolation(
                "order_not_defaulted",
                _("Ce BDC n'est pas en défaillance."),
                field="cause",
            )
        if cause == RecoveryCause.CANCELLED and order.status != OrderStatus.CANCELLED:
            raise RuleViolation(
                "order_not_cancelled",
                _("Ce BDC n'est ni annulé ni écarté."),
                field="cause",
            )
        if cause == RecoveryCause.REALISATION and not realisation_missed(order, at):
            raise RuleViolation(
                "realisation_not_missed",
                _("La fin de réalisation n'est pas dépassée, ou la prestation est achevée."),
                field="cause",
            )
        if Recovery.objects.filter(order=order, status__in=LIVE_RECOVERY_STATUSES).exists():
            raise RuleViolation(
                "recovery_already_open",
                _("Un recouvrement est déjà en cours pour ce BDC."),
                field="order",
            )
        received, offset = amounts_for(order)
        if received - offset <= 0:
            raise RuleViolation(
                "nothing_to_recover",
                _("Rien à recouvrer : reçu %(received)s c, compensé %(offset)s c."),
                field="order",
                received=received,
                offset=offset,
            )
        recovery = Recovery.objects.create(
            order=order,
            cause=cause,
            received_cents=received,
            offset_cents=offset,
            amount_cents=received - offset,
            opened_at=at,
            reason=reason.strip(),
        )
        record_transition(
            obj=recovery,
            transition="open",
            source="",
            target=recovery.status,
            actor=actor,
            reason=reason,
            snapshot={"received_cents": received, "offset_cents": offset, "cause": cause},
        )
        if order.status != OrderStatus.IN_RECOVERY:
            order_services.start_recovery(order=order, actor=actor, reason=reason, at=at)
    return recovery


def realisation_missed(order: PurchaseOrder, at: dt.datetime) -> bool:
    """`sons.selectors.realisation_missed` read on one order: the prestation still owed, the
    end of réalisation passed, no acceptance on file."""
    return orders_realisation_missed(PurchaseOrder.objects.filter(pk=order.pk), at=at).exists()


def recoveries_due(*, at: dt.datetime) -> list[tuple[PurchaseOrder, str]]:
    """Orders whose recovery should be opened (`payments.selectors.due_for_recovery`), with
    their cause."""
    return [(o, o.cause) for o in due_for_recovery(PurchaseOrder.objects.all(), at=at)]


ENDED_ORDER_REASON = (
    "BDC annulé ou écarté par une décision sur un conflit de financement alors que son avance "
    "était payée : les sommes reçues sont à reverser."
)


def recover_ended_orders(*, order_ids: list[int], at: dt.datetime | None = None) -> list[Recovery]:
    """Orders just cancelled or set aside (`sons.signals.orders_ended`): those whose avance was
    paid are due for recovery (`payments.selectors.due_for_recovery`, the sweep's rule), which
    is opened by `open_recovery` and notified to the vendor now rather than at the next sweep.
    Idempotent: an order with a recovery under way, or already in recovery, is not due."""
    at = now_or(at)
    due = due_for_recovery(PurchaseOrder.objects.filter(pk__in=order_ids), at=at).filter(
        status=OrderStatus.CANCELLED
    )
    opened = []
    for order in due:
        with transaction.atomic():
            try:
                recovery = open_recovery(
                    order=order,
                    cause=RecoveryCause.CANCELLED,
                    reason=ENDED_ORDER_REASON,
                    actor=SYSTEM,
                    at=at,
                )
            except RuleViolation as refusal:  # nothing left to recover, or opened meanwhile
                logger.info(
                    "ended_order_recovery_skipped order_id=%s code=%s", order.pk, refusal.code
                )
                continue
            recovery = notify_recovery(recovery=recovery, actor=SYSTEM, at=at)
            after_commit(tasks.mail_recovery_opened, recovery.pk)
        opened.append(recovery)
    return opened


def notify_recovery(*, recovery: Recovery, actor: Actor, at: dt.datetime | None = None):
    """The notice goes to the vendor: rendered as a PDF after commit."""
    at = now_or(at)
    with transaction.atomic():
        recovery = apply_transition(
            recovery, "notify", actor=actor, snapshot={"at": at.isoformat()}, at=at
        )
        after_commit(tasks.render_recovery_notice, recovery.pk)
    return recovery


def settle_recovery(
    *, recovery: Recovery, settled_cents: int, actor: Actor, at: dt.datetime | None = None
) -> Recovery:
    at = now_or(at)
    return apply_transition(
        recovery,
        "settle",
        actor=actor,
        snapshot={"at": at.isoformat(), "settled_cents": settled_cents},
        at=at,
        settled_cents=settled_cents,
    )


def cancel_recovery(
    *, recovery: Recovery, reason: str, actor: Actor, at: dt.datetime | None = None
) -> Recovery:
    if not reason.strip():
        raise RuleViolation(
            "recovery_reason_required", _("L'annulation doit être motivée."), field="reason"
        )
    at = now_or(at)
    return apply_transition(
        recovery, "cancel", actor=actor, reason=reason, snapshot={"at": at.isoformat()}, at=at
    )


def record_notice(*, recovery_id: int, name: str, content: bytes, sha256: str) -> None:
    """Stores the rendered notice with its hash (a document, not a state change)."""
    from django.core.files.base import ContentFile

    recovery = Recovery.objects.get(pk=recovery_id)
    recovery.notice_pdf.save(name, ContentFile(content), save=False)
    Recovery.objects.filter(pk=recovery_id).update(
        notice_pdf=recovery.notice_pdf.name, notice_sha256=sha256
    )
