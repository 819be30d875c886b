from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Paiements ASP"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import history

        history.register()  # claims and recoveries in every order's history (sons.history)
