"""One financing per client per dispositif: opening, answering and settling conflicts.

The rule and its clock live here: when a vendor signs for a client that another vendor already
holds under the same dispositif, both are told and have 10 French working days to keep, change
(correct the client) or withdraw their order.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import PARIS
from core.errors import RuleViolation
from core.guards import require
from core.journal import Actor, record_transition
from core.services import after_commit, now_or
from core.transitions import apply_transition, apply_transition_many, reload
from sons import tasks
from sons.models import (
    CLAIMING_STATUSES,
    UNRESOLVED_CONFLICT_STATUSES,
    Client,
    ClientConflict,
    ConflictPosition,
    ConflictStatus,
    Decision,
    PurchaseOrder,
)
from sons.models.conflict import conflict_answer_open
from sons.rules import working_days_deadline

from .clients import record_of

CONFLICT_WORKING_DAYS = 10


def open_or_join_conflict(
    *, order: PurchaseOrder, actor: Actor, at: dt.datetime
) -> ClientConflict | None:
    """Puts `order` in conflict with other vendors' claims on the same client and dispositif.

    Each vendor's 10 working days run from its own notice (SONS.md, step 3): a vendor joining a
    conflict already open gets a window of its own, the others keep theirs, and the conflict's
    window runs to the latest of them. A conflict awaiting the administration's decision is
    opened again for the newcomer's window."""
    rivals = list(
        PurchaseOrder.objects.select_for_update(no_key=True)
        .filter(client=order.client, dispositif=order.dispositif, status__in=CLAIMING_STATUSES)
        .exclude(vendor=order.vendor)
        .order_by("pk")
    )
    if not rivals:
        return None
    own_deadline = working_days_deadline(at, CONFLICT_WORKING_DAYS)
    conflict = (
        ClientConflict.objects.select_for_update(no_key=True)
        .filter(
            client=order.client,
            dispositif=order.dispositif,
            status__in=UNRESOLVED_CONFLICT_STATUSES,
        )
        .first()
    )
    members = [order, *rivals]
    if conflict is None:
        conflict = ClientConflict.objects.create(
            client=order.client,
            dispositif=order.dispositif,
            opened_at=at,
            respond_by=own_deadline,
        )
        record_transition(
            obj=conflict,
            transition="open",
            source="",
            target=conflict.status,
            actor=actor,
            snapshot={
                "at": at.isoformat(),
                "respond_by": own_deadline.astimezone(PARIS).isoformat(),
                "working_days": CONFLICT_WORKING_DAYS,
                "orders": sorted(o.pk for o in members),
            },
        )
    held = set(
        ConflictPosition.objects.filter(conflict=conflict).values_list("order_id", flat=True)
    )
    newcomers = sorted(o.pk for o in members if o.pk not in held)
    if not newcomers:
        return conflict
    ConflictPosition.objects.bulk_create(
        [
            ConflictPosition(conflict=conflict, order_id=pk, respond_by=own_deadline)
            for pk in newcomers
        ]
    )
    if held:  # joining a conflict already there: the newcomers' own window
        if conflict.status == ConflictStatus.AWAITING_DECISION:
            conflict = apply_transition(
                conflict, "reopen", actor=actor, snapshot={"at": at.isoformat()}, at=at
            )
        if own_deadline > conflict.respond_by:
            ClientConflict.objects.filter(pk=conflict.pk).update(respond_by=own_deadline)
            conflict.respond_by = own_deadline
        record_transition(
            obj=conflict,
            transition="join",
            source=conflict.status,
            target=conflict.status,
            actor=actor,
            snapshot={
                "at": at.isoformat(),
                "respond_by": own_deadline.astimezone(PARIS).isoformat(),
                "working_days": CONFLICT_WORKING_DAYS,
                "orders": newcomers,
            },
        )
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
        # Open, and within this vendor's own 10 working days (the portal reads the same rule).
        require(order, at, conflict_answer_open)
        position = (
            ConflictPosition.objects.select_for_update(no_key=True)
            .select_related("conflict")
            .get(order=order, conflict__status=ConflictStatus.OPEN)
        )
        conflict = position.conflict
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
    still_claiming = len(conflict.kept_orders())
    if still_claiming <= 1:
        apply_transition(
            conflict,
            "settle",
            actor=actor,
            snapshot={"at": at.isoformat(), "claiming_orders": still_claiming},
            at=at,
        )


def decide_conflict(
    *,
    conflict: ClientConflict,
    chosen_order: PurchaseOrder | None,
    reason: str,
    actor: Actor,
    at: dt.datetime | None = None,
) -> ClientConflict:
    """The administration (acting for the ASP) designates the one order financed in a conflict
    where more than one vendor kept its order (SONS.md, step 3): the others are set aside
    (cancelled by this decision), the decision is journaled with its reason, and every vendor
    concerned is mailed after commit. A refused decision writes nothing."""
    at = now_or(at)
    with transaction.atomic():
        # The lock order (core.transitions): the conflict's orders, then the conflict.
        members = list(
            PurchaseOrder.objects.select_for_update(no_key=True)
            .filter(positions__conflict=conflict)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        locked = ClientConflict.objects.select_for_update(no_key=True).get(pk=conflict.pk)
        kept = [o.pk for o in locked.kept_orders()]
        # The choice is the row's, so that the transition's declared guards judge it.
        ClientConflict.objects.filter(pk=locked.pk).update(
            chosen_order=chosen_order.pk if chosen_order is not None else None,
            decision_reason=reason,
        )
        set_aside = [pk for pk in kept if chosen_order is None or pk != chosen_order.pk]
        conflict = apply_transition(
            locked,
            "decide",
            actor=actor,
            reason=reason.strip(),
            snapshot={
                "at": at.isoformat(),
                "chosen_order_id": chosen_order.pk if chosen_order is not None else None,
                "orders": kept,
                "set_aside": set_aside,
                "members": members,
            },
            at=at,
        )
        apply_transition_many(
            PurchaseOrder,
            set_aside,
            "set_aside",
            actor=actor,
            reason=lambda o: conflict.decision_reason,
            snapshot=lambda o: {
                "at": at.isoformat(),
                "conflict_id": conflict.pk,
                "chosen_order_id": conflict.chosen_order_id,
            },
            arguments=lambda o: {"at": at},
            related=("client",),
        )
        after_commit(tasks.notify_conflict_decision, conflict.pk)
        if set_aside:  # an avance already paid on an order set aside is recovered
            after_commit(tasks.announce_orders_ended, set_aside)
    return conflict


def record_conflict_decision_notice(*, position_id: int, at: dt.datetime) -> bool:
    """Records that the vendor of this position was mailed the decision (a fact about a mail,
    not a state change), once: True if recorded now, False if it was already."""
    return bool(
        ConflictPosition.objects.filter(
            pk=position_id, decision_notice_sent_at__isnull=True
        ).update(decision_notice_sent_at=at)
    )
