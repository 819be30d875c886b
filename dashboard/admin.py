"""Third-party admin pages made French or hidden (see also dashboard/french_admin.py and the
project's catalogue, locale/fr).

- django-dsfr registers its own site settings model (DsfrConfig); the project does not use it
  (templates/web/base.html carries the header and footer itself): not shown.
- django-otp's TOTP device page titles its sections in English, untranslatable strings.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from dsfr.models import DsfrConfig

if admin.site.is_registered(DsfrConfig):
    admin.site.unregister(DsfrConfig)

try:
    from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
    from django_otp.plugins.otp_totp.models import TOTPDevice
except ImportError:  # pragma: no cover - django-otp is installed with the project
    TOTPDevice = None

if TOTPDevice is not None and admin.site.is_registered(TOTPDevice):
    SECTION_TITLES = {
        "Identity": _("Identité"),
        "Configuration": _("Réglages"),
        "Throttling": _("Limitation des essais"),
    }

    class FrenchTOTPDeviceAdmin(TOTPDeviceAdmin):
        def get_fieldsets(self, request, obj=None):
            return [
                (SECTION_TITLES.get(title, title), options)
                for title, options in super().get_fieldsets(request, obj)
            ]

        @admin.display(description=_("QR code"))
        def qrcode_link(self, device):
            return super().qrcode_link(device)

    # In place (unregister and register would move the app to the end of the admin's list).
    admin.site._registry[TOTPDevice] = FrenchTOTPDeviceAdmin(TOTPDevice, admin.site)
