"""The rules that guard a payment claim, declared once (core.guards).

Opening a claim of a kind on an order is an act (`OPEN_CLAIM[kind]`); what makes a claim ready
for a filing is the `make_ready` transition's guard (`claim_rules_met`), which reads
`claim_refusals`. The portal reads the same guards to say which claim may be prepared now and why
not (`PREPARE_CLAIM[kind]`), so a page never tries a service to find out.
"""

from __future__ import annotations

import datetime as dt

from django.utils.translation import gettext as _

from catalogue.deadlines import DeadlineKind, format_deadline
from catalogue.models import Prestation
from catalogue.selectors import deadline_passed
from core.guards import Act, Guard, Refusal, guard, refusals_of
from core.money import format_euros
from sons.models import PurchaseOrder
from sons.selectors import (
    CONFLICT_UNRESOLVED,
    claim_blockers,
    conflict_unresolved_message,
    order_in_unresolved_conflict,
)

from .models import LIVE_CLAIM_STATUSES, ClaimKind, ClaimStatus, PaymentClaim
from .selectors import avance_order_states, live_claim

# -- Opening a claim ------------------------------------------------------------------------------


def _no_live_claim(kind: str) -> Guard:
    def check(order: PurchaseOrder, at: dt.datetime) -> str | None:
        if not PurchaseOrder.objects.filter(live_claim(kind), pk=order.pk).exists():
            return None
        return _("Le BDC %(reference)s a déjà une %(kind)s en cours ou payée.") % {
            "reference": order.reference,
            "kind": str(ClaimKind(kind).label).lower(),
        }

    check.__name__ = f"no_live_{kind}"
    return Guard(check, code="claim_already_open", field="kind")


