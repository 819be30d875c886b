from django.apps import AppConfig


class ReferencingConfig(AppConfig):
    name = "referencing"
    verbose_name = "Catalogue réglementaire"
    default_auto_field = "django.db.models.BigAutoField"
