"""Gates before the solde: Ordonnance numérique pre-series, pilot périmètre, usage."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalogue.models import Referencing, SolutionVersion
from core.errors import RuleViolation
from core.identifiers import normalize_rpps
from core.journal import Actor, record_transition
from core.services import now_or
from core.transitions import apply_transition
from sons.models import (
    OnPreseries,
    OrderStatus,
    PilotPerimeter,
    PilotSite,
    PurchaseOrder,
    UsageMeasurement,
)
from sons.rules import MonthUsage


def open_preseries(*, solution_version: SolutionVersion, actor: Actor) -> OnPreseries:
    """The pre-series record of a solution version, created once (not started)."""
    with transaction.atomic():
        preseries, created = OnPreseries.objects.get_or_create(solution_version=solution_version)
        if created:
            record_transition(
                obj=preseries,
                transition="create",
                source="",
                target=preseries.status,
                actor=actor,
            )
    return preseries


def start_preseries(
    *, solution_version: SolutionVersion, pilots: list[dict], actor: Actor
) -> OnPreseries:
    """Declares the pilot doctors and pharmacists (RPPS checked) and starts the pre-series."""
    checked = []
    for pilot in pilots:
        try:
            rpps = normalize_rpps(pilot.get("rpps", ""))
        except Exception as exc:
            raise RuleViolation(
                "pilot_rpps_invalid",
                _("Pilote « %(name)s » : %(error)s"),
                field="pilots",
                name=pilot.get("name", "?"),
                error="; ".join(getattr(exc, "messages", [str(exc)])),
            ) from None
        checked.append({"name": pilot.get("name", ""), "role": pilot.get("role"), "rpps": rpps})
    with transaction.atomic():
        preseries = open_preseries(solution_version=solution_version, actor=actor)
        return apply_transition(
            preseries, "start", actor=actor, snapshot={"pilots": checked}, pilots=checked
        )


def submit_preseries(*, preseries: OnPreseries, actor: Actor, at: dt.datetime | None = None):
    at = now_or(at)
    return apply_transition(
        preseries, "submit", actor=actor, snapshot={"at": at.isoformat()}, at=at
    )


def validate_preseries(*, preseries: OnPreseries, actor: Actor, at: dt.datetime | None = None):
    """An administrator (CNAM / GIE SESAM-Vitale's decision) validates the pre-series."""
    at = now_or(at)
    return apply_transition(
        preseries, "validate", actor=actor, snapshot={"at": at.isoformat()}, at=at
    )


def reject_preseries(
    *, preseries: OnPreseries, actor: Actor, reasons: str, at: dt.datetime | None = None
):
    at = now_or(at)
    return apply_transition(
        preseries,
        "reject",
        actor=actor,
        reason=reasons,
        snapshot={"at": at.isoformat()},
        at=at,
        reasons=reasons,
    )


def designate_pilot(*, order: PurchaseOrder, actor: Actor, at: dt.datetime | None = None):
    """The vendor names one of its signed orders as a pilot site of its referenced solution."""
    at = now_or(at)
    referencing: Referencing | None = order.referencing
    required = order.dispositif.pilot_size
    if not required:
        raise RuleViolation(
            "pilot_not_applicable",
            _("Le dispositif %(code)s n'a pas de périmètre pilote."),
            field="order",
            code=order.dispositif.code,
        )
    if order.status != OrderStatus.SIGNED or referencing is None:
        raise RuleViolation(
            "order_not_signed",
            _("Un site pilote est un BDC signé d'une solution référencée."),
            field="order",
        )
    with transaction.atomic():
        perimeter, _created = PilotPerimeter.objects.select_for_update(no_key=True).get_or_create(
            referencing=referencing
        )
        if PilotSite.objects.filter(order=order).exists():
            raise RuleViolation(
                "already_a_pilot",
                _("Le BDC %(reference)s est déjà un site pilote."),
                field="order",
                reference=order.reference,
            )
        if perimeter.sites.count() >= required:
            raise RuleViolation(
                "pilot_full",
                _("Le périmètre pilote compte déjà ses %(required)s sites."),
                field="order",
                required=required,
            )
        site = PilotSite.objects.create(perimeter=perimeter, order=order, designated_at=at)
        record_transition(
            obj=site,
            transition="designate",
            source="",
            target="designated",
            actor=actor,
            snapshot={"at": at.isoformat(), "order_id": order.pk},
        )
    return site


def record_pilot_pv(
    *, order: PurchaseOrder, signed_on: dt.date, pv_sha256: str, actor: Actor
) -> PilotSite:
    with transaction.atomic():
        site = PilotSite.objects.select_for_update(no_key=True).filter(order=order).first()
        if site is None:
            raise RuleViolation(
                "not_a_pilot",
                _("Le BDC %(reference)s n'est pas un site pilote."),
                field="order",
                reference=order.reference,
            )
        site.pv_signed_on = signed_on
        site.pv_sha256 = pv_sha256
        site.save(update_fields=["pv_signed_on", "pv_sha256"])
        record_transition(
            obj=site,
            transition="record_pv",
            source="designated",
            target="pv_recorded",
            actor=actor,
            snapshot={"signed_on": signed_on.isoformat(), "pv_sha256": pv_sha256},
        )
    return site


def publish_pilot_success(
    *, referencing: Referencing, actor: Actor, at: dt.datetime | None = None
) -> PilotPerimeter:
    """The ANS publishes the pilot's success; the other clients' soldes may then be claimed."""
    at = now_or(at)
    if not referencing.dispositif.pilot_size:
        raise RuleViolation(
            "pilot_not_applicable",
            _("Le dispositif %(code)s n'a pas de périmètre pilote."),
            field="referencing",
            code=referencing.dispositif.code,
        )
    perimeter = PilotPerimeter.objects.filter(referencing=referencing).first()
    if perimeter is None:
        raise RuleViolation(
            "pilot_incomplete",
            _("Aucun site pilote n'est désigné pour ce référencement."),
            field="sites",
        )
    return apply_transition(
        perimeter,
        "publish",
        actor=actor,
        snapshot={"at": at.isoformat()},
        at=at,
        required_sites=referencing.dispositif.pilot_size,
    )


def record_usage(*, order: PurchaseOrder, month: dt.date, produced: int, sent: int):
    """One month of usage figures (documents produced / sent with a qualified INS)."""
    try:
        MonthUsage(month=month, produced=produced, sent=sent)
    except ValueError as exc:
        raise RuleViolation("usage_invalid", str(exc), field="usage") from None
    measurement, _created = UsageMeasurement.objects.update_or_create(
        order=order, month=month, defaults={"produced": produced, "sent": sent}
    )
    return measurement
