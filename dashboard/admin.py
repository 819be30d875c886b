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


# django-celery-beat describes a crontab in English (cron-descriptor in the process's locale):
# the same description in French, its day and month names included.
try:
    from cron_descriptor import ExpressionDescriptor, Options
    from django_celery_beat.admin import CrontabScheduleAdmin, PeriodicTaskAdmin
    from django_celery_beat.models import CrontabSchedule, PeriodicTask
except ImportError:  # pragma: no cover - installed with the project
    CrontabSchedule = None

FRENCH_NAMES = {
    "Monday": "lundi",
    "Tuesday": "mardi",
    "Wednesday": "mercredi",
    "Thursday": "jeudi",
    "Friday": "vendredi",
    "Saturday": "samedi",
    "Sunday": "dimanche",
    "January": "janvier",
    "February": "février",
    "March": "mars",
    "April": "avril",
    "May": "mai",
    "June": "juin",
    "July": "juillet",
    "August": "août",
    "September": "septembre",
    "October": "octobre",
    "November": "novembre",
    "December": "décembre",
}


def crontab_in_french(crontab) -> str:
    """« À 04:00 (Europe/Paris) »: a crontab's schedule said in French."""
    expression = " ".join(
        [
            crontab.minute,
            crontab.hour,
            crontab.day_of_month,
            crontab.month_of_year,
            crontab.day_of_week,
        ]
    )
    options = Options()
    options.locale_code = "fr_FR"
    options.use_24hour_time_format = True
    try:
        text = ExpressionDescriptor(expression, options).get_description()
    except Exception:  # an expression cron-descriptor cannot say: shown as it is
        text = expression
    for english, french in FRENCH_NAMES.items():
        text = text.replace(english, french)
    return f"{text} ({crontab.timezone})"


if CrontabSchedule is not None and admin.site.is_registered(CrontabSchedule):

    class FrenchCrontabScheduleAdmin(CrontabScheduleAdmin):
        list_display = ("__str__", "in_french")
        fields = (
            "in_french",
            "minute",
            "hour",
            "day_of_month",
            "month_of_year",
            "day_of_week",
            "timezone",
        )
        readonly_fields = ("in_french",)

        @admin.display(description=_("En clair"))
        def in_french(self, crontab):
            return crontab_in_french(crontab)

    class FrenchPeriodicTaskAdmin(PeriodicTaskAdmin):
        @admin.display(description=_("Planification en clair"))
        def crontab_translation(self, task):
            return crontab_in_french(task.crontab) if task.crontab_id else ""

        def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
            extra_context = extra_context or {}
            extra_context["readable_crontabs"] = {
                crontab.pk: crontab_in_french(crontab) for crontab in CrontabSchedule.objects.all()
            }
            return admin.ModelAdmin.changeform_view(
                self, request, object_id, form_url, extra_context=extra_context
            )

    # In place, as the TOTP devices' page (the apps keep their order in the admin's list).
    admin.site._registry[CrontabSchedule] = FrenchCrontabScheduleAdmin(CrontabSchedule, admin.site)
    admin.site._registry[PeriodicTask] = FrenchPeriodicTaskAdmin(PeriodicTask, admin.site)
