from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portail des fournisseurs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib import admin

        from portal.forms import AdminLoginForm

        # The admin's sign-in counts failures and locks like the portal's (per address, per
        # account).
        admin.site.login_form = AdminLoginForm
