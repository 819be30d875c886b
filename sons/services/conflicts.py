"""One financing per client per dispositif: opening, answering and settling conflicts.

The rule and its clock live here: when a vendor signs for a client that another vendor already
holds under the same dispositif, both are told and have 10 French working days to keep, change
(correct the client) or withdraw their order.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import PARIS, format_paris, is_in_time
from core.errors import RuleViolation
from core.journal import Actor, record_transition
from core.services import after_commit, now_or
from core.transitions import apply_transition, reload
from sons import tasks
from sons.models import (
    CLAIMING_STATUSES,
    Client,
    ClientConflict,
    ConflictPosition,
    ConflictStatus,
    Decision,
    PurchaseOrder,
)
from sons.rules import working_days_deadline

from .clients import record_of

CONFLICT_WORKING_DAYS = 10


def open_or_join_conflict(
    *, order: PurchaseOrder, actor: Actor, at: dt.datetime
) -> ClientConflict | None:
    """Puts `order` in conflict with other vendors' claims on the same client and dispositif."""
    rivals = list(
        PurchaseOrder.objects.select_for_update(no_key=True)
        .filter(client=order.client, dispositif=order.dispositif, status__in=CLAIMING_STATUSES)
        .exclude(vendor=order.vendor)
        .order_by("pk")
    )
    if not rivals:
        return None
    conflict = (
        ClientConflict.objects.select_for_update(no_key=True)
        .filter(client=order.client, dispositif=order.dispositif, status=ConflictStatus.OPEN)
        .first()
    )
    if conflict is None:
        conflict = ClientConflict.objects.create(
            client=order.client,
            dispositif=order.dispositif,
            opened_at=at,
            respond_by=working_days_deadline(at, CONFLICT_WORKING_DAYS),
        )
        record_transition(
            obj=conflict,
            transition="open",
            source="",
            target=conflict.status,
            actor=actor,
            snapshot={
                "at": at.isoformat(),
                "respond_by": conflict.respond_by.astimezone(PARIS).isoformat(),
                "working_days": CONFLICT_WORKING_DAYS,
                "orders": sorted(o.pk for o in [order, *rivals]),
            },
        )
    for member in [order, *rivals]:
        ConflictPosition.objects.get_or_create(conflict=conflict, order=member)
    after_commit(tasks.notify_conflict, conflict.pk)
    return conflict


def respond_to_conflict(
    *,
    order: PurchaseOrder,
    decision: str,
    actor: Actor,
    note: str = "",
    new_client: Client | None = None,
    at: dt.datetime | None = None,
) -> ConflictPosition:
    """The vendor keeps, changes (corrects the client) or withdraws its order, in time."""
    from .orders import cancel_order  # orders imports this module for the conflict check

    at = now_or(at)
    with transaction.atomic():
        # The lock order (core.transitions): the order, then the conflict's rows.
        PurchaseOrder.objects.select_for_update(no_key=True).get(pk=order.pk)
        position = (
            ConflictPosition.objects.select_for_update(no_key=True)
            .select_related("conflict")
            .filter(order=order, conflict__status=ConflictStatus.OPEN)
            .first()
        )
        if position is None:
            raise RuleViolation(
                "no_open_conflict",
                _("Le BDC %(reference)s n'est dans aucun conflit en cours."),
                field="order",
                reference=order.reference,
            )
        conflict = position.conflict
        if not is_in_time(at, conflict.respond_by):
            raise RuleViolation(
                "conflict_response_late",
                _(
                    "Les réponses à ce conflit étaient attendues avant le %(until)s "
                    "(heure de Paris)."
                ),
                field="decision",
                until=format_paris(conflict.respond_by),
            )
        if decision not in (Decision.KEEP, Decision.CHANGE, Decision.WITHDRAW):
            raise RuleViolation(
                "conflict_decision_invalid",
                _("Réponse inconnue : maintenir, corriger ou retirer la commande."),
                field="decision",
            )
        position.decision = decision
        position.decided_at = at
        position.note = note.strip()
        position.save()
        if decision == Decision.WITHDRAW:
            if not note.strip():
                raise RuleViolation(
                    "sworn_statement_required",
                    _("Le retrait d'une commande exige une déclaration sur l'honneur."),
                    field="note",
                )
            cancel_order(order=order, actor=actor, sworn_statement=note, at=at)
        elif decision == Decision.CHANGE:
            _change_client(order=order, new_client=new_client, actor=actor, at=at)
        record_transition(
            obj=conflict,
            transition=f"respond_{decision}",
            source=conflict.status,
            target=conflict.status,
            actor=actor,
            reason=note,
            snapshot={"order_id": order.pk, "decision": decision, "at": at.isoformat()},
        )
        _settle_if_resolved(conflict=conflict, actor=actor, at=at)
    return position


def _change_client(
    *, order: PurchaseOrder, new_client: Client | None, actor: Actor, at: dt.datetime
) -> None:
    if new_client is None or new_client.pk == order.client_id:
        raise RuleViolation(
            "corrected_client_required",
            _(
                "Corriger la commande, c'est désigner le bon client "
                "(un autre que celui en conflit)."
            ),
            field="new_client",
        )
    from .orders import live_order_pairs, order_already_open  # orders opens conflicts

    if live_order_pairs(
        vendor=order.vendor, client_ids={new_client.pk}, dispositif_ids={order.dispositif_id}
    ):
        refusal = order_already_open(
            vendor=order.vendor, client=new_client, dispositif=order.dispositif
        )
        refusal.field = "new_client"
        raise refusal
    old_client_id = order.client_id
    record_of(vendor=order.vendor, client=new_client, actor=actor)
    PurchaseOrder.objects.filter(pk=order.pk).update(client=new_client)
    reload(order)
    order.__dict__.pop("contact", None)  # the vendor's record of the new client
    record_transition(
        obj=order,
        transition="change_client",
        source=order.status,
        target=order.status,
        actor=actor,
        snapshot={"from_client_id": old_client_id, "to_client_id": new_client.pk},
    )
    open_or_join_conflict(order=order, actor=actor, at=at)


def _settle_if_resolved(*, conflict: ClientConflict, actor: Actor, at: dt.datetime) -> None:
    still_claiming = PurchaseOrder.objects.filter(
        positions__conflict=conflict,
        client=conflict.client,
        status__in=CLAIMING_STATUSES,
    ).count()
    if still_claiming <= 1:
        apply_transition(
            conflict,
            "settle",
            actor=actor,
            snapshot={"at": at.isoformat(), "claiming_orders": still_claiming},
            at=at,
        )
