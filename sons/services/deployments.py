"""Deployments: a firm completion date, then install, configure, train, until verified."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalogue.deadlines import PARIS, DeadlineKind, format_deadline
from catalogue.selectors import deadline_for
from core.errors import RuleViolation
from core.journal import Actor, record_transition
from core.services import now_or
from core.transitions import apply_transition
from sons import acts
from sons.models import Deployment, PurchaseOrder
from sons.models.deployment import firm_date_fits


def schedule_deployment(
    *, order: PurchaseOrder, firm_date: dt.date, actor: Actor, at: dt.datetime | None = None
) -> Deployment:
    """The vendor confirms a firm completion date with its client."""
    at = now_or(at)
    if firm_date < at.astimezone(PARIS).date():
        raise RuleViolation(
            "firm_date_in_past",
            _("La date ferme du %(date)s est déjà passée : confirmez une date à venir."),
            field="firm_date",
            date=firm_date.strftime("%d/%m/%Y"),
        )
    firm_date_deadline = deadline_for(
        dispositif=order.dispositif, kind=DeadlineKind.FIRM_DATE, at=at
    )
    realisation = deadline_for(dispositif=order.dispositif, kind=DeadlineKind.REALISATION, at=at)
    if not firm_date_fits(firm_date, realisation.at if realisation else None):
        raise RuleViolation(
            "firm_date_after_realisation",
            _("La date ferme du %(date)s tombe après la fin de réalisation, le %(deadline)s."),
            field="firm_date",
            date=firm_date.strftime("%d/%m/%Y"),
            deadline=format_deadline(realisation.at, zone=True),
        )
    with transaction.atomic():
        order = PurchaseOrder.objects.select_for_update(no_key=True).get(pk=order.pk)
        acts.SCHEDULE_DEPLOYMENT.require(order, at=at)
        deployment = Deployment.objects.create(
            order=order, firm_date=firm_date, firm_date_confirmed_at=at
        )
        record_transition(
            obj=deployment,
            transition="schedule",
            source="",
            target=deployment.status,
            actor=actor,
            snapshot={
                "at": at.isoformat(),
                "firm_date": firm_date.isoformat(),
                "realisation_deadline": realisation.as_snapshot() if realisation else None,
                "firm_date_deadline": firm_date_deadline.as_snapshot()
                if firm_date_deadline
                else None,
            },
        )
    return deployment


def _step(name: str):
    def step(*, deployment: Deployment, actor: Actor, at: dt.datetime | None = None) -> Deployment:
        at = now_or(at)
        return apply_transition(
            deployment, name, actor=actor, snapshot={"at": at.isoformat()}, at=at
        )

    step.__name__ = f"{name}_deployment"
    step.__doc__ = f"Moves a deployment through its « {name} » transition, journaled."
    return step


start_deployment = _step("start")
install_deployment = _step("install")
verify_deployment = _step("verify")


def abandon_deployment(
    *, deployment: Deployment, actor: Actor, reason: str, at: dt.datetime | None = None
) -> Deployment:
    at = now_or(at)
    return apply_transition(
        deployment,
        "abandon",
        actor=actor,
        reason=reason,
        snapshot={"at": at.isoformat()},
        at=at,
        abandon_reason=reason,
    )
