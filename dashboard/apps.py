from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Tableau de bord"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import french_admin

        french_admin.apply()
        post_migrate.connect(ensure_tally, sender=self, dispatch_uid="dashboard.ensure_tally")


def ensure_tally(sender, using=None, apps=None, **kwargs) -> None:
    """After `migrate`: the tally's triggers, installed where missing (SQLite drops a table's
    triggers when a migration rebuilds it, and a database built without migrations has none),
    and then the tally counted again from the rows, since writes went uncounted."""
    import logging

    from django.db import connections

    from . import tally

    connection = connections[using or "default"]
    if tally.TABLE not in connection.introspection.table_names():
        return  # migrated back before the tally
    missing = tally.missing_triggers(connection)
    if missing:
        tally.install(connection)
        tally.recount(connection)
        logging.getLogger(__name__).info("tally_triggers_installed missing=%s", len(missing))
