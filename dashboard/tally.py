"""Counts the database keeps as rows are written, so that a dispositif's figures never read
every one of its rows.

What is counted (`COUNTED`): the orders, the claims and the deployments of a dispositif, by
state, and by the Paris weeks (`core.clock.ParisMonday`) of the instants that say from when a
row counts (`since`: an order from its creation or its signature) and of the events the charts
show by week (`events`: an order's signature, a claim's filing and payment, with their
amounts).

How it is kept. Triggers on the counted tables (`trigger_sql`, installed by the migration and
checked after every `migrate`) append to `dashboard.models.Tally`, in the writer's own
transaction, the change each INSERT, UPDATE or DELETE makes to each key (dispositif, subject,
state, weeks): +1 for a row that enters a key, -1 for one that leaves it. No writer can forget
it, set-based ones included, and no row is updated in place: concurrent writers append and
never wait on each other (no lock is taken on a shared counter). PostgreSQL's triggers run once
per statement, over its transition tables (a sweep moving 40,000 orders appends a handful of
rows); SQLite's once per row. `compact` folds the changes into one row per key (a periodic
task; the sums are the same before and after).

How it is read at an instant `at` (`figures`), exactly as the rows would be: a key none of
whose weeks is the week of `at` is judged by its weeks alone (a row counts from `at` on when
one of its `since` instants falls in an earlier week; an event is counted when its week is
earlier); the rows with an instant in the week of `at` itself are read and judged by their
instants (`existed`, `happened_by`), from indexes on (dispositif, instant).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property, reduce
from operator import or_

from django.apps import apps
from django.db import connection, transaction
from django.db.models import Count, DateTimeField, F, Model, Q, Sum

from core.clock import (
    PARIS,
    ParisMonday,
    first_of,
    first_of_sql,
    paris_monday,
    paris_week_bounds,
)

from .models import Tally

WEEKS = ("week_1", "week_2", "week_3")
AMOUNTS = ("amount_1", "amount_2")


@dataclass(frozen=True)
class Event:
    """A weekly series: the rows by the week of `column` (an instant or a day), counted, or
    with `amount` (cents) summed."""

    column: str
    amount: str | None = None


@dataclass(frozen=True)
class Counted:
    subject: str
    model_label: str
    since: tuple[str, ...]  # a row counts from the first of these instants (or days)
    events: tuple[Event, ...] = ()

    @cached_property
    def model(self) -> type[Model]:
        return apps.get_model(self.model_label)

    @cached_property
    def since_instant(self):
        """The instant a row counts from: the first of its `since` instants (an expression an
        index is built on, `core.clock.first_of`)."""
        return first_of(*self.since)

    @cached_property
    def amounts(self) -> tuple[str, ...]:
        """The amounts summed, in the order of `Tally.amount_1`…"""
        return tuple(dict.fromkeys(e.amount for e in self.events if e.amount))

    def is_instant(self, column: str) -> bool:
        return isinstance(self.model._meta.get_field(column), DateTimeField)

    def happened_by(self, column: str, at: dt.datetime, prefix: str = "") -> Q:
        """`column` is at or before `at` (a day: at or before the day of `at` in Paris)."""
        bound = at if self.is_instant(column) else at.astimezone(PARIS).date()
        return Q(**{f"{prefix}{column}__lte": bound})

    def existed(self, at: dt.datetime, prefix: str = "") -> Q:
        """The row counted at `at`: one of its `since` instants is at or before `at`."""
        return reduce(or_, (self.happened_by(c, at, prefix) for c in self.since))

    def in_week(self, column: str, monday: dt.date) -> Q:
        """`column` (a field, or an alias) falls in the Paris week of `monday`."""
        if self.is_instant(column if column != "since_instant" else self.since[0]):
            start, end = paris_week_bounds(monday)
        else:
            start, end = monday, monday + dt.timedelta(days=7)
        return Q(**{f"{column}__gte": start, f"{column}__lt": end})


COUNTED = (
    Counted(
        "order",
        "sons.PurchaseOrder",
        since=("created_at", "signed_at"),
        events=(Event("signed_at"),),
    ),
    Counted(
        "claim",
        "payments.PaymentClaim",
        since=("created_at",),
        events=(Event("submitted_at", "amount_ttc_cents"), Event("paid_on", "paid_amount_cents")),
    ),
    Counted("deployment", "sons.Deployment", since=("firm_date_confirmed_at",)),
)
BY_SUBJECT = {c.subject: c for c in COUNTED}
BY_MODEL_LABEL = {c.model_label: c for c in COUNTED}


def counted(model: type[Model]) -> Counted:
    return BY_MODEL_LABEL[model._meta.label]


# --- Reading ---------------------------------------------------------------------------------


@dataclass
class Counts:
    """A subject's figures at an instant: rows by state, and each event's series by week."""

    states: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    series: list[dict[dt.date, int]] = field(default_factory=list)


def _empty() -> dict[str, Counts]:
    return {c.subject: Counts(series=[defaultdict(int) for _e in c.events]) for c in COUNTED}


def figures(dispositif, at: dt.datetime) -> dict[str, Counts]:
    """Each subject's figures under `dispositif` at `at`, from the tally and the rows of the
    week of `at` (one query for the tally, one per subject for those rows)."""
    return figures_by_dispositif([dispositif.pk], at)[dispositif.pk]


def figures_by_dispositif(
    dispositif_ids: list[int], at: dt.datetime, subjects: tuple[str, ...] | None = None
) -> dict[int, dict[str, Counts]]:
    """`figures` of each dispositif of `dispositif_ids` (of `subjects` only, if given), in as
    many queries as for one."""
    week = paris_monday(at)
    wanted = [c for c in COUNTED if subjects is None or c.subject in subjects]
    out = {pk: _empty() for pk in dispositif_ids}
    keys = (
        Tally.objects.filter(dispositif__in=dispositif_ids, subject__in=[c.subject for c in wanted])
        .order_by()
        .values_list("dispositif", "subject", "status", *WEEKS)
        .annotate(n=Sum("n"), a1=Sum("amount_1"), a2=Sum("amount_2"))
    )
    for dispositif_id, subject, status, *rest in keys:
        c = BY_SUBJECT[subject]
        since, weeks, n, sums = rest[0], rest[1 : 1 + len(c.events)], rest[3], rest[4:]
        # Judged by its weeks: the rows counted from an earlier week, with no event in the
        # week of `at` (those, and the rows counted from that week, are read below).
        if not n or since is None or since >= week or week in weeks:
            continue
        counts = out[dispositif_id][subject]
        counts.states[status] += n
        for event, when, series in zip(c.events, weeks, counts.series, strict=True):
            if when is None or when > week:
                continue
            value = n if event.amount is None else sums[c.amounts.index(event.amount)]
            if value is not None:
                series[when] += value
    for c in wanted:
        _add_rows_of_week(c, dispositif_ids, at, week, out)
    return out


def _add_rows_of_week(
    c: Counted, dispositif_ids: list[int], at: dt.datetime, week: dt.date, out: dict
) -> None:
    """The rows counted from the week of `at`, or with an event in it, judged by their
    instants."""
    names = [f"week_of_{event.column}" for event in c.events]
    aggregates = {"n": Count("*")}
    for i, event in enumerate(c.events):
        by = c.happened_by(event.column, at)
        aggregates[f"e{i}"] = (
            Count("pk", filter=by) if event.amount is None else Sum(event.amount, filter=by)
        )
    of_week = reduce(
        or_, (c.in_week(col, week) for col in ["since_instant", *(e.column for e in c.events)])
    )
    rows = (
        c.model.objects.alias(since_instant=c.since_instant)
        .filter(of_week, c.existed(at), dispositif__in=dispositif_ids)
        .annotate(**{n: ParisMonday(F(e.column)) for n, e in zip(names, c.events, strict=True)})
        .order_by()
        .values_list("dispositif", "status", *names)
        .annotate(**aggregates)
    )
    for dispositif_id, status, *rest in rows:
        weeks, n, values = rest[: len(names)], rest[len(names)], rest[len(names) + 1 :]
        counts = out[dispositif_id][c.subject]
        counts.states[status] += n
        for when, value, series in zip(weeks, values, counts.series, strict=True):
            if when is not None and value:
                series[when] += value


# --- Keeping ---------------------------------------------------------------------------------

TABLE = Tally._meta.db_table
TALLY_COLUMNS = ("dispositif_id", "subject", "status", *WEEKS, "n", *AMOUNTS)


def _column(c: Counted, name: str) -> str:
    return c.model._meta.get_field(name).column


def _values(c: Counted, vendor: str, row: str, sign: int) -> list[str]:
    """The tally's columns for the row `row` (NEW, OLD or an alias), `sign` 1 or -1."""
    since = first_of_sql(vendor, [f'{row}."{_column(c, col)}"' for col in c.since])
    weeks = [ParisMonday.of_column(vendor, since, instant=c.is_instant(c.since[0]))]
    for e in c.events:
        column = f'{row}."{_column(c, e.column)}"'
        weeks.append(ParisMonday.of_column(vendor, column, instant=c.is_instant(e.column)))
    amounts = [f'{"-" if sign < 0 else ""}{row}."{_column(c, a)}"' for a in c.amounts]
    return [
        f'{row}."{_column(c, "dispositif")}"',
        f"'{c.subject}'",
        f'{row}."status"',
        *weeks,
        *["CAST(NULL AS date)"] * (len(WEEKS) - len(weeks)),
        str(sign),
        *amounts,
        *["CAST(NULL AS bigint)"] * (len(AMOUNTS) - len(amounts)),
    ]


