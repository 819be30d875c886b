"""What the API keeps of its own: tokens and the calls made with them, idempotency keys, the
vendors' clients registered through it, bulk jobs, webhook subscriptions and deliveries.

The ETags of the rows the API changes (orders, the vendors' client records, webhook
subscriptions) derive from their row version (`core.versioning.Versioned`).
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.versioning import Versioned


class ApiToken(models.Model):
    """A bearer token of one user, stored as a SHA-256 of its secret (shown once, at issue)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("utilisateur"),
    )
    vendor = models.ForeignKey(
        "catalogue.Vendor",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_tokens",
        verbose_name=_("fournisseur"),
        help_text=_("Le fournisseur pour lequel le jeton agit ; vide pour un administrateur."),
    )
    name = models.CharField(_("nom"), max_length=100)
    prefix = models.CharField(_("préfixe"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("empreinte"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("créé par"),
        editable=False,
    )
    expires_at = models.DateTimeField(_("expire le"))
    revoked_at = models.DateTimeField(_("révoqué le"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("révoqué par"),
        editable=False,
    )
    last_used_at = models.DateTimeField(
        _("dernière utilisation"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("jeton d'API")
        verbose_name_plural = _("jetons d'API")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, at=None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and at < self.expires_at


class ApiCall(models.Model):
    """One request made with a token: who (token), what, when, and the answer's status."""

    token = models.ForeignKey(
        ApiToken, on_delete=models.CASCADE, related_name="calls", verbose_name=_("jeton")
    )
    at = models.DateTimeField(_("le"), default=timezone.now)
    method = models.CharField(_("méthode"), max_length=8)
    path = models.CharField(_("chemin"), max_length=255)
    status_code = models.PositiveSmallIntegerField(_("statut"))
    duration_ms = models.PositiveIntegerField(_("durée (ms)"))
    ip_address = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)

    class Meta:
        verbose_name = _("appel à l'API")
        verbose_name_plural = _("appels à l'API")
        ordering = ["-at"]
        indexes = [models.Index(fields=["token", "at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status_code}"


class IdempotencyRecord(models.Model):
    """The first answer to a POST carrying an Idempotency-Key, replayed for the same key and
    body; a row « in progress » makes a concurrent request with the same key wait its turn."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", _("en cours")
        DONE = "done", _("terminé")

    owner = models.CharField(_("titulaire"), max_length=32)
    key = models.CharField(_("clé"), max_length=255)
    method = models.CharField(_("méthode"), max_length=8)
    path = models.CharField(_("chemin"), max_length=255)
    request_hash = models.CharField(_("empreinte de la requête"), max_length=64)
    state = models.CharField(_("état"), max_length=16, choices=State.choices)
    response_status = models.PositiveSmallIntegerField(_("statut"), null=True, blank=True)
    response_headers = models.JSONField(_("en-têtes"), default=dict, blank=True)
    response_body = models.BinaryField(_("réponse"), null=True, blank=True)
    created_at = models.DateTimeField(_("reçue le"), default=timezone.now)
    completed_at = models.DateTimeField(_("répondue le"), null=True, blank=True)

    class Meta:
        verbose_name = _("clé d'idempotence")
        verbose_name_plural = _("clés d'idempotence")
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_unique_key")
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"


class BulkJob(models.Model):
    """A bulk creation or update of orders or clients, or notices of completion, all or
    nothing."""

    class Kind(models.TextChoices):
        ORDERS = "orders", _("BDC")
        CLIENTS = "clients", _("clients")
        COMPLETIONS = "completions", _("notifications d'achèvement")

    class State(models.TextChoices):
        PENDING = "pending", _("en attente")
        RUNNING = "running", _("en cours")
        SUCCEEDED = "succeeded", _("réussi")
        FAILED = "failed", _("refusé")

    public_id = models.UUIDField(_("identifiant"), default=uuid.uuid4, unique=True, editable=False)
    vendor = models.ForeignKey(
        "catalogue.Vendor",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("fournisseur"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("par")
    )
    kind = models.CharField(_("objet"), max_length=16, choices=Kind.choices)
    state = models.CharField(_("état"), max_length=16, choices=State.choices, default=State.PENDING)
    item_count = models.PositiveIntegerField(_("éléments"))
    payload = models.JSONField(_("éléments demandés"), default=list, blank=True)
    result = models.JSONField(_("résultat"), default=list, blank=True)
    errors = models.JSONField(_("erreurs"), default=list, blank=True)
    created_at = models.DateTimeField(_("reçu le"), default=timezone.now)
    started_at = models.DateTimeField(_("commencé le"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("traitement en masse")
        verbose_name_plural = _("traitements en masse")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} × {self.item_count} ({self.get_state_display()})"


class WebhookSubscription(Versioned):
    """A vendor's endpoint that receives the events it subscribed to, signed with HMAC-SHA256.

    `signature_scheme` says how: Standard Webhooks for every subscription made since it exists;
    the subscriptions made before keep the former `X-Sons-Signature` header until their vendor
    rotates the secret (`api.services.rotate_subscription_secret`), which moves them over. After a
    rotation the former secret (`previous_secret`, in its scheme `previous_signature_scheme`)
    still signs beside the new one until `previous_secret_until`, so that the receiver can
    change its secret without refusing a delivery."""

    class SignatureScheme(models.TextChoices):
        STANDARD = "standard_webhooks_v1", _("Standard Webhooks (webhook-id, webhook-signature)")
        LEGACY = "sons_v1", _("ancien schéma X-Sons-Signature (période de transition)")

    vendor = models.ForeignKey(
        "catalogue.Vendor",
        on_delete=models.PROTECT,
        related_name="webhook_subscriptions",
        verbose_name=_("fournisseur"),
    )
    url = models.URLField(_("adresse de réception"), max_length=500)
    events = models.JSONField(_("événements"), default=list)
    description = models.CharField(_("description"), max_length=255, blank=True)
    secret = models.CharField(_("secret de signature"), max_length=64, editable=False)
    signature_scheme = models.CharField(
        _("schéma de signature"),
        max_length=32,
        choices=SignatureScheme.choices,
        default=SignatureScheme.STANDARD,
        editable=False,
    )
    previous_secret = models.CharField(
        _("secret précédent"), max_length=64, blank=True, editable=False
    )
    previous_signature_scheme = models.CharField(
        _("schéma du secret précédent"),
        max_length=32,
        choices=SignatureScheme.choices,
        blank=True,
        editable=False,
    )
    previous_secret_until = models.DateTimeField(
        _("le secret précédent signe aussi jusqu'au"), null=True, blank=True, editable=False
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("créée le"), default=timezone.now, editable=False)
    disabled_at = models.DateTimeField(_("désactivée le"), null=True, blank=True)
    disabled_reason = models.TextField(_("motif de la désactivation"), blank=True)

    def previous_secret_signs(self, at: dt.datetime) -> bool:
        """Whether the former secret still signs beside the new one at `at`."""
        return (
            bool(self.previous_secret)
            and self.previous_secret_until is not None
            and (at < self.previous_secret_until)
        )

    class Meta:
        verbose_name = _("abonnement webhook")
        verbose_name_plural = _("abonnements webhook")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.vendor} → {self.url}"


class WebhookDelivery(models.Model):
    """One event sent (or to send) to one subscription, with every attempt's outcome."""

    class State(models.TextChoices):
        PENDING = "pending", _("à envoyer")
        DELIVERED = "delivered", _("remis")
        FAILED = "failed", _("échec définitif")

    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("abonnement"),
    )
    event = models.CharField(_("événement"), max_length=64)
    event_id = models.UUIDField(_("identifiant de l'événement"), default=uuid.uuid4)
    payload = models.JSONField(_("contenu"))
    state = models.CharField(_("état"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("dernière tentative"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("prochaine tentative"), null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(
        _("statut de la réponse"), null=True, blank=True
    )
    last_error = models.TextField(_("dernière erreur"), blank=True)
    delivered_at = models.DateTimeField(_("remis le"), null=True, blank=True)

    class Meta:
        verbose_name = _("envoi webhook")
        verbose_name_plural = _("envois webhook (journal)")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription.url} ({self.get_state_display()})"


class EventCursor(models.Model):
    """How far the journal has been read for webhook events (one row)."""

    last_sequence = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("curseur des événements")
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="eventcursor_single")]

    def __str__(self) -> str:
        return f"n° {self.last_sequence}"
