"""The only writers of the catalogue's state machines: each call is one journaled transaction."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import RuleViolation
from core.journal import Actor, record_transition
from core.transitions import apply_transition

from .deadlines import PARIS, DeadlineKind
from .models import (
    LIVE_STATUSES,
    CalendarVersion,
    Dispositif,
    Referencing,
    SolutionVersion,
    Vendor,
)
from .selectors import deadline_for, vendor_may_distribute


def _now(at: dt.datetime | None) -> dt.datetime:
    return at or timezone.now()


def ensure_vendor_may_distribute(*, vendor: Vendor, solution, at: dt.datetime) -> None:
    """Refuses a vendor that is neither the éditeur nor its mandated distributeur on that day."""
    if not vendor_may_distribute(vendor=vendor, solution=solution, at=at):
        raise RuleViolation(
            "vendor_not_mandated",
            _("%(vendor)s n'est ni l'éditeur de %(solution)s ni son distributeur mandaté."),
            field="vendor",
            vendor=vendor.name,
            solution=solution.name,
        )


def create_referencing(
    *,
    solution_version: SolutionVersion,
    dispositif: Dispositif,
    vendor: Vendor,
    actor: Actor,
    at: dt.datetime | None = None,
) -> Referencing:
    """Opens a draft referencing dossier, filed by the éditeur or a mandated distributeur."""
    at = _now(at)
    ensure_vendor_may_distribute(vendor=vendor, solution=solution_version.solution, at=at)
    if Referencing.objects.filter(
        solution_version=solution_version, dispositif=dispositif, status__in=LIVE_STATUSES
    ).exists():
        raise RuleViolation(
            "referencing_already_open",
            _("Un dossier de référencement est déjà ouvert pour %(version)s sur %(code)s."),
            field="solution_version",
            version=str(solution_version),
            code=dispositif.code,
        )
    with transaction.atomic():
        referencing = Referencing.objects.create(
            solution_version=solution_version, dispositif=dispositif, vendor=vendor
        )
        record_transition(
            obj=referencing,
            transition="create",
            source="",
            target=referencing.status,
            actor=actor,
            snapshot={"vendor_id": vendor.pk, "at": at.isoformat()},
        )
    return referencing


def submit_referencing(
    *, referencing: Referencing, actor: Actor, at: dt.datetime | None = None
) -> Referencing:
    """Files the dossier; refused once the referencing-dossier deadline in force has passed."""
    at = _now(at)
    deadline = deadline_for(
        dispositif=referencing.dispositif, kind=DeadlineKind.REFERENCING_DOSSIER, at=at
    )
    return apply_transition(
        referencing,
        "submit",
        actor=actor,
        snapshot={
            "at": at.isoformat(),
            "deadline": deadline.as_snapshot() if deadline else None,
        },
        at=at,
        deadline_at=deadline.at if deadline else None,
    )


def start_review(*, referencing: Referencing, actor: Actor, at: dt.datetime | None = None):
    return apply_transition(
        referencing, "start_review", actor=actor, snapshot={"at": _now(at).isoformat()}
    )


def reference_solution(
    *,
    referencing: Referencing,
    actor: Actor,
    ans_number: str,
    referenced_on: dt.date | None = None,
    at: dt.datetime | None = None,
) -> Referencing:
    at = _now(at)
    referenced_on = referenced_on or timezone.localdate(at)
    return apply_transition(
        referencing,
        "reference",
        actor=actor,
        snapshot={
            "at": at.isoformat(),
            "ans_number": ans_number,
            "referenced_on": referenced_on.isoformat(),
        },
        at=at,
        ans_number=ans_number,
        referenced_on=referenced_on,
    )


def reject_referencing(
    *, referencing: Referencing, actor: Actor, reasons: str, at: dt.datetime | None = None
) -> Referencing:
    at = _now(at)
    return apply_transition(
        referencing,
        "reject",
        actor=actor,
        reason=reasons,
        snapshot={"at": at.isoformat()},
        at=at,
        reasons=reasons,
    )


def withdraw_referencing(
    *, referencing: Referencing, actor: Actor, reason: str, at: dt.datetime | None = None
) -> Referencing:
    at = _now(at)
    return apply_transition(
        referencing,
        "withdraw",
        actor=actor,
        reason=reason,
        snapshot={"at": at.isoformat()},
        at=at,
        withdrawal_reason=reason,
    )


def publish_calendar_version(
    *,
    version: CalendarVersion,
    published_on: dt.date,
    actor: Actor,
    in_force_on: dt.date | None = None,
    nor: str = "",
    at: dt.datetime | None = None,
) -> CalendarVersion:
    """Records the publication of an announced calendar version (« arrêté à paraître »): from
    `in_force_on` (the day of publication by default, 0 h Paris) its deadlines are in force.

    Journaled with the deadlines it sets; refused for a founding calendar, for a version
    already applied, and for a publication dated after today (SONS.md « Calendar and
    deadlines »: a move announced but not yet published is shown as announced; an
    administrator records its publication, from which it applies).
    """
    at = _now(at)
    today = at.astimezone(PARIS).date()
    if published_on > today:
        raise RuleViolation(
            "publication_in_future",
            _("La date de publication (%(day)s) ne peut pas être postérieure à aujourd'hui."),
            field="published_on",
            day=published_on.strftime("%d/%m/%Y"),
        )
    if in_force_on is not None and in_force_on < published_on:
        raise RuleViolation(
            "in_force_before_publication",
            _("Un texte ne s'applique pas avant sa publication (%(day)s)."),
            field="in_force_on",
            day=published_on.strftime("%d/%m/%Y"),
        )
    with transaction.atomic():
        locked = CalendarVersion.objects.select_for_update().get(pk=version.pk)
        if not locked.is_pending:
            raise RuleViolation(
                "calendar_version_not_announced",
                _(
                    "« %(reference)s » n'est pas une version annoncée en attente de publication : "
                    "sa date d'application est déjà connue."
                ),
                reference=locked.legal_reference,
            )
        locked.published_on = published_on
        locked.in_force_on = in_force_on
        if nor:
            locked.nor = nor
        locked.save(update_fields=["published_on", "in_force_on", "nor"])
        record_transition(
            obj=locked,
            transition="publish",
            source="announced",
            target="published",
            actor=actor,
            snapshot={
                "at": at.isoformat(),
                "dispositif": locked.dispositif.code,
                "legal_reference": locked.legal_reference,
                "published_on": published_on.isoformat(),
                "in_force_on": in_force_on.isoformat() if in_force_on else None,
                "nor": locked.nor,
                "deadlines": [
                    {
                        "kind": d.kind,
                        "deadline_at": d.at.astimezone(PARIS).isoformat(),
                        "hour_sourced": d.hour_sourced,
                    }
                    for d in locked.deadlines.order_by("at")
                ],
            },
        )
    version.refresh_from_db()
    return version
