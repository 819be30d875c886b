from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API des fournisseurs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the webhooks' deployment check
