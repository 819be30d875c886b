from django.apps import AppConfig


class SonsConfig(AppConfig):
    name = "sons"
    verbose_name = "Prestations Ségur"
    default_auto_field = "django.db.models.BigAutoField"
