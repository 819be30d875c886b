from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Socle : journal des transitions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Celery signals: the dead-letter recorder, the task metrics, the request id carried into
        # tasks, and the settings' logging kept in the worker.
        from . import metrics, middleware, signals  # noqa: F401
        from .permissions import name_permissions_in_french

        # Permission names in French, once auth (earlier in INSTALLED_APPS) has created them.
        post_migrate.connect(name_permissions_in_french, dispatch_uid="core.french_permissions")
