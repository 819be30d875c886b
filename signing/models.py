"""Online signing: the personal links sent to clients, and the one-time codes that prove who
opens them.

A link is for one document (a VA version, or a draft BDC), expires, and stops working once the
document is signed or refused, once a newer link replaces it, or once the VA is superseded. The
way it was used (who, how their identity was checked, on which document hash) stays on it.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from sons.models import PurchaseOrder, VerificationAptitude


class LinkKind(models.TextChoices):
    VA = "va", _("Vérification d'aptitude (VA)")
    BDC = "bdc", _("Bon de commande (BDC)")


class LinkOutcome(models.TextChoices):
    SIGNED = "signed", _("Signé")
    REFUSED = "refused", _("Refusé")


class SigningLink(models.Model):
    """A personal, expiring link by which the client signs one document online."""

    kind = models.CharField(_("document"), max_length=8, choices=LinkKind.choices)
    order = models.ForeignKey(
        PurchaseOrder,
        on_delete=models.PROTECT,
        related_name="signing_links",
        verbose_name=_("BDC"),
    )
    va = models.ForeignKey(
        VerificationAptitude,
        on_delete=models.PROTECT,
        related_name="signing_links",
        null=True,
        blank=True,
        verbose_name=_("VA"),
    )
    # Random, and only ever sent inside a value signed with the server's secret key.
    public_id = models.UUIDField(_("identifiant public"), default=uuid.uuid4, unique=True)
    sent_to = models.EmailField(_("envoyé à"))
    created_at = models.DateTimeField(_("créé le"))
    created_by = models.CharField(_("créé par"), max_length=150)
    expires_at = models.DateTimeField(_("expire le"))
    sent_at = models.DateTimeField(_("courriel envoyé le"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("remplacé le"), null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(_("codes erronés"), default=0)
    locked_until = models.DateTimeField(_("bloqué jusqu'au"), null=True, blank=True)
    codes_sent = models.PositiveSmallIntegerField(_("codes envoyés"), default=0)
    used_at = models.DateTimeField(_("utilisé le"), null=True, blank=True)
    outcome = models.CharField(_("décision"), max_length=8, choices=LinkOutcome.choices, blank=True)
    identity_method = models.CharField(_("vérification de l'identité"), max_length=64, blank=True)
    identity_subject = models.CharField(_("identité vérifiée"), max_length=255, blank=True)
    signer_rpps = models.CharField(_("RPPS du signataire"), max_length=11, blank=True)
    ip_address = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    user_agent = models.CharField(_("navigateur"), max_length=512, blank=True)
    document_sha256 = models.CharField(_("empreinte du document vu"), max_length=64, blank=True)
    copy_sent_at = models.DateTimeField(_("exemplaire signé envoyé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("lien de signature")
        verbose_name_plural = _("liens de signature")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="va") & models.Q(va__isnull=False))
                | (models.Q(kind="bdc") & models.Q(va__isnull=True)),
                name="signing_link_document_matches_kind",
            ),
        ]
        indexes = [models.Index(fields=["order", "kind"])]

    def __str__(self) -> str:
        if self.kind == LinkKind.VA and self.va_id:
            return f"Lien VA v{self.va.version} – {PurchaseOrder.reference_of(self.order_id)}"
        return f"Lien BDC – {PurchaseOrder.reference_of(self.order_id)}"


class OneTimeCode(models.Model):
    """A six-digit code mailed to the client; only the newest unused one of a link counts.

    The code itself is never stored: it is derived from `secret` with the server's key, so the
    mail task can write it without the code passing through the task queue.
    """

    link = models.ForeignKey(SigningLink, on_delete=models.CASCADE, related_name="codes")
    secret = models.CharField(max_length=64, editable=False)
    sent_to = models.EmailField(_("envoyé à"))
    created_at = models.DateTimeField(_("créé le"))
    expires_at = models.DateTimeField(_("expire le"))
    sent_at = models.DateTimeField(_("courriel envoyé le"), null=True, blank=True)
    used_at = models.DateTimeField(_("utilisé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("code à usage unique")
        verbose_name_plural = _("codes à usage unique")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Code du {self.created_at:%d/%m/%Y %H:%M} – {self.link}"