@guard("order_not_signed", field="order")
def order_priced(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """A claim's amounts come from the amount the signature froze on the BDC."""
    if order.amount_ht_cents is not None:
        return None
    return _("Le BDC %(reference)s n'a pas de montant : il n'est pas signé.") % {
        "reference": order.reference
    }


@guard("advance_rate_unknown", field="kind")
def advance_rate_known(order: PurchaseOrder, at: dt.datetime) -> str | None:
    if order.dispositif.advance_rate is not None:
        return None
    return _("Le taux d'avance du dispositif %(code)s n'est pas connu.") % {
        "code": order.dispositif.code
    }


@guard("no_secondary_prestation", field="kind")
def has_secondary_prestation(order: PurchaseOrder, at: dt.datetime) -> str | None:
    if order.dispositif.tariffs.filter(prestation=Prestation.SECONDARY).exists():
        return None
    return _("Le dispositif %(code)s n'a pas de prestation secondaire.") % {
        "code": order.dispositif.code
    }


OPEN_CLAIM: dict[str, Act] = {
    ClaimKind.AVANCE: Act(
        "open_avance",
        _("Ouvrir la demande d'avance"),
        (_no_live_claim(ClaimKind.AVANCE), order_priced, advance_rate_known),
    ),
    ClaimKind.SOLDE: Act(
        "open_solde",
        _("Ouvrir la demande de solde"),
        (_no_live_claim(ClaimKind.SOLDE), order_priced),
    ),
    ClaimKind.SECONDAIRE: Act(
        "open_secondaire",
        _("Ouvrir la demande de prestation secondaire"),
        (_no_live_claim(ClaimKind.SECONDAIRE), order_priced, has_secondary_prestation),
    ),
}


# -- The rules an order must meet for a claim of each kind ----------------------------------------


@guard("order_not_signed", field="order")
def order_admits_avance(order: PurchaseOrder, at: dt.datetime) -> str | None:
    if order.status in avance_order_states(
        allows_conditional=order.dispositif.allows_conditional_orders
    ):
        return None
    return _("Le BDC n'est pas signé (état : %(state)s).") % {"state": order.get_status_display()}


@guard(CONFLICT_UNRESOLVED, field="order")
def no_unresolved_conflict(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """Never two financings for one client in one dispositif (SONS.md, step 3)."""
    if not order_in_unresolved_conflict(order):
        return None
    return conflict_unresolved_message()


@guard("advances_deadline_passed", field="kind")
def advances_open(order: PurchaseOrder, at: dt.datetime) -> str | None:
    deadline = deadline_passed(dispositif=order.dispositif, kind=DeadlineKind.ADVANCES, at=at)
    if deadline is None:
        return None
    return _("Les demandes d'avance devaient être déposées avant le %(deadline)s.") % {
        "deadline": format_deadline(deadline.at)
    }


AVANCE_RULES: tuple[Guard, ...] = (order_admits_avance, no_unresolved_conflict, advances_open)


def _blockers(prestation: str) -> Guard:
    """`sons.selectors.claim_blockers` as a guard: every condition that stops a solde."""

    def check(order: PurchaseOrder, at: dt.datetime) -> list[Refusal]:
        return [
            Refusal(u.code, u.message, "order")
            for u in claim_blockers(order=order, at=at, prestation=prestation)
        ]

    check.__name__ = f"claimable_{prestation}"
    return Guard(check, code="claim_blocked", field="order")


def latest_advance(order: PurchaseOrder) -> PaymentClaim | None:
    """The avance as last amended (the head of its avenant chain), if the order has one."""
    claim = (
        PaymentClaim.objects.filter(
            order=order,
            kind=ClaimKind.AVANCE,
            amends__isnull=True,
            status__in=LIVE_CLAIM_STATUSES,
        )
        .select_related("amendment")
        .first()
    )
    while claim is not None and hasattr(claim, "amendment"):
        claim = claim.amendment
    return claim


@guard("advance_not_paid", field="order")
def advance_paid(order: PurchaseOrder, at: dt.datetime) -> str | None:
    """A solde follows a paid avance: the last version of the avance, when there is one, is paid."""
    advance = latest_advance(order)
    if advance is None or advance.status == ClaimStatus.PAID:
        return None
    return _("La dernière version de l'avance n'est pas encore payée par l'ASP.")


# The order's rules for a claim of each kind: a solde also follows its paid avance.
ORDER_RULES: dict[str, tuple[Guard, ...]] = {
    ClaimKind.AVANCE: AVANCE_RULES,
    ClaimKind.SOLDE: (_blockers(Prestation.MAIN), advance_paid),
    ClaimKind.SECONDAIRE: (_blockers(Prestation.SECONDARY),),
    ClaimKind.COMPENSATION: (),
}


# What the portal offers as « Préparer la demande … »: open it, then meet the order's rules (a
# solde is not offered before its avance is paid: the claim would only wait, refused when filed).
PREPARE_CLAIM: dict[str, Act] = {
    kind: Act(act.name, act.label, (*act.guards, *ORDER_RULES[kind]))
    for kind, act in OPEN_CLAIM.items()
}


def cancellable_claim_states() -> list[str]:
    """The claim states its `cancel` transition leaves (read from the state machine)."""
    return sorted(PaymentClaim.cancel._django_fsm.transitions)


# -- A claim made ready ---------------------------------------------------------------------------


def claim_refusals(claim: PaymentClaim, at: dt.datetime) -> list[Refusal]:
    """Every rule that stops this claim from being filed at `at`: its order's rules for its
    kind (for a solde, its avance paid), then the claim's own (invoice, amounts)."""
    order = claim.order
    found = refusals_of(ORDER_RULES[claim.kind], order, at)
    if claim.kind not in (ClaimKind.SOLDE, ClaimKind.SECONDAIRE):
        return found
    if not claim.invoice_number or not claim.invoice_pdf:
        found.append(
            Refusal(
                "invoice_missing",
                _("La facture (numéro, date, PDF) doit être jointe."),
                "invoice_pdf",
            )
        )
    elif claim.kind == ClaimKind.SOLDE and claim.invoice_amount_ttc_cents != order.amount_ttc_cents:
        found.append(
            Refusal(
                "invoice_not_global",
                _("La facture doit porter sur 100 %% de la prestation, soit %(amount)s TTC.")
                % {"amount": format_euros(order.amount_ttc_cents)},
                "invoice_amount_ttc_cents",
            )
        )
    if claim.kind == ClaimKind.SOLDE:
        advance = latest_advance(order)
        claimed = (advance.amount_ttc_cents if advance else 0) + claim.amount_ttc_cents
        if claimed > order.amount_ttc_cents:
            found.append(
                Refusal(
                    "amount_above_order",
                    _("Avance et solde dépassent le montant du BDC."),
                    "amount_ttc_cents",
                )
            )
    return found


def claim_rules_met(claim: PaymentClaim, at: dt.datetime) -> Refusal | None:
    """The guard of `make_ready`: one refusal that names the first rule's code and says every
    reason."""
    found = claim_refusals(claim, at)
    if not found:
        return None
    return Refusal(
        found[0].code,
        _("La demande ne peut pas être déposée : %(reasons)s")
        % {"reasons": " ; ".join(r.message for r in found)},
        "status",
    )
