"""Paris time, as every page and message shows it: one zone, one way of writing an instant."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import DateField, DateTimeField, Func

PARIS = ZoneInfo("Europe/Paris")


def require_aware(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("Un instant d'échéance doit porter son fuseau horaire.")
    return instant


def format_paris(instant: dt.datetime, *, seconds: bool = False) -> str:
    """« 14/12/2023 à 14:00 », Paris wall-clock time: how every instant is shown to people."""
    local = require_aware(instant).astimezone(PARIS)
    return local.strftime("%d/%m/%Y à %H:%M:%S" if seconds else "%d/%m/%Y à %H:%M")


class ParisMonday(Func):
    """The Monday (a date) of the ISO week, in Paris, of a
    DateTimeField (an instant) or a DateField (a day). Immutable on both databases, so that a
    column can be generated from it (`models.GeneratedField`) and an index built on it: a
    count by week then reads the week from the row instead of converting every instant.

    PostgreSQL: `timezone(text, timestamptz)`, `date_trunc(text, timestamp)` and the casts to
    date are immutable (a date is cast to a plain timestamp, never to one with a zone, which
    would depend on the session's zone). SQLite: Django's own truncation functions, which it
    registers as deterministic on every connection (the embedded mode's only writer)."""

    arity = 1
    output_field = DateField()

    def _instant(self) -> bool:
        source = self.source_expressions[0].output_field
        return isinstance(source, DateTimeField)

    def as_postgresql(self, compiler, connection, **extra_context):
        template = (
            "(DATE_TRUNC('week', %(expressions)s AT TIME ZONE 'Europe/Paris'))::date"
            if self._instant()
            else "(DATE_TRUNC('week', (%(expressions)s)::timestamp))::date"
        )
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        template = (
            "date(django_datetime_trunc('week', %(expressions)s, 'Europe/Paris', 'UTC'))"
            if self._instant()
            else "django_date_trunc('week', %(expressions)s, NULL, NULL)"
        )
        return self.as_sql(compiler, connection, template=template, **extra_context)
