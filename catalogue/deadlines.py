"""Regulatory deadlines as pure functions over aware instants, judged in Europe/Paris.

The rule of the engine: an act is in time when its instant is strictly before the deadline
instant. A deadline « le 14/12/2023 à 14h00 » accepts 13:59:59.999 and refuses 14:00:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from dateutil.relativedelta import relativedelta
from django.db import models
from django.utils.translation import gettext_lazy as _

# Paris time is core's (core.clock); the deadline rules are read with it from here.
from core.clock import PARIS, format_paris, require_aware  # noqa: F401


class DeadlineKind(models.TextChoices):
    REFERENCING_DOSSIER = "referencing_dossier", _("Dépôt du dossier de référencement")
    PROOFS = "proofs", _("Dépôt des preuves")
    ANS_EXCHANGES = "ans_exchanges", _("Fin des échanges avec l'ANS")
    ORDERS = "orders", _("Fin des commandes (BDC)")
    ADVANCES = "advances", _("Fin des demandes d'avance")
    FIRM_DATE = "firm_date", _("Confirmation d'une date ferme de réalisation")
    REALISATION = "realisation", _("Fin de réalisation")
    SOLDES = "soldes", _("Fin des demandes de solde")


class WindowUnit(models.TextChoices):
    DAYS = "days", _("jours calendaires")
    MONTHS = "months", _("mois")


def paris_instant(day: dt.date, time_of_day: dt.time) -> dt.datetime:
    """The aware instant of a Paris wall-clock time on a given day (CET or CEST as it falls)."""
    return dt.datetime.combine(day, time_of_day, tzinfo=PARIS)


def parse_paris(value: str) -> dt.datetime:
    """'2023-12-14T14:00' read as Paris wall-clock time."""
    naive = dt.datetime.fromisoformat(value)
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=PARIS)


def start_of_day_paris(day: dt.date) -> dt.datetime:
    return paris_instant(day, dt.time(0, 0))


def is_in_time(act_at: dt.datetime, deadline_at: dt.datetime) -> bool:
    """True when the act happens strictly before the deadline."""
    return require_aware(act_at) < require_aware(deadline_at)


def window_end(start: dt.datetime, amount: int, unit: str) -> dt.datetime:
    """End of a window opened at `start` (e.g. a conditional order's 4 months or 120 days),
    counted on the Paris calendar so that a daylight-saving change does not shift it by an hour."""
    local = require_aware(start).astimezone(PARIS).replace(tzinfo=None)
    delta = (
        relativedelta(months=amount) if unit == WindowUnit.MONTHS else relativedelta(days=amount)
    )
    return (local + delta).replace(tzinfo=PARIS)


V = TypeVar("V")


@dataclass(frozen=True)
class Candidate(Generic[V]):
    """One calendar version's value for a deadline kind."""

    in_force_from: dt.datetime | None  # None: the founding calendar, in force from the start
    deadline_at: dt.datetime
    version: V


def deadline_in_force(candidates: Iterable[Candidate[V]], at: dt.datetime) -> Candidate[V] | None:
    """The deadline of the newest version in force at `at` (published at or before it)."""
    require_aware(at)
    best: Candidate[V] | None = None
    for candidate in candidates:
        start = candidate.in_force_from
        if start is not None and start > at:
            continue
        if best is None or _newer(candidate, best):
            best = candidate
    return best


def _newer(a: Candidate, b: Candidate) -> bool:
    if b.in_force_from is None:
        return a.in_force_from is not None
    return a.in_force_from is not None and a.in_force_from > b.in_force_from
