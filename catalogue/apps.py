from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "catalogue"
    verbose_name = "Catalogue réglementaire"
    default_auto_field = "django.db.models.BigAutoField"
