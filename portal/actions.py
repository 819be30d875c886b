"""The actions an order's page offers now, each disabled with the reasons its rules give.

Read from the declared guards (core.guards): the transitions' `conditions=` on the models and
the acts of sons, payments and signing (`sons.acts`, `payments.acts`, `signing.acts`). Nothing is
tried: building the page writes nothing and takes no lock. The service stays the judge when the
form is sent, with the same guards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.guards import Refusal, transition_refusals
from payments import acts as payment_acts
from payments.models import ClaimKind
from payments.selectors import live_claim
from signing import acts as signing_acts
from sons import acts
from sons.models import (
    Deployment,
    DeploymentStatus,
    OrderStatus,
    PurchaseOrder,
    VaStatus,
)
from sons.models.conflict import conflict_answer_open
from sons.selectors import order_in_unresolved_conflict
from sons.services.acceptance import Signer


@dataclass
class Action:
    key: str
    label: str
    enabled: bool = True
    reasons: list[str] = field(default_factory=list)
    danger: bool = False
    # Where the person fixes what a rule asks for (label, address), e.g. the client's record.
    fixes: list[tuple[str, str]] = field(default_factory=list)


# Rules a vendor satisfies on its own record of the client: the refusal links to its form.
CLIENT_RECORD_RULES = {
    "mssante_address_required": gettext_lazy("Renseigner l'adresse MSSanté du client"),
    "client_address_required": gettext_lazy("Renseigner le courriel du client"),
}


def _fixes(order: PurchaseOrder, refusals: list[Refusal]) -> list[tuple[str, str]]:
    found = []
    for code in dict.fromkeys(r.code for r in refusals if r.code in CLIENT_RECORD_RULES):
        back = reverse("portal:order_detail", args=[order.pk])
        url = reverse("portal:client_update", args=[order.client_id])
        found.append((str(CLIENT_RECORD_RULES[code]), f"{url}?{urlencode({'next': back})}"))
    return found


def portal_signer(user) -> Signer:
    """The vendor's person who declares (MOM), as the declaration records them."""
    return Signer(
        name=user.get_full_name() or user.get_username(),
        role=_("Fournisseur (portail)"),
        identity_method=_("compte du portail fournisseur"),
    )


def _messages(refusals: list[Refusal]) -> list[str]:
    seen: list[str] = []
    for refusal in refusals:
        if refusal.message not in seen:
            seen.append(refusal.message)
    return seen


def _signature_refusals(order: PurchaseOrder, at: dt.datetime) -> list[Refusal]:
    """Firm when the version is referenced, else under condition: the signature may be
    recorded when either transition's guards let it."""
    firm = transition_refusals(order, "sign", at=at)
    if not firm:
        return []
    conditional = transition_refusals(order, "sign_conditionally", at=at)
    if not conditional:
        return []
    referenced = not any(r.code == "solution_not_referenced" for r in firm)
    return firm if referenced else conditional


def _has_live_claim(order: PurchaseOrder, kind: str) -> bool:
    return PurchaseOrder.objects.filter(live_claim(kind), pk=order.pk).exists()


DEPLOYMENT_STEPS = {
    DeploymentStatus.SCHEDULED: ("deployment_start", "start"),
    DeploymentStatus.IN_PROGRESS: ("deployment_install", "install"),
    DeploymentStatus.INSTALLED: ("deployment_verify", "verify"),
}


def order_actions(order: PurchaseOrder, *, user, at: dt.datetime) -> list[Action]:
    actions: list[Action] = []

    def add(key, label, refusals=(), *, danger=False):
        refusals = list(refusals)
        reasons = _messages(refusals)
        actions.append(
            Action(key, str(label), not reasons, reasons, danger, _fixes(order, refusals))
        )

    if order.status == OrderStatus.DRAFT:
        add(
            "sign",
            _("Enregistrer la signature du BDC par le client"),
            _signature_refusals(order, at),
        )
        add(
            "send_order_link",
            signing_acts.SEND_ORDER_LINK.label,
            signing_acts.SEND_ORDER_LINK.refusals(order, at=at),
        )

    live_deployment = Deployment.objects.live().filter(order=order).first()
    if live_deployment is None:
        add(
            "schedule",
            acts.SCHEDULE_DEPLOYMENT.label,
            acts.SCHEDULE_DEPLOYMENT.refusals(order, at=at),
        )
    elif live_deployment.status in DEPLOYMENT_STEPS:
        key, transition = DEPLOYMENT_STEPS[live_deployment.status]
        label = (
            getattr(Deployment, transition)
            ._django_fsm.get_transition(live_deployment.status)
            .custom.get("label", transition)
        )
        add(key, label, transition_refusals(live_deployment, transition, at=at))

    live_va = order.vas.filter(status__in=[VaStatus.DRAFT, VaStatus.ISSUED]).first()
    if live_va is not None and live_va.status == VaStatus.ISSUED:
        add(
            "resend_va",
            signing_acts.SEND_VA_LINK.label,
            signing_acts.SEND_VA_LINK.refusals(live_va, at=at),
        )
    elif live_va is None:
        add("issue_va", acts.ISSUE_VA.label, acts.ISSUE_VA.refusals(order, at=at))
    else:
        add(
            "issue_draft_va",
            _("Émettre la VA préparée"),
            transition_refusals(live_va, "issue", at=at),
        )
    add("mom", acts.DECLARE_MOM.label, acts.DECLARE_MOM.refusals(order, at=at))
    add(
        "notify_completion",
        acts.NOTIFY_COMPLETION.label,
        acts.NOTIFY_COMPLETION.refusals(order, at=at),
    )

    prepare = payment_acts.PREPARE_CLAIM
    add(
        "claim_avance",
        _("Préparer la demande d'avance"),
        prepare[ClaimKind.AVANCE].refusals(order, at=at),
    )
    if not _has_live_claim(order, ClaimKind.SOLDE):
        add(
            "claim_solde",
            _("Préparer la demande de solde"),
            prepare[ClaimKind.SOLDE].refusals(order, at=at),
        )
    if payment_acts.has_secondary_prestation(order) and not _has_live_claim(
        order, ClaimKind.SECONDAIRE
    ):
        add(
            "claim_secondaire",
            _("Préparer la demande de prestation secondaire"),
            prepare[ClaimKind.SECONDAIRE].refusals(order, at=at),
        )

    if order_in_unresolved_conflict(order):
        answer = conflict_answer_open.refusals(order, at)
        add("conflict_keep", _("Conflit : maintenir la commande"), answer)
        add("conflict_withdraw", _("Conflit : retirer la commande"), answer, danger=True)

    add(
        "cancel",
        _("Annuler le BDC"),
        transition_refusals(order, "cancel", at=at),
        danger=True,
    )
    add(
        "declare_default",
        _("Déclarer ne pas pouvoir réaliser la prestation"),
        transition_refusals(order, "declare_default", at=at),
        danger=True,
    )
    return actions
