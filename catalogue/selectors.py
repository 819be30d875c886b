"""Readers of the catalogue: deadlines in force, calendar history, tariffs, published list."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _

from core.errors import RuleViolation

from .deadlines import (
    NOT_PUBLISHED,
    PARIS,
    Candidate,
    DeadlineKind,
    deadline_in_force,
    format_deadline,
    is_in_time,
)
from .models import (
    CalendarVersion,
    Deadline,
    Dispositif,
    Referencing,
    ReferencingStatus,
    Solution,
    SolutionVersion,
    Tariff,
    Vendor,
)
from .models.dispositif import Prestation
from .rules import Amount, compute_amount


@dataclass(frozen=True)
class AppliedDeadline:
    """A deadline as judged at an instant, with the calendar version it came from."""

    kind: str
    at: dt.datetime
    version: CalendarVersion
    hour_sourced: bool = True

    @property
    def shown(self) -> str:
        """« 14/12/2023 à 14:00 » or « 30/11/2022 (fin de journée) » (`format_deadline`)."""
        return format_deadline(self.at, hour_sourced=self.hour_sourced)

    def as_snapshot(self) -> dict[str, Any]:
        """What the journal keeps to justify a decision taken against this deadline."""
        return {
            "kind": self.kind,
            "deadline_at": self.at.astimezone(PARIS).isoformat(),
            "hour_sourced": self.hour_sourced,
            "calendar_version_id": self.version.pk,
            "legal_reference": self.version.legal_reference,
            "published_on": self.version.published_on.isoformat()
            if self.version.published_on
            else None,
        }


def shown_deadline(deadline: AppliedDeadline | None) -> str:
    """A deadline as every screen writes it, « non publiée » when none is in force."""
    return deadline.shown if deadline is not None else str(NOT_PUBLISHED)


def _applicable(deadlines: QuerySet[Deadline]) -> QuerySet[Deadline]:
    """Deadlines of versions that can be in force (an announced modification never is), each
    with its version, in the versions' order (founding first, then by publication)."""
    return (
        deadlines.exclude(
            version__founding=False,
            version__published_on__isnull=True,
            version__in_force_on__isnull=True,
        )
        .select_related("version")
        # CalendarVersion's own ordering within one dispositif (no join to order by it).
        .order_by("-version__founding", F("version__published_on").asc(nulls_last=True), "at")
    )


@functools.lru_cache(maxsize=256)
def _deadline_rows(dispositif_id: int, kinds: tuple[str, ...] | None) -> QuerySet[Deadline]:
    """The applicable deadlines of a dispositif (of `kinds`, or all), built once per dispositif
    and kinds: building the query costs as much as running it. Never evaluated itself: each
    read runs a copy of it (`.all()`, as a view's `queryset`)."""
    rows = Deadline.objects.filter(version__dispositif_id=dispositif_id)
    if kinds is not None:
        rows = rows.filter(kind__in=kinds)
    return _applicable(rows)


def deadlines_in_force(
    *, dispositif: Dispositif, at: dt.datetime, kinds: Iterable[str] | None = None
) -> dict[str, AppliedDeadline]:
    """The deadlines of `kinds` (every kind when None) that apply to `dispositif` for an act
    done at instant `at`, by kind, in one query; a kind no version in force at `at` sets is
    absent (its date is not public yet)."""
    rows = _deadline_rows(dispositif.pk, tuple(kinds) if kinds is not None else None)
    by_kind: dict[str, list[Candidate[Deadline]]] = {}
    for d in rows.all():
        by_kind.setdefault(d.kind, []).append(Candidate(d.version.in_force_from, d.at, d))
    applied = {}
    for kind in DeadlineKind.values:
        chosen = deadline_in_force(by_kind.get(kind, ()), at)
        if chosen is not None:
            applied[kind] = _applied(chosen.version)
    return applied


def deadline_for(*, dispositif: Dispositif, kind: str, at: dt.datetime) -> AppliedDeadline | None:
    """Which deadline of kind `kind` applies to `dispositif` for an act done at instant `at`.

    None when no calendar version in force at `at` sets that kind (the date is not public yet).
    """
    return deadlines_in_force(dispositif=dispositif, at=at, kinds=[kind]).get(kind)


def _applied(row: Deadline) -> AppliedDeadline:
    return AppliedDeadline(
        kind=row.kind, at=row.at, version=row.version, hour_sourced=row.hour_sourced
    )


def passed_deadlines(
    *, dispositifs: QuerySet[Dispositif], kind: str, at: dt.datetime
) -> list[tuple[Dispositif, AppliedDeadline]]:
    """The dispositifs whose deadline of kind `kind`, as in force at `at`, has passed by `at`
    (one lookup per dispositif, so that callers can then select their rows set-based)."""
    passed = []
    for dispositif in dispositifs.distinct():
        deadline = deadline_for(dispositif=dispositif, kind=kind, at=at)
        if deadline is not None and not is_in_time(at, deadline.at):
            passed.append((dispositif, deadline))
    return passed


