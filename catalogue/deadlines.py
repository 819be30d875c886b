"""Regulatory deadlines as pure functions over aware instants, judged in Europe/Paris.

The rule of the engine: an act is in time when its instant is strictly before the deadline
instant. A deadline « le 14/12/2023 à 14h00 » accepts 13:59:59.999 and refuses 14:00:00.
A deadline whose source gives a day and no hour runs to the end of that day (24:00 Paris, the
next day's 00:00 instant: art. 642 CPC, SONS.md « Calendar and deadlines »): « le 30/11/2022 »
accepts 23:59:59.999 and refuses the 1st of December at 00:00:00.
"""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from django.db import models
from django.utils.translation import gettext_lazy as _

# Paris time is core's (core.clock); the deadline rules are read with it from here.
from core.clock import PARIS, format_paris, require_aware


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


def end_of_day_paris(day: dt.date) -> dt.datetime:
    """24:00 Paris time on `day`: the instant the next day starts (23 or 25 hours after its
    start on a daylight-saving change)."""
    return start_of_day_paris(day + dt.timedelta(days=1))


def parse_deadline(value: str) -> tuple[dt.datetime, bool]:
    """A deadline of the catalogue's data: « 2023-12-14T14:00 » is that hour (sourced);
    « 2022-11-30 », a day without an hour, runs to the end of that day. Returns the instant and
    whether its hour is sourced."""
    if "T" in value or " " in value:
        return parse_paris(value), True
    return end_of_day_paris(dt.date.fromisoformat(value)), False


NOT_PUBLISHED = _("non publiée")


def deadline_day(instant: dt.datetime, *, hour_sourced: bool = True) -> dt.date:
    """The day a deadline falls on, as a person reads it: for an end-of-day deadline (24:00),
    the day that ends, not the one that starts."""
    local = require_aware(instant).astimezone(PARIS)
    if _ends_day(local, hour_sourced):
        return (local - dt.timedelta(days=1)).date()
    return local.date()


def _ends_day(local: dt.datetime, hour_sourced: bool | None) -> bool:
    at_midnight = local.time() == dt.time(0, 0)
    return at_midnight if hour_sourced is None else (not hour_sourced and at_midnight)


def format_deadline(
    instant: dt.datetime | None,
    *,
    hour_sourced: bool | None = None,
    seconds: bool = False,
    zone: bool = False,
) -> str:
    """How every screen, mail, file and rule message writes a deadline (Paris time):
    « 14/12/2023 à 14:00 » when the source gives the hour, « 30/11/2022 (fin de journée) » for
    a day without an hour (stored as the next day's 00:00), « non publiée » when there is none.
    `zone=True`, for a sentence that names the time zone once: « 14/12/2023 à 14:00 (heure de
    Paris) », « 30/11/2022 (fin de journée, heure de Paris) ».

    `hour_sourced=None` (a caller that only holds the instant) reads 00:00 Paris as the end of
    the day before: the two are the same instant, and no source sets a deadline at midnight.
    """
    if instant is None:
        return str(NOT_PUBLISHED)
    local = require_aware(instant).astimezone(PARIS)
    if _ends_day(local, hour_sourced):
        day = (local - dt.timedelta(days=1)).strftime("%d/%m/%Y")
        return f"{day} (fin de journée, heure de Paris)" if zone else f"{day} (fin de journée)"
    shown = format_paris(instant, seconds=seconds)
    return f"{shown} (heure de Paris)" if zone else shown


def shown_deadline(value) -> str:
    """`format_deadline` for what a page holds: a deadline row or an applied deadline (which
    know whether their hour is sourced, `.shown`), a bare instant, or nothing."""
    if value is None or value == "":
        return format_deadline(None)
    shown = getattr(value, "shown", None)
    return shown if isinstance(shown, str) else format_deadline(value)


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
