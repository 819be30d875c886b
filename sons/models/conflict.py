"""One financing per client per dispositif: two vendors claiming one client are in conflict."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from catalogue.deadlines import format_deadline, is_in_time
from catalogue.models import Dispositif
from core.errors import RuleViolation
from core.guards import Refusal, guard

from .client import Client
from .order import CLAIMING_STATUSES, OrderStatus, PurchaseOrder


class ConflictStatus(models.TextChoices):
    OPEN = "open", _("En cours")
    AWAITING_DECISION = "awaiting_decision", _("En attente de décision")
    SETTLED = "settled", _("Réglé")
    EXPIRED = "expired", _("Délai échu")
    DECIDED = "decided", _("Tranché par l'administration (ASP)")


# A conflict not yet resolved: no order in it may be financed (SONS.md, life of a Prestation,
# step 3). Open: the vendors' windows run; awaiting decision: more than one kept its order.
UNRESOLVED_CONFLICT_STATUSES = [ConflictStatus.OPEN, ConflictStatus.AWAITING_DECISION]


class Decision(models.TextChoices):
    PENDING = "pending", _("En attente de réponse")
    KEEP = "keep", _("Maintient sa commande")
    CHANGE = "change", _("Corrige sa commande")
    WITHDRAW = "withdraw", _("Retire sa commande")


# -- The rules that guard the conflict's transitions (core.guards), judged at the act's instant.


@guard("conflict_window_running", field="respond_by")
def every_window_over(conflict: ClientConflict, at: dt.datetime) -> str | None:
    """The conflict's window ends when every vendor's own 10 working days have."""
    running = [p.respond_by for p in conflict.held_positions() if is_in_time(at, p.respond_by)]
    if not running:
        return None
    return _("Un fournisseur peut encore répondre à ce conflit jusqu'au %(until)s.") % {
        "until": format_deadline(max(running), zone=True)
    }


@guard("conflict_several_kept", field="status")
def at_most_one_kept(conflict: ClientConflict, at: dt.datetime) -> str | None:
    """A conflict ends by itself only when at most one vendor still claims the client."""
    if len(conflict.kept_orders()) <= 1:
        return None
    return _(
        "Plusieurs fournisseurs maintiennent leur commande : l'administration (ASP) doit "
        "désigner celle qui est financée."
    )


@guard("conflict_single_kept", field="status")
def several_kept(conflict: ClientConflict, at: dt.datetime) -> str | None:
    """A decision is needed only when more than one vendor kept its order."""
    if len(conflict.kept_orders()) > 1:
        return None
    return _("Au plus un fournisseur maintient sa commande : rien à décider.")


@guard("conflict_choice_not_kept", field="chosen_order")
def chosen_order_kept(conflict: ClientConflict, at: dt.datetime) -> str | None:
    """The order financed is one of those kept in the conflict; the others can be ended.
    Before a choice is made (a page offering the act), there must be one to choose."""
    kept = conflict.kept_orders()
    if conflict.chosen_order_id is None:
        if kept:
            return None
        return _("Aucune commande n'est maintenue dans ce conflit.")
    if conflict.chosen_order_id not in {o.pk for o in kept}:
        return _(
            "La commande désignée doit être l'une de celles maintenues dans ce conflit (%(kept)s)."
        ) % {"kept": ", ".join(o.reference for o in kept) or "aucune"}
    financed = [
        o.reference
        for o in kept
        if o.pk != conflict.chosen_order_id
        and o.status not in (OrderStatus.CONDITIONAL, OrderStatus.SIGNED)
    ]
    if financed:
        return _("Le BDC %(references)s est déjà soldé : il ne peut pas être écarté.") % {
            "references": ", ".join(financed)
        }
    return None


@guard("conflict_response_late", field="decision")
def conflict_answer_open(order: PurchaseOrder, at: dt.datetime) -> Refusal | None:
    """A vendor answers a conflict (keep, change, withdraw) while it is open and its own 10
    working days run."""
    position = (
        ConflictPosition.objects.filter(order=order, conflict__status=ConflictStatus.OPEN)
        .only("respond_by")
        .first()
    )
    if position is None:
        return Refusal(
            "no_open_conflict",
            _("Le BDC %(reference)s n'est dans aucun conflit en cours.")
            % {"reference": order.reference},
            "order",
        )
    if is_in_time(at, position.respond_by):
        return None
    return Refusal(
        "conflict_response_late",
        _("Votre réponse à ce conflit était attendue avant le %(until)s.")
        % {"until": format_deadline(position.respond_by, zone=True)},
        "decision",
    )


class ClientConflict(ConcurrentTransitionMixin, models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="conflicts")
    dispositif = models.ForeignKey(Dispositif, on_delete=models.PROTECT, related_name="+")
    status = FSMField(
        _("état"),
        max_length=24,
        choices=ConflictStatus.choices,
        default=ConflictStatus.OPEN,
        protected=True,
    )
    opened_at = models.DateTimeField(_("ouvert le"))
    # The end of the conflict's window: the latest of its positions' own deadlines.
    respond_by = models.DateTimeField(_("réponses attendues avant le"))
    closed_at = models.DateTimeField(_("clos le"), null=True, blank=True)
    chosen_order = models.ForeignKey(
        PurchaseOrder,
        verbose_name=_("commande désignée pour le financement"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    decision_reason = models.TextField(_("motif de la décision"), blank=True)

    class Meta:
        verbose_name = _("conflit de financement")
        verbose_name_plural = _("conflits de financement")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "dispositif"],
                condition=models.Q(status__in=["open", "awaiting_decision"]),
                name="conflict_one_unresolved_per_client_dispositif",
            )
        ]

    def __str__(self) -> str:
        return f"Conflit {self.client.legal_name} × {self.dispositif.code}"

    @transition(
        field=status,
        source=ConflictStatus.OPEN,
        target=ConflictStatus.SETTLED,
        custom={"label": _("Régler le conflit")},
    )
    def settle(self, *, at: dt.datetime) -> None:
        self.closed_at = at

    @transition(
        field=status,
        source=ConflictStatus.OPEN,
        target=ConflictStatus.EXPIRED,
        conditions=[every_window_over, at_most_one_kept],
        custom={"label": _("Constater l'échéance")},
    )
    def expire(self, *, at: dt.datetime) -> None:
        self.closed_at = at

    @transition(
        field=status,
        source=ConflictStatus.OPEN,
        target=ConflictStatus.AWAITING_DECISION,
        conditions=[every_window_over, several_kept],
        custom={"label": _("Soumettre à la décision de l'administration (ASP)")},
    )
    def await_decision(self, *, at: dt.datetime) -> None:
        pass

    @transition(
        field=status,
        source=ConflictStatus.AWAITING_DECISION,
        target=ConflictStatus.OPEN,
        custom={"label": _("Rouvrir (un autre fournisseur revendique le client)")},
    )
    def reopen(self, *, at: dt.datetime) -> None:
        pass

    @transition(
        field=status,
        source=ConflictStatus.AWAITING_DECISION,
        target=ConflictStatus.DECIDED,
        conditions=[chosen_order_kept],
        custom={"label": _("Désigner la commande financée")},
    )
    def decide(self, *, at: dt.datetime) -> None:
        """The choice (`chosen_order`, `decision_reason`) is written on the row, in the
        decision's transaction, before its guards judge it (`sons.services.conflicts`)."""
        if self.chosen_order_id is None:
            raise RuleViolation(
                "chosen_order_required",
                _("Désignez la commande à financer."),
                field="chosen_order",
            )
        if not self.decision_reason.strip():
            raise RuleViolation(
                "decision_reason_required",
                _("La décision doit être motivée."),
                field="reason",
            )
        self.decision_reason = self.decision_reason.strip()
        self.closed_at = at

    def held_positions(self) -> list[ConflictPosition]:
        """The positions with their orders: prefetched (`positions__order`) when many
        conflicts are judged at once (the sweep), else read in one query."""
        if "positions" in getattr(self, "_prefetched_objects_cache", {}):
            return list(self.positions.all())
        return list(self.positions.select_related("order"))

    def kept_orders(self) -> list[PurchaseOrder]:
        """The orders that still claim the client in this conflict (signed, conditional or
        soldé, and not moved to another client): when the windows are over, more than one
        means an administrator must choose between them."""
        return sorted(
            (
                p.order
                for p in self.held_positions()
                if p.order.client_id == self.client_id and p.order.status in CLAIMING_STATUSES
            ),
            key=lambda o: o.pk,
        )


class ConflictPosition(models.Model):
    """One vendor's order in a conflict, and what the vendor answered."""

    conflict = models.ForeignKey(ClientConflict, on_delete=models.CASCADE, related_name="positions")
    order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="positions")
    decision = models.CharField(
        _("réponse"), max_length=16, choices=Decision.choices, default=Decision.PENDING
    )
    decided_at = models.DateTimeField(_("répondu le"), null=True, blank=True)
    # This vendor's own 10 working days, from when it was told (SONS.md, step 3).
    respond_by = models.DateTimeField(_("réponse attendue avant le"))
    note = models.TextField(_("précisions"), blank=True)
    # When this vendor was mailed the administration's decision (sons.tasks), once.
    decision_notice_sent_at = models.DateTimeField(
        _("décision notifiée le"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("position dans un conflit")
        verbose_name_plural = _("positions dans un conflit")
        constraints = [
            models.UniqueConstraint(fields=["conflict", "order"], name="position_unique_order")
        ]

    def __str__(self) -> str:
        return f"{self.order.reference} : {self.get_decision_display()}"
