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

    # django-otp's help texts are English strings of its models (changing them there would be a
    # migration of django-otp): the form says them in French.
    HELP_TEXTS = {
        "user": _("La personne à qui appartient cet appareil."),
        "name": _("Le nom sous lequel la personne reconnaît cet appareil."),
        "confirmed": _("L'appareil est prêt à servir."),
        "key": _("Clé secrète en hexadécimal, 40 octets au plus."),
        "step": _("La durée d'un pas, en secondes."),
        "t0": _("L'instant Unix à partir duquel les pas sont comptés."),
        "digits": _("Le nombre de chiffres d'un code."),
        "tolerance": _("Le nombre de pas acceptés avant ou après l'heure du serveur."),
        "drift": _("L'écart connu, en pas, entre l'horloge de l'appareil et celle du serveur."),
        "last_t": _(
            "Le pas du dernier code vérifié ; le code suivant doit être d'un pas plus récent."
        ),
        "throttling_failure_timestamp": _(
            "L'instant du dernier essai manqué ; vide si le dernier a réussi."
        ),
        "throttling_failure_count": _("Le nombre d'essais manqués à la suite."),
    }

    class FrenchTOTPDeviceAdmin(TOTPDeviceAdmin):
        def get_form(self, request, obj=None, change=False, **kwargs):
            kwargs["help_texts"] = {**HELP_TEXTS, **kwargs.get("help_texts", {})}
            return super().get_form(request, obj, change=change, **kwargs)

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
