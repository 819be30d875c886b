"""Paris time, as every page and message shows it: one zone, one way of writing an instant."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import DateField, DateTimeField, F, Func, GeneratedField
from django.db.models.functions import Coalesce, Least

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
    """The Monday (a date) of the ISO week, in Paris, of a DateTimeField (an instant) or a
    DateField (a day). Immutable on both databases, so that a column can be generated from it
    (`paris_week_field`) and an index built on it: a count by week then reads the week from the
    row instead of converting every instant.

    PostgreSQL: `timezone(text, timestamptz)`, `date_trunc(text, timestamp)` and the casts to
    date are immutable (a date is cast to a plain timestamp, never to one with a zone, which
    would depend on the session's zone). SQLite: Django's own truncation functions, which it
    registers as deterministic on every connection (the embedded mode's only writer)."""

    arity = 1
    output_field = DateField()
    # By database vendor, for an instant and for a day.
    TEMPLATES = {
        "postgresql": (
            "(DATE_TRUNC('week', %(expressions)s AT TIME ZONE 'Europe/Paris'))::date",
            "(DATE_TRUNC('week', (%(expressions)s)::timestamp))::date",
        ),
        "sqlite": (
            "date(django_datetime_trunc('week', %(expressions)s, 'Europe/Paris', 'UTC'))",
            "django_date_trunc('week', %(expressions)s, NULL, NULL)",
        ),
    }

    def as_sql(self, compiler, connection, **extra_context):
        instant, day = self.TEMPLATES[connection.vendor]
        source = self.source_expressions[0].output_field
        template = instant if isinstance(source, DateTimeField) else day
        return super().as_sql(compiler, connection, template=template, **extra_context)

    @classmethod
    def of_column(cls, vendor: str, column: str, *, instant: bool) -> str:
        """The same expression as SQL text over `column` (e.g. `NEW."signed_at"`), for the
        statements a trigger runs."""
        template = cls.TEMPLATES[vendor][0 if instant else 1]
        return template % {"expressions": column}


def paris_monday(instant: dt.datetime | dt.date) -> dt.date:
    """Python's reading of `ParisMonday`: the Monday of the Paris week of an instant (or of a
    day)."""
    day = instant if not isinstance(instant, dt.datetime) else require_aware(instant)
    if isinstance(day, dt.datetime):
        day = day.astimezone(PARIS).date()
    return day - dt.timedelta(days=day.weekday())


def paris_week_bounds(monday: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The instants the Paris week of `monday` starts and ends at (the next Monday's
    midnight), as aware instants: a week of 167, 168 or 169 hours."""
    start = dt.datetime.combine(monday, dt.time(), tzinfo=PARIS)
    return start, dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(), tzinfo=PARIS)


def paris_week_field(source: str, verbose_name) -> GeneratedField:
    """A column the database keeps: the Monday of the Paris week of the column `source`
    (`ParisMonday`), whoever writes `source`, set-based writers included."""
    return GeneratedField(
        expression=ParisMonday(source),
        output_field=DateField(),
        db_persist=True,
        verbose_name=verbose_name,
    )


def first_of(*columns: str):
    """The first of a row's instants (or days) `columns`, those not set aside: each column
    coalesced with the others, the least of them (`LEAST` on PostgreSQL, `MIN` on SQLite,
    either of which is NULL when one argument is on SQLite). An index can be built on it."""
    if len(columns) == 1:
        return F(columns[0])
    return Least(*(Coalesce(c, *(o for o in columns if o != c)) for c in columns))


def first_of_sql(vendor: str, columns: list[str]) -> str:
    """`first_of` as SQL text over columns already written as SQL (for a trigger's body)."""
    if len(columns) == 1:
        return columns[0]
    least = "LEAST" if vendor == "postgresql" else "MIN"
    each = [f"COALESCE({c}, {', '.join(o for o in columns if o != c)})" for c in columns]
    return f"{least}({', '.join(each)})"
