"""Reminders: each one recorded once, with the deadline (and calendar version) it was computed
from, and each of its deliveries to one address."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ReminderKind(models.TextChoices):
    VENDOR_DEADLINE = "vendor_deadline", _("Échéance proche (fournisseur)")
    CLIENT_VA = "client_va", _("VA en attente de signature (client)")
    ADMIN_AT_RISK = "admin_at_risk", _("BDC en risque (administrateurs)")


class Reminder(models.Model):
    """One reminder, sent once: its `key` says what it is about (who, which deadline at which
    date, which threshold), so a second run, or a concurrent one, finds it and sends nothing.
    A deadline moved by an arrêté has another date, hence other keys: reminders follow it."""

    key = models.CharField(_("clé"), max_length=200, unique=True)
    kind = models.CharField(_("nature"), max_length=20, choices=ReminderKind.choices)
    run_id = models.UUIDField(_("passage"), editable=False)
    computed_at = models.DateTimeField(_("calculé pour l'instant"))
    created_at = models.DateTimeField(_("enregistré le"), auto_now_add=True)
    vendor = models.ForeignKey(
        "catalogue.Vendor", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dispositif = models.ForeignKey(
        "catalogue.Dispositif", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    va = models.ForeignKey(
        "sons.VerificationAptitude",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reminders",
        verbose_name=_("VA"),
    )
    deadline_kind = models.CharField(_("échéance"), max_length=32, blank=True)
    deadline_at = models.DateTimeField(_("date de l'échéance"), null=True, blank=True)
    calendar_version = models.ForeignKey(
        "catalogue.CalendarVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("version du calendrier appliquée"),
    )
    threshold_days = models.PositiveSmallIntegerField(_("seuil (jours)"))
    order_ids = models.JSONField(_("BDC concernés"), default=list)

    class Meta:
        verbose_name = _("rappel")
        verbose_name_plural = _("rappels")
        ordering = ["-computed_at", "key"]
        indexes = [models.Index(fields=["run_id"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} – {self.key}"


class Delivery(models.Model):
    """One reminder to one address: mailed at once, or kept for that person's daily digest."""

    class Status(models.TextChoices):
        PENDING = "pending", _("À envoyer")
        SENT = "sent", _("Envoyé")
        SUPERSEDED = "superseded", _("Sans objet (échéance déplacée)")

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="deliveries")
    email = models.EmailField(_("adresse"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    in_digest = models.BooleanField(_("dans le récapitulatif quotidien"), default=False)
    status = models.CharField(
        _("état"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("envoi de rappel")
        verbose_name_plural = _("envois de rappels")
        constraints = [
            models.UniqueConstraint(fields=["reminder", "email"], name="delivery_once_per_address")
        ]
        indexes = [models.Index(fields=["status", "in_digest"])]

    def __str__(self) -> str:
        return f"{self.email} – {self.reminder}"


class Preference(models.Model):
    """Which reminders a person receives, and whether as one daily digest."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminder_preference"
    )
    vendor_deadlines = models.BooleanField(
        _("échéances de mes BDC et demandes"),
        default=True,
        help_text=_("30, 7 et 1 jours avant chaque échéance (membres d'un fournisseur)."),
    )
    admin_at_risk = models.BooleanField(
        _("BDC en risque"),
        default=True,
        help_text=_(
            "Dispositifs dont des BDC ne sont pas livrés à moins de 30 jours de la fin "
            "de réalisation (administrateurs)."
        ),
    )
    daily_digest = models.BooleanField(
        _("un seul courriel récapitulatif par jour"),
        default=False,
        help_text=_("Au lieu d'un courriel par rappel."),
    )

    class Meta:
        verbose_name = _("préférence de rappel")
        verbose_name_plural = _("préférences de rappel")

    def __str__(self) -> str:
        return str(self.user)
