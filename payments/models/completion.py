"""Notices of completion carried to the ASP: which filing holds each, at which line.

A notice (`sons.models.CompletionNotice`) is the vendor's act on its order; this row is its place
in a filing of kind « achevement » (`payments.services.completion_filings`), the line numbers
that an ASP feedback file would refer back to. A notice goes in one filing only.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from sons.models import CompletionNotice

from .filing import AspFiling

# The kind of filing that carries notices of completion, beside the claims' kinds.
COMPLETION_FILING_KIND = "achevement"


class FiledCompletion(models.Model):
    filing = models.ForeignKey(AspFiling, on_delete=models.PROTECT, related_name="completion_lines")
    notice = models.OneToOneField(
        CompletionNotice,
        on_delete=models.PROTECT,
        related_name="filed_line",
        verbose_name=_("notification d'achèvement"),
    )
    line_number = models.PositiveIntegerField(_("numéro de ligne"))

    class Meta:
        verbose_name = _("notification d'achèvement déposée")
        verbose_name_plural = _("notifications d'achèvement déposées")
        constraints = [
            models.UniqueConstraint(
                fields=["filing", "line_number"], name="filed_completion_unique_line"
            )
        ]

    def __str__(self) -> str:
        return f"{self.filing.name} ligne {self.line_number}"