def _grouped_insert(c: Counted, vendor: str, parts: list[tuple[str, int]]) -> str:
    """INSERT of the changes to each key made by the rows of `parts` ((table, sign)…)."""

    def select(table: str, sign: int) -> str:
        values = _values(c, vendor, "r", sign)
        named = ", ".join(f"{v} AS {n}" for v, n in zip(values, TALLY_COLUMNS, strict=True))
        return f"SELECT {named} FROM {table} r"

    selects = " UNION ALL ".join(select(table, sign) for table, sign in parts)
    columns = ", ".join(TALLY_COLUMNS)
    keys = ", ".join(TALLY_COLUMNS[:6])
    return (
        f"INSERT INTO {TABLE} ({columns}) "
        f"SELECT {keys}, SUM(n), SUM(amount_1), SUM(amount_2) FROM ({selects}) AS changes "
        f"GROUP BY {keys} HAVING SUM(n) <> 0 OR SUM(amount_1) <> 0 OR SUM(amount_2) <> 0"
    )


def _names(c: Counted) -> tuple[str, str]:
    table = c.model._meta.db_table
    return table, f"dashboard_tally_{table}"


def trigger_sql(c: Counted, vendor: str) -> list[str]:
    """The statements that install (or replace) the triggers of `c`'s table on `vendor`."""
    table, name = _names(c)
    if vendor == "postgresql":
        body = {
            "INSERT": _grouped_insert(c, vendor, [("new_rows", 1)]),
            "UPDATE": _grouped_insert(c, vendor, [("new_rows", 1), ("old_rows", -1)]),
            "DELETE": _grouped_insert(c, vendor, [("old_rows", -1)]),
        }
        statements = [
            f"""CREATE OR REPLACE FUNCTION "{name}"() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN {body["INSERT"]};
                ELSIF TG_OP = 'UPDATE' THEN {body["UPDATE"]};
                ELSE {body["DELETE"]};
                END IF;
                RETURN NULL;
            END;
            $$"""
        ]
        transitions = {
            "INSERT": "NEW TABLE AS new_rows",
            "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
            "DELETE": "OLD TABLE AS old_rows",
        }
        for event, referencing in transitions.items():
            trigger = f"{name}_{event.lower()}"
            statements += [
                f'DROP TRIGGER IF EXISTS "{trigger}" ON "{table}"',
                f'CREATE TRIGGER "{trigger}" AFTER {event} ON "{table}" '
                f'REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION "{name}"()',
            ]
        return statements
    if vendor == "sqlite":
        columns = ", ".join(TALLY_COLUMNS)

        def insert(row: str, sign: int) -> str:
            values = ", ".join(_values(c, vendor, row, sign))
            return f"INSERT INTO {TABLE} ({columns}) VALUES ({values});"

        watched = ["dispositif", "status", *c.since, *(e.column for e in c.events), *c.amounts]
        changed = " OR ".join(
            f'OLD."{_column(c, f)}" IS NOT NEW."{_column(c, f)}"' for f in watched
        )
        dispositifs = apps.get_model("catalogue.Dispositif")._meta.db_table
        return [
            f'CREATE TRIGGER IF NOT EXISTS "{name}_insert" AFTER INSERT ON "{table}" '
            f"BEGIN {insert('NEW', 1)} END",
            f'CREATE TRIGGER IF NOT EXISTS "{name}_update" AFTER UPDATE ON "{table}" '
            f"WHEN {changed} BEGIN {insert('OLD', -1)} {insert('NEW', 1)} END",
            # A row deleted with its dispositif (a test database's flush) leaves nothing.
            f'CREATE TRIGGER IF NOT EXISTS "{name}_delete" AFTER DELETE ON "{table}" '
            f'WHEN EXISTS (SELECT 1 FROM "{dispositifs}" '
            f'WHERE id = OLD."{_column(c, "dispositif")}") '
            f"BEGIN {insert('OLD', -1)} END",
        ]
    return []


