"""Acceptance of a delivery: the client's VA (vérification d'aptitude), or the vendor's MOM."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from core.clock import paris_week_field
from core.copied_columns import copied_foreign_key, take_copy
from core.errors import RuleViolation
from core.guards import guard

from .order import PurchaseOrder
from .parts import OrderPart


class VaStatus(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    ISSUED = "issued", _("Émise, en attente de signature")
    SIGNED = "signed", _("Signée")
    REFUSED = "refused", _("Refusée (réserves bloquantes)")


LIVE_VA_STATUSES = [VaStatus.DRAFT, VaStatus.ISSUED, VaStatus.SIGNED]


class IdentityMethod(models.TextChoices):
    """How a signer's identity was checked when they signed online."""

    EMAIL_CODE = "code_courriel", _("Code à usage unique reçu par courriel")
    PRO_SANTE_CONNECT = "pro_sante_connect", _("Pro Santé Connect")


def identity_label(method: str, subject: str = "") -> str:
    """« Pro Santé Connect (810001234567) »: the method in words, then who it vouched for."""
    label = IdentityMethod(method).label if method in IdentityMethod.values else method
    return f"{label} ({subject})" if subject else str(label)


@guard("mssante_address_required", field="mssante_address")
def order_address_known(va: VerificationAptitude, at: dt.datetime) -> str | None:
    """A VA names the client's MSSanté address, as the vendor records it, when issued."""
    return None if va.order.contact.mssante_address else mssante_address_missing()


def mssante_address_missing() -> str:
    return str(
        _(
            "La VA et la MOM nomment l'adresse MSSanté du client : renseignez-la d'abord dans "
            "la fiche du client."
        )
    )


