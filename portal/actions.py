"""The actions an order's page offers now, each disabled with the reason a rule gives.

The reasons are the rules' own words: the state machines say which transitions leave the current
state, `sons.selectors.claim_blockers` says what stops a solde, and for the other acts the service
itself is tried in a transaction that is always rolled back, its RuleViolation shown as is. The
service stays the judge when the form is sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from catalogue.deadlines import PARIS
from catalogue.models import Prestation
from core.errors import RuleViolation
from payments.models import LIVE_CLAIM_STATUSES, ClaimKind, PaymentClaim
from payments.services import claims as claim_services
from sons.models import (
    ConflictStatus,
    DeploymentStatus,
    OrderStatus,
    PurchaseOrder,
    VaStatus,
)
from sons.selectors import claim_blockers
from sons.services import acceptance, deployments
from sons.services.acceptance import Signer


@dataclass
class Action:
    key: str
    label: str
    enabled: bool = True
    reasons: list[str] = field(default_factory=list)
    danger: bool = False


class _Trial(Exception):
    pass


def refusal(service, /, **kwargs) -> str | None:
    """The message of the rule that refuses `service(**kwargs)` now, or None when it would pass.
    Nothing it writes is kept."""
    try:
        with transaction.atomic():
            service(**kwargs)
            raise _Trial
    except _Trial:
        return None
    except RuleViolation as exc:
        return exc.message
    except DatabaseError:
        return _("Une autre écriture est en cours sur ce BDC : réessayez dans un instant.")


def _signing_service(name: str):
    """A service of the online signing app (signing.services), when it is installed."""
    try:
        from signing import services
    except ImportError:
        return None
    return getattr(services, name, None)


def portal_signer(user) -> Signer:
    """The vendor's person who declares (MOM), as the declaration records them."""
    return Signer(
        name=user.get_full_name() or user.get_username(),
        role=_("Fournisseur (portail)"),
        identity_method=_("compte du portail fournisseur"),
    )


def _state_refusal(order: PurchaseOrder, transition: str) -> str | None:
    available = {t.name for t in order.get_available_status_transitions()}
    if transition in available:
        return None
    return _("Impossible depuis l'état « %(state)s ».") % {"state": order.get_status_display()}


def _has_live_claim(order: PurchaseOrder, kind: str) -> bool:
    return PaymentClaim.objects.filter(
        order=order, kind=kind, amends__isnull=True, status__in=LIVE_CLAIM_STATUSES
    ).exists()


def order_actions(order: PurchaseOrder, *, user, at: dt.datetime) -> list[Action]:
    actions: list[Action] = []

    def add(key, label, reason=None, *, reasons=None, danger=False):
        found = list(reasons or []) + ([reason] if reason else [])
        actions.append(Action(key, label, not found, found, danger))

    if order.status == OrderStatus.DRAFT:
        add("sign", _("Enregistrer la signature du BDC par le client"))
        send_order_link = _signing_service("send_order_link")
        if send_order_link is not None:
            add(
                "send_order_link",
                _("Envoyer le BDC au client pour signature en ligne"),
                refusal(send_order_link, order=order, actor=user, at=at),
            )

    live_deployment = order.deployments.exclude(status=DeploymentStatus.ABANDONED).first()
    if live_deployment is None:
        add(
            "schedule",
            _("Confirmer une date ferme de réalisation"),
            refusal(
                deployments.schedule_deployment,
                order=order,
                firm_date=at.astimezone(PARIS).date(),
                actor=user,
                at=at,
            )
            if order.status == OrderStatus.SIGNED
            else _("Un déploiement se planifie sur un BDC signé (état actuel : %(state)s).")
            % {"state": order.get_status_display()},
        )
    else:
        steps = {
            DeploymentStatus.SCHEDULED: ("deployment_start", _("Déclarer le déploiement commencé")),
            DeploymentStatus.IN_PROGRESS: (
                "deployment_install",
                _("Déclarer le logiciel installé"),
            ),
            DeploymentStatus.INSTALLED: (
                "deployment_verify",
                _("Déclarer l'installation vérifiée"),
            ),
        }
        if live_deployment.status in steps:
            add(*steps[live_deployment.status])

    live_va = order.vas.filter(status__in=[VaStatus.DRAFT, VaStatus.ISSUED]).first()
    if live_va is not None and live_va.status == VaStatus.ISSUED:
        add("resend_va", _("Renvoyer au client le lien de signature de la VA"))
    elif live_va is None:
        add(
            "issue_va",
            _("Émettre la VA"),
            refusal(
                acceptance.create_va,
                order=order,
                delivered_summary=_("Prestation réalisée"),
                actor=user,
                at=at,
            ),
        )
    else:
        add("issue_draft_va", _("Émettre la VA préparée"))
    add(
        "mom",
        _("Déclarer la mise en ordre de marche (MOM)"),
        refusal(
            acceptance.declare_mom,
            order=order,
            signer=portal_signer(user),
            statement=_("Déclaration"),
            actor=user,
            at=at,
        ),
    )

    def open_and_check(kind):
        claim = claim_services.open_claim(order=order, kind=kind, actor=user, at=at)
        claim_services.make_ready(claim=claim, actor=user, at=at)

    add(
        "claim_avance",
        _("Préparer la demande d'avance"),
        refusal(open_and_check, kind=ClaimKind.AVANCE),
    )
    if not _has_live_claim(order, ClaimKind.SOLDE):
        add(
            "claim_solde",
            _("Préparer la demande de solde"),
            reasons=[u.message for u in claim_blockers(order=order, at=at)],
        )
    if order.dispositif.tariffs.filter(prestation=Prestation.SECONDARY).exists() and not (
        _has_live_claim(order, ClaimKind.SECONDAIRE)
    ):
        add(
            "claim_secondaire",
            _("Préparer la demande de prestation secondaire"),
            reasons=[
                u.message
                for u in claim_blockers(order=order, at=at, prestation=Prestation.SECONDARY)
            ],
        )

    position = order.positions.filter(conflict__status=ConflictStatus.OPEN).first()
    if position is not None:
        add("conflict_keep", _("Conflit : maintenir la commande"))
        add("conflict_withdraw", _("Conflit : retirer la commande"), danger=True)

    add("cancel", _("Annuler le BDC"), _state_refusal(order, "cancel"), danger=True)
    add(
        "declare_default",
        _("Déclarer ne pas pouvoir réaliser la prestation"),
        _state_refusal(order, "declare_default"),
        danger=True,
    )
    return actions