def upcoming_deadlines(
    *, dispositifs: QuerySet[Dispositif], kind: str, at: dt.datetime, within: dt.timedelta
) -> list[tuple[Dispositif, AppliedDeadline]]:
    """The dispositifs whose deadline of kind `kind`, as in force at `at`, is still ahead of
    `at` but no further than `within` (one lookup per dispositif, like `passed_deadlines`)."""
    upcoming = []
    for dispositif in dispositifs.distinct():
        deadline = deadline_for(dispositif=dispositif, kind=kind, at=at)
        if deadline is not None and is_in_time(at, deadline.at) and deadline.at <= at + within:
            upcoming.append((dispositif, deadline))
    return upcoming


def calendar_in_force(*, dispositif: Dispositif, at: dt.datetime) -> dict[str, AppliedDeadline]:
    """Every deadline kind known for the dispositif, as in force at `at`."""
    return deadlines_in_force(dispositif=dispositif, at=at)


def announced_deadlines(*, dispositif: Dispositif) -> dict[str, Deadline]:
    """The deadlines of announced versions (« arrêté à paraître ») not applied yet, by kind:
    shown as announced beside the calendar in force, never enforced."""
    rows = Deadline.objects.filter(
        version__dispositif=dispositif,
        version__founding=False,
        version__published_on__isnull=True,
        version__in_force_on__isnull=True,
    ).select_related("version")
    return {d.kind: d for d in rows.order_by("version_id")}


def calendar_history(*, dispositif: Dispositif) -> QuerySet[CalendarVersion]:
    """Every published version, oldest first, with the deadlines it set or moved."""
    return dispositif.calendar_versions.prefetch_related(
        Prefetch("deadlines", queryset=Deadline.objects.order_by("at"))
    )


def price(
    *, dispositif: Dispositif, characteristics: Mapping[str, object], prestation: str = "main"
) -> tuple[Tariff, Amount]:
    """The tariff that applies and the amount (HT and TTC, cents) it gives for a client."""
    tariff = (
        Tariff.objects.filter(dispositif=dispositif, prestation=prestation)
        .prefetch_related("tiers", "terms")
        .first()
    )
    if tariff is None:
        raise RuleViolation(
            "tariff_missing",
            _("Aucun barème n'est connu pour la %(prestation)s du dispositif %(code)s."),
            prestation=str(Prestation(prestation).label).lower(),
            code=dispositif.code,
        )
    return tariff, compute_amount(tariff.spec(), characteristics)


def published_referencings() -> QuerySet[Referencing]:
    """Referenced solution versions, as the public list shows them."""
    return (
        Referencing.objects.filter(status=ReferencingStatus.REFERENCED)
        .select_related("dispositif", "solution_version__solution__editor", "vendor")
        .order_by(
            "dispositif__vague",
            "dispositif__couloir",
            "dispositif__code",
            "solution_version__solution__name",
            "solution_version__version",
        )
    )


def vendor_may_distribute(*, vendor: Vendor, solution: Solution, at: dt.datetime) -> bool:
    """The éditeur of the solution, or a distributeur under a mandate valid on that day."""
    if vendor.pk == solution.editor_id:
        return True
    if vendor.kind != Vendor.Kind.DISTRIBUTEUR:
        return False
    day = at.astimezone(PARIS).date()
    return any(m.covers(day) for m in vendor.mandates_received.filter(editor_id=solution.editor_id))


def no_longer_in_time(deadline: AppliedDeadline | None, at: dt.datetime) -> AppliedDeadline | None:
    """`deadline` when an act at `at` is no longer in time for it; None when it is in time or
    there is no deadline (none published)."""
    if deadline is None or is_in_time(at, deadline.at):
        return None
    return deadline


def deadline_passed(
    *, dispositif: Dispositif, kind: str, at: dt.datetime
) -> AppliedDeadline | None:
    """The deadline of kind `kind` in force at `at` when an act at `at` is no longer in time
    for it; None when it is in time or no deadline of that kind is published."""
    return no_longer_in_time(deadline_for(dispositif=dispositif, kind=kind, at=at), at)


def referencing_in_force(
    *, solution_version: SolutionVersion, dispositif: Dispositif, at: dt.datetime
) -> Referencing | None:
    """The referencing that makes the version orderable under the dispositif at instant `at`."""
    candidates = Referencing.objects.filter(
        solution_version=solution_version,
        dispositif=dispositif,
        status__in=[ReferencingStatus.REFERENCED, ReferencingStatus.WITHDRAWN],
    )
    return next((r for r in candidates if r.in_force_at(at)), None)
