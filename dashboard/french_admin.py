"""The admin in French from end to end: names that third-party apps leave in English or that
our own code leaves without a label, set once when the apps are ready.

Only shown names are set (`_meta.verbose_name(_plural)`, fields' `verbose_name`, app configs'
`verbose_name`), never what migrations read (a model's `original_attrs`, a field's original
`_verbose_name`): no migration in a third-party app. Help texts would be, so django-otp's stay. The
third-party catalogues' misspellings (django-celery-beat's « Tâches Périodique », « Intervales »,
« Évènements solaire »...) are corrected by the project's catalogue, locale/fr (LOCALE_PATHS
comes first).
"""

from __future__ import annotations

from django.apps import apps
from django.utils.translation import gettext_lazy as _

TOTP_FIELDS = {
    "user": _("utilisateur"),
    "name": _("nom"),
    "confirmed": _("confirmé"),
    "key": _("clé secrète"),
    "step": _("pas (secondes)"),
    "t0": _("origine du temps (t0)"),
    "digits": _("nombre de chiffres"),
    "tolerance": _("tolérance (pas)"),
    "drift": _("dérive (pas)"),
    "last_t": _("dernier pas vérifié"),
    "throttling_failure_timestamp": _("dernier échec"),
    "throttling_failure_count": _("échecs successifs"),
    "created_at": _("créé le"),
    "last_used_at": _("dernière utilisation le"),
}


def apply() -> None:
    if apps.is_installed("django_otp.plugins.otp_totp"):
        apps.get_app_config("otp_totp").verbose_name = _("Double authentification (TOTP)")
        device = apps.get_model("otp_totp", "TOTPDevice")
        device._meta.verbose_name = _("appareil TOTP")
        device._meta.verbose_name_plural = _("appareils TOTP")
        # A field's shown name only (`verbose_name`; its deconstruction keeps the original).
        for name, label in TOTP_FIELDS.items():
            device._meta.get_field(name).verbose_name = label
    if apps.is_installed("django_celery_beat"):
        # Its own French is corrected by locale/fr; the app's name says what it is here.
        apps.get_app_config("django_celery_beat").verbose_name = _("Tâches périodiques")

    from sons.models import PurchaseOrder

    # A property: the admin would call it « Reference ».
    PurchaseOrder.reference.fget.short_description = _("référence")
