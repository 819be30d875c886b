"""Row versions: a counter that every write of a row raises, whoever sends it.

A model that derives `Versioned` carries `row_version` (1 at creation). Its `save()` raises the
counter in memory and writes it; every other write (`QuerySet.update()`, `bulk_update`, an
upsert, raw SQL, a console) is caught by a database trigger installed by the model's migration
(`row_version_trigger`): an UPDATE that does not raise the counter itself gets it raised by
one. A write that raises it itself (`row_version = row_version + 1` in a set-based UPDATE) is
left as it is. The counter never goes back: a write that would lower it (a stale instance
saved) gets the stored value plus one.

The triggers, per database:
- PostgreSQL: BEFORE UPDATE FOR EACH ROW, WHEN NEW.row_version <= OLD.row_version, sets
  NEW.row_version := OLD.row_version + 1 (no second write);
- SQLite: AFTER UPDATE FOR EACH ROW, WHEN NEW.row_version <= OLD.row_version, updates the row's
  counter to OLD.row_version + 1 (recursive triggers are off: that UPDATE fires nothing).

SQLite drops a table's triggers when a migration rebuilds the table (most ALTERs do): the
triggers are therefore checked, and installed where missing, after every `migrate`
(`post_migrate`), on both databases.
"""

from __future__ import annotations

import logging

from django.apps import apps as global_apps
from django.db import connections, models, router
from django.db.migrations.operations import RunPython
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

FIELD = "row_version"


class Versioned(models.Model):
    """A row whose every write raises `row_version` (the API's ETags derive from it)."""

    row_version = models.PositiveBigIntegerField(
        _("version de la ligne"),
        default=1,
        db_default=1,
        editable=False,
        help_text=_("Augmente à chaque écriture de la ligne, par qui que ce soit."),
    )

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if (
            self._state.adding
            or (update_fields is not None and not update_fields)  # nothing is written
            or FIELD in self.get_deferred_fields()  # not read: the trigger raises it
        ):
            return super().save(*args, **kwargs)
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, FIELD}
        previous = self.row_version
        self.row_version = previous + 1
        try:
            return super().save(*args, **kwargs)
        except BaseException:
            self.row_version = previous
            raise


def versioned_models() -> list[type[models.Model]]:
    """Every concrete model of the project that carries a row version."""
    return [
        model
        for model in global_apps.get_models()
        if issubclass(model, Versioned) and not model._meta.proxy
    ]


# -- triggers ------------------------------------------------------------------------------------


def _names(table: str) -> tuple[str, str]:
    return f"{table}_row_version", f"{table}_row_version_up"


def trigger_sql(vendor: str, table: str, pk_column: str = "id") -> tuple[list[str], list[str]]:
    """(install, remove) statements of `table`'s row-version trigger on the database `vendor`
    ("postgresql" or "sqlite"); nothing for another database (`save()` still raises it)."""
    trigger, function = _names(table)
    if vendor == "postgresql":
        return (
            [
                f"""
                CREATE OR REPLACE FUNCTION "{function}"() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN
                    NEW.{FIELD} := OLD.{FIELD} + 1;
                    RETURN NEW;
                END;
                $$
                """,
                f'DROP TRIGGER IF EXISTS "{trigger}" ON "{table}"',
                f"""
                CREATE TRIGGER "{trigger}" BEFORE UPDATE ON "{table}" FOR EACH ROW
                WHEN (NEW.{FIELD} <= OLD.{FIELD}) EXECUTE FUNCTION "{function}"()
                """,
            ],
            [
                f'DROP TRIGGER IF EXISTS "{trigger}" ON "{table}"',
                f'DROP FUNCTION IF EXISTS "{function}"()',
            ],
        )
    if vendor == "sqlite":
        return (
            [
                f"""
                CREATE TRIGGER IF NOT EXISTS "{trigger}" AFTER UPDATE ON "{table}" FOR EACH ROW
                WHEN NEW.{FIELD} <= OLD.{FIELD}
                BEGIN
                    UPDATE "{table}" SET {FIELD} = OLD.{FIELD} + 1
                    WHERE "{pk_column}" = NEW."{pk_column}";
                END
                """
            ],
            [f'DROP TRIGGER IF EXISTS "{trigger}"'],
        )
    return [], []


def _execute(connection, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def install_triggers(connection, model) -> None:
    """Installs (or replaces) the row-version trigger of `model`'s table."""
    install, _remove = trigger_sql(connection.vendor, model._meta.db_table, model._meta.pk.column)
    _execute(connection, install)


def remove_triggers(connection, model) -> None:
    _install, remove = trigger_sql(connection.vendor, model._meta.db_table, model._meta.pk.column)
    _execute(connection, remove)


def has_trigger(connection, model) -> bool:
    trigger, _function = _names(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT 1 FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal", [trigger]
            )
        elif connection.vendor == "sqlite":
            cursor.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = %s", [trigger]
            )
        else:
            return True
        return cursor.fetchone() is not None


def row_version_trigger(app_label: str, model_name: str) -> RunPython:
    """The migration operation that installs the trigger of `app_label.model_name` (after the
    AddField of `row_version`), and removes it when the migration is reversed."""

    def forward(apps, schema_editor):
        install_triggers(schema_editor.connection, apps.get_model(app_label, model_name))

    def backward(apps, schema_editor):
        remove_triggers(schema_editor.connection, apps.get_model(app_label, model_name))

    return RunPython(forward, backward, elidable=False)


def ensure_triggers(sender, using=None, apps=None, **kwargs) -> None:
    """After `migrate`: the trigger of every versioned table of `sender` (an app) that carries
    the column in the migrated state, installed where it is missing (a table SQLite rebuilt)."""
    connection = connections[using or "default"]
    for live in versioned_models():
        if live._meta.app_label != sender.label:
            continue
        if not router.allow_migrate_model(connection.alias, live):
            continue
        try:
            model = (apps or global_apps).get_model(live._meta.label)
        except LookupError:
            continue
        if FIELD not in {f.name for f in model._meta.concrete_fields}:
            continue  # migrated back before the column
        if model._meta.db_table not in connection.introspection.table_names():
            continue
        if not has_trigger(connection, model):
            install_triggers(connection, model)
            logger.info("row_version_trigger_installed table=%s", model._meta.db_table)


post_migrate.connect(ensure_triggers, dispatch_uid="core.versioning.ensure_triggers")
