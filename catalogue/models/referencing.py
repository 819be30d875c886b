"""The référencement of a solution version under a dispositif, as a state machine."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from catalogue.deadlines import format_deadline, format_paris, is_in_time
from core.errors import RuleViolation

from .dispositif import Dispositif
from .vendor import SolutionVersion, Vendor


class ReferencingStatus(models.TextChoices):
    DRAFT = "draft", _("Brouillon")
    SUBMITTED = "submitted", _("Dossier déposé")
    UNDER_REVIEW = "under_review", _("En instruction")
    REFERENCED = "referenced", _("Référencée")
    REJECTED = "rejected", _("Refusée")
    WITHDRAWN = "withdrawn", _("Référencement retiré")


LIVE_STATUSES = [
    ReferencingStatus.DRAFT,
    ReferencingStatus.SUBMITTED,
    ReferencingStatus.UNDER_REVIEW,
    ReferencingStatus.REFERENCED,
]


class Referencing(ConcurrentTransitionMixin, models.Model):
    solution_version = models.ForeignKey(
        SolutionVersion,
        on_delete=models.PROTECT,
        related_name="referencings",
        verbose_name=_("version de solution"),
    )
    dispositif = models.ForeignKey(
        Dispositif,
        on_delete=models.PROTECT,
        related_name="referencings",
        verbose_name=_("dispositif"),
    )
    vendor = models.ForeignKey(
        Vendor,
        on_delete=models.PROTECT,
        related_name="referencings",
        verbose_name=_("fournisseur déposant"),
    )
    status = FSMField(
        _("état"),
        max_length=16,
        choices=ReferencingStatus.choices,
        default=ReferencingStatus.DRAFT,
        protected=True,
    )
    submitted_at = models.DateTimeField(_("déposé le"), null=True, blank=True, editable=False)
    decided_at = models.DateTimeField(_("décidé le"), null=True, blank=True, editable=False)
    ans_number = models.CharField(
        _("numéro de référencement ANS"), max_length=64, blank=True, editable=False
    )
    referenced_on = models.DateField(_("référencée le"), null=True, blank=True, editable=False)
    rejection_reasons = models.TextField(_("motifs du refus"), blank=True, editable=False)
    withdrawal_reason = models.TextField(_("motif du retrait"), blank=True, editable=False)
    withdrawn_at = models.DateTimeField(_("retiré le"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("référencement")
        verbose_name_plural = _("référencements")
        ordering = ["dispositif", "solution_version"]
        constraints = [
            models.UniqueConstraint(
                fields=["solution_version", "dispositif"],
                condition=models.Q(status__in=LIVE_STATUSES),
                name="referencing_one_live_per_version_and_dispositif",
            ),
            models.UniqueConstraint(
                fields=["ans_number"],
                condition=~models.Q(ans_number=""),
                name="referencing_unique_ans_number",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.solution_version} × {self.dispositif.code}"

    def in_force_at(self, at: dt.datetime) -> bool:
        """Whether the version was referenced under the dispositif at instant `at`."""
        if self.decided_at is None or self.status not in (
            ReferencingStatus.REFERENCED,
            ReferencingStatus.WITHDRAWN,
        ):
            return False
        if self.status == ReferencingStatus.REFERENCED or self.withdrawn_at is None:
            return self.decided_at <= at
        return self.decided_at <= at < self.withdrawn_at

    @transition(
        field=status,
        source=ReferencingStatus.DRAFT,
        target=ReferencingStatus.SUBMITTED,
        custom={"label": _("Déposer le dossier")},
    )
    def submit(self, *, at: dt.datetime, deadline_at: dt.datetime | None) -> None:
        if deadline_at is not None and not is_in_time(at, deadline_at):
            raise RuleViolation(
                "referencing_dossier_deadline_passed",
                _(
                    "Le dossier de référencement devait être déposé avant le %(deadline)s ; il "
                    "est déposé le %(at)s."
                ),
                field="submitted_at",
                deadline=format_deadline(deadline_at, seconds=True, zone=True),
                at=format_paris(at, seconds=True),
            )
        self.submitted_at = at

    @transition(
        field=status,
        source=ReferencingStatus.SUBMITTED,
        target=ReferencingStatus.UNDER_REVIEW,
        custom={"label": _("Mettre en instruction")},
    )
    def start_review(self) -> None:
        """The ANS takes the dossier up."""

    @transition(
        field=status,
        source=ReferencingStatus.UNDER_REVIEW,
        target=ReferencingStatus.REFERENCED,
        custom={"label": _("Référencer")},
    )
    def reference(self, *, at: dt.datetime, ans_number: str, referenced_on: dt.date) -> None:
        ans_number = ans_number.strip()
        if not ans_number:
            raise RuleViolation(
                "ans_number_required",
                _("Le numéro de référencement ANS est obligatoire pour référencer."),
                field="ans_number",
            )
        taken = Referencing.objects.filter(ans_number=ans_number).exclude(pk=self.pk).exists()
        if taken:
            raise RuleViolation(
                "ans_number_taken",
                _("Le numéro de référencement ANS %(number)s est déjà attribué."),
                field="ans_number",
                number=ans_number,
            )
        self.ans_number = ans_number
        self.referenced_on = referenced_on
        self.decided_at = at

    @transition(
        field=status,
        source=ReferencingStatus.UNDER_REVIEW,
        target=ReferencingStatus.REJECTED,
        custom={"label": _("Refuser")},
    )
    def reject(self, *, at: dt.datetime, reasons: str) -> None:
        if not reasons.strip():
            raise RuleViolation(
                "rejection_reasons_required",
                _("Un refus doit être motivé."),
                field="rejection_reasons",
            )
        self.rejection_reasons = reasons.strip()
        self.decided_at = at

    @transition(
        field=status,
        source=ReferencingStatus.REFERENCED,
        target=ReferencingStatus.WITHDRAWN,
        custom={"label": _("Retirer le référencement")},
    )
    def withdraw(self, *, at: dt.datetime, withdrawal_reason: str) -> None:
        if not withdrawal_reason.strip():
            raise RuleViolation(
                "withdrawal_reason_required",
                _("Le retrait d'un référencement doit être motivé."),
                field="withdrawal_reason",
            )
        self.withdrawal_reason = withdrawal_reason.strip()
        self.withdrawn_at = at
