from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "reminders"
    verbose_name = "Rappels d'échéances"
    default_auto_field = "django.db.models.BigAutoField"
