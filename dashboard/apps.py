from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Tableau de bord"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import french_admin

        french_admin.apply()