class VerificationAptitude(ConcurrentTransitionMixin, OrderPart):
    """VA: the client attests the delivered software works; one version per attempt."""

    order = models.ForeignKey(
        PurchaseOrder, on_delete=models.PROTECT, related_name="vas", verbose_name=_("BDC")
    )
    version = models.PositiveSmallIntegerField(_("version"))
    status = FSMField(
        _("état"),
        max_length=16,
        choices=VaStatus.choices,
        default=VaStatus.DRAFT,
        protected=True,
    )
    delivered_summary = models.TextField(_("prestation réalisée"))
    statements = models.JSONField(_("attestations demandées"), default=list, editable=False)
    mssante_address = models.EmailField(_("adresse MSSanté du client"), editable=False)
    # Where its signing links and codes go, as the vendor's record of the client stood when the
    # VA was issued: a later change of address re-sends nothing and redirects nothing.
    contact_email = models.EmailField(_("courriel du client"), blank=True, editable=False)
    issued_at = models.DateTimeField(_("émise le"), null=True, blank=True, editable=False)
    pdf = models.FileField(_("VA (PDF)"), upload_to="va/", blank=True, editable=False)
    pdf_sha256 = models.CharField(
        _("empreinte de la VA"), max_length=64, blank=True, editable=False
    )
    signed_pdf = models.FileField(_("VA signée (PDF)"), upload_to="va/", blank=True, editable=False)
    signed_pdf_sha256 = models.CharField(
        _("empreinte de la VA signée"), max_length=64, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("vérification d'aptitude (VA)")
        verbose_name_plural = _("vérifications d'aptitude (VA)")
        ordering = ["order", "version"]
        # The dashboard's figures of a dispositif, by state (sons.models.parts).
        indexes = [
            models.Index(
                fields=["dispositif", "status"],
                include=["order", "issued_at"],
                name="va_by_dispositif",
            )
        ]
        constraints = [
            models.UniqueConstraint(fields=["order", "version"], name="va_unique_version"),
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(status__in=LIVE_VA_STATUSES),
                name="va_one_live_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"VA v{self.version} – {self.order.reference}"

    @transition(
        field=status,
        source=VaStatus.DRAFT,
        target=VaStatus.ISSUED,
        conditions=[order_address_known],
        custom={"label": _("Émettre la VA")},
    )
    def issue(
        self, *, at: dt.datetime, statements: list[str], mssante_address: str, contact_email: str
    ) -> None:
        self.statements = list(statements)
        self.mssante_address = mssante_address
        self.contact_email = contact_email
        self.issued_at = at

    @transition(
        field=status,
        source=VaStatus.ISSUED,
        target=VaStatus.SIGNED,
        custom={"label": _("Signer la VA")},
    )
    def sign(self, *, document_sha256: str, confirmed: list[str]) -> None:
        self._check_document(document_sha256)
        missing = [s for s in self.statements if s not in confirmed]
        if missing:
            raise RuleViolation(
                "statements_not_confirmed",
                _("Chaque attestation doit être cochée pour signer ; manque : « %(missing)s »."),
                field="statements",
                missing=missing[0],
            )

    @transition(
        field=status,
        source=VaStatus.ISSUED,
        target=VaStatus.REFUSED,
        custom={"label": _("Refuser la VA (réserves bloquantes)")},
    )
    def refuse(self, *, document_sha256: str, blocking_reserves: str) -> None:
        self._check_document(document_sha256)
        if not blocking_reserves.strip():
            raise RuleViolation(
                "blocking_reserves_required",
                _("Un refus doit énoncer les réserves bloquantes à corriger."),
                field="blocking_reserves",
            )

    def _check_document(self, document_sha256: str) -> None:
        if not self.pdf_sha256:
            raise RuleViolation(
                "va_document_not_ready",
                _("Le document de la VA n'est pas encore prêt : réessayez dans un instant."),
                field="document_sha256",
            )
        if document_sha256 != self.pdf_sha256:
            raise RuleViolation(
                "va_document_changed",
                _("Le document signé n'est pas celui de la VA en vigueur (empreinte différente)."),
                field="document_sha256",
            )


class AcceptanceSigner(models.Model):
    """Who signed or declared, when, from where and how their identity was checked."""

    signer_name = models.CharField(_("nom du signataire"), max_length=255)
    signer_role = models.CharField(_("qualité"), max_length=128)
    signer_rpps = models.CharField(_("RPPS du signataire"), max_length=11, blank=True)
    identity_method = models.CharField(_("vérification de l'identité"), max_length=64)
    identity_subject = models.CharField(
        _("identité vérifiée"),
        max_length=255,
        blank=True,
        help_text=_("L'adresse qui a reçu le code, ou l'identifiant Pro Santé Connect."),
    )
    ip_address = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    user_agent = models.CharField(_("navigateur"), max_length=512, blank=True)

    class Meta:
        abstract = True


class VaDecision(AcceptanceSigner):
    """The client's answer to one VA version: signed (non-blocking reserves) or refused."""

    class Outcome(models.TextChoices):
        SIGNED = "signed", _("Signée")
        REFUSED = "refused", _("Refusée")

    va = models.OneToOneField(
        VerificationAptitude, on_delete=models.PROTECT, related_name="decision"
    )
    outcome = models.CharField(_("décision"), max_length=8, choices=Outcome.choices)
    decided_at = models.DateTimeField(_("le"))
    statements_confirmed = models.JSONField(_("attestations cochées"), default=list)
    document_sha256 = models.CharField(_("empreinte du document vu"), max_length=64)
    non_blocking_reserves = models.TextField(_("réserves non bloquantes"), blank=True)
    blocking_reserves = models.TextField(_("réserves bloquantes"), blank=True)
    # The VA's dispositif (copied by save(), core.copied_columns) and the Paris week of the
    # decision (kept by the database): the dashboard counts a dispositif's VA signed per week
    # from the index below, without joining each decision to its VA.
    dispositif = copied_foreign_key(
        "catalogue.Dispositif",
        verbose_name=_("dispositif"),
        help_text=_("Celui de la VA, recopié à l'enregistrement de la décision."),
    )
    decided_week = paris_week_field("decided_at", _("semaine de la décision (lundi, Paris)"))

    class Meta:
        verbose_name = _("décision sur une VA")
        verbose_name_plural = _("décisions sur les VA")
        indexes = [
            models.Index(
                fields=["dispositif", "outcome", "decided_week"],
                include=["decided_at"],
                name="va_decision_by_dispositif",
            )
        ]

    def __str__(self) -> str:
        return f"{self.va} : {self.get_outcome_display()} par {self.signer_name}"

    def save(self, *args, **kwargs):
        take_copy(self, "dispositif", source="va")
        return super().save(*args, **kwargs)


class MomDeclaration(AcceptanceSigner):
    """Mise en ordre de marche: the vendor declares the software running, where the AF allows."""

    order = models.OneToOneField(
        PurchaseOrder, on_delete=models.PROTECT, related_name="mom", verbose_name=_("BDC")
    )
    declared_at = models.DateTimeField(_("déclarée le"))
    mssante_address = models.EmailField(_("adresse MSSanté du client"))
    statement = models.TextField(_("déclaration"))

    class Meta:
        verbose_name = _("déclaration de mise en ordre de marche (MOM)")
        verbose_name_plural = _("déclarations de mise en ordre de marche (MOM)")

    def __str__(self) -> str:
        return f"MOM {self.order.reference}"
