"""Notices of completion carried to the ASP: which filing holds each, at which line.

A notice (`sons.models.CompletionNotice`) is the vendor's act on its order; this row is its place
in a filing of kind « achevement » (`payments.services.completion_filings`), the line numbers
that an ASP feedback file would refer back to. A notice is carried by one live line at a time:
once the ASP refuses it, the vendor's next « achèvement » filing carries it again (a new line, the
refused one kept as the record of the ASP's answer).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.copied_columns import copied_foreign_key, take_copy
from sons.models import CompletionNotice
from sons.models.parts import OrderPart

from .filing import AspFiling

# The kind of filing that carries notices of completion, beside the claims' kinds.
COMPLETION_FILING_KIND = "achevement"


class CompletionDecision(models.TextChoices):
    """The ASP's answer on a notice it received, all or nothing per feedback file."""

    PENDING = "", _("Sans réponse de l'ASP")
    ACCEPTED = "acceptee", _("Acceptée par l'ASP")
    REFUSED = "refusee", _("Refusée par l'ASP")


def filed_line_order_field() -> models.ForeignKey:
    return copied_foreign_key(
        "sons.PurchaseOrder",
        verbose_name=_("BDC"),
        help_text=_("Celui de la notification, recopié à la création de la ligne."),
    )


class FiledCompletion(OrderPart):
    filing = models.ForeignKey(AspFiling, on_delete=models.PROTECT, related_name="completion_lines")
    notice = models.ForeignKey(
        CompletionNotice,
        on_delete=models.PROTECT,
        related_name="filed_lines",
        verbose_name=_("notification d'achèvement"),
    )
    # The notice's order, carried by the line (set from the notice when it is first saved, given
    # by the set-based writer): whether an order told the ASP in time (`completion_deposited`)
    # is then judged from this table and the filings, without going through every notice.
    order = filed_line_order_field()
    # And, as a row of the order's life (`OrderPart`), the order's dispositif: the evidence of
    # one dispositif's orders is read from its own part of the index below.
    line_number = models.PositiveIntegerField(_("numéro de ligne"))
    agency_decision = models.CharField(
        _("réponse de l'ASP"),
        max_length=16,
        choices=CompletionDecision.choices,
        default=CompletionDecision.PENDING,
        blank=True,
        editable=False,
    )
    agency_reason = models.TextField(_("motif de l'ASP"), blank=True, editable=False)
    agency_decided_at = models.DateTimeField(
        _("réponse reçue le"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("notification d'achèvement déposée")
        verbose_name_plural = _("notifications d'achèvement déposées")
        indexes = [
            models.Index(
                fields=["dispositif", "order"],
                include=["filing", "agency_decision"],
                name="filed_completion_by_dispositif",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["filing", "line_number"], name="filed_completion_unique_line"
            ),
            # A notice is carried by one line the ASP has not refused, at most.
            models.UniqueConstraint(
                fields=["notice"],
                condition=~models.Q(agency_decision=CompletionDecision.REFUSED),
                name="filed_completion_one_live_line_per_notice",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filing.name} ligne {self.line_number}"

    def save(self, *args, **kwargs):
        take_copy(self, "order", source="notice")
        return super().save(*args, **kwargs)  # OrderPart: the dispositif from the order

    @property
    def refused(self) -> bool:
        return self.agency_decision == CompletionDecision.REFUSED

    @property
    def accepted(self) -> bool:
        return self.agency_decision == CompletionDecision.ACCEPTED