def _dispositif_trigger_sql(vendor: str) -> list[str]:
    """A dispositif deleted takes its tally with it."""
    table = apps.get_model("catalogue.Dispositif")._meta.db_table
    name = "dashboard_tally_dispositif_gone"
    if vendor == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION "{name}"() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN DELETE FROM {TABLE} WHERE dispositif_id = OLD.id; RETURN NULL; END; $$""",
            f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"',
            f'CREATE TRIGGER "{name}" AFTER DELETE ON "{table}" FOR EACH ROW '
            f'EXECUTE FUNCTION "{name}"()',
        ]
    if vendor == "sqlite":
        return [
            f'CREATE TRIGGER IF NOT EXISTS "{name}" AFTER DELETE ON "{table}" '
            f"BEGIN DELETE FROM {TABLE} WHERE dispositif_id = OLD.id; END"
        ]
    return []


def trigger_names(vendor: str) -> list[str]:
    names = ["dashboard_tally_dispositif_gone"]
    for c in COUNTED:
        _table, name = _names(c)
        names += [f"{name}_{event}" for event in ("insert", "update", "delete")]
    return names


def missing_triggers(conn) -> list[str]:
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        elif conn.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            return []
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in trigger_names(conn.vendor) if name not in present]


def install(conn) -> None:
    """Installs every trigger of the tally (replacing those present)."""
    with conn.cursor() as cursor:
        for c in COUNTED:
            for statement in trigger_sql(c, conn.vendor):
                cursor.execute(statement)
        for statement in _dispositif_trigger_sql(conn.vendor):
            cursor.execute(statement)


def remove(conn) -> None:
    with conn.cursor() as cursor:
        for name in trigger_names(conn.vendor):
            if conn.vendor == "postgresql":
                table = next(
                    (_names(c)[0] for c in COUNTED if name.startswith(_names(c)[1])),
                    apps.get_model("catalogue.Dispositif")._meta.db_table,
                )
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"')
            else:
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')
        if conn.vendor == "postgresql":
            for c in COUNTED:
                cursor.execute(f'DROP FUNCTION IF EXISTS "{_names(c)[1]}"()')
            cursor.execute('DROP FUNCTION IF EXISTS "dashboard_tally_dispositif_gone"()')


def recount(conn) -> None:
    """The tally counted again from the rows (after its triggers were missing)."""
    with conn.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
        for c in COUNTED:
            cursor.execute(_grouped_insert(c, conn.vendor, [(f'"{c.model._meta.db_table}"', 1)]))


def compact(conn=None) -> int:
    """Folds the tally's changes into one row per key; the number of rows it now holds.

    PostgreSQL: one statement, which deletes the rows it reads and inserts their sums (the
    changes appended meanwhile are neither read nor deleted). SQLite has one writer at a time:
    the same in two statements of one transaction."""
    conn = conn or connection
    keys = ", ".join(TALLY_COLUMNS[:6])
    columns = ", ".join(TALLY_COLUMNS)
    folded = (
        f"SELECT {keys}, SUM(n), SUM(amount_1), SUM(amount_2) FROM {{source}} "
        f"GROUP BY {keys} HAVING SUM(n) <> 0"
    )
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(
                f"WITH gone AS (DELETE FROM {TABLE} RETURNING {columns}) "
                f"INSERT INTO {TABLE} ({columns}) {folded.format(source='gone')}"
            )
        else:
            cursor.execute(f"SELECT MAX(id) FROM {TABLE}")
            last = cursor.fetchone()[0] or 0
            cursor.execute(
                f"INSERT INTO {TABLE} ({columns}) "
                + folded.format(source=f"(SELECT * FROM {TABLE} WHERE id <= %s)"),
                [last],
            )
            cursor.execute(f"DELETE FROM {TABLE} WHERE id <= %s", [last])
        cursor.execute(f"SELECT COUNT(*) FROM {TABLE}")
        return cursor.fetchone()[0]
