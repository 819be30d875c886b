from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Socle : journal des transitions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Celery signals: the dead-letter recorder, the task metrics, the request id carried into
        # tasks, and the settings' logging kept in the worker.
        from . import metrics, middleware, signals  # noqa: F401
