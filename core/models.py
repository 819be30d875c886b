"""The transition journal: one append-only table for every state change of every model."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class JournalIsAppendOnly(Exception):
    """Raised on any attempt to change or remove a journal entry."""


class JournalEntryQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise JournalIsAppendOnly("Le journal des transitions ne peut pas être modifié.")

    def delete(self):
        raise JournalIsAppendOnly("Le journal des transitions ne peut pas être effacé.")

    def for_object(self, obj: models.Model) -> JournalEntryQuerySet:
        return self.filter(
            content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
            object_id=str(obj.pk),
        )


class JournalHead(models.Model):
    """The single row holding the chain's last link; locking it serialises appends."""

    sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("tête du journal")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="journalhead_single_row")
        ]

    def __str__(self) -> str:
        return f"n° {self.sequence}"


class JournalEntry(models.Model):
    sequence = models.PositiveBigIntegerField(_("numéro d'ordre"), unique=True, editable=False)
    recorded_at = models.DateTimeField(_("horodatage (UTC)"), editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(_("auteur"), max_length=150)
    # No index of its own: the (content_type, object_id, sequence) index below starts with it.
    content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, verbose_name=_("type d'objet"), db_index=False
    )
    object_id = models.CharField(_("identifiant de l'objet"), max_length=64)
    object_repr = models.CharField(_("objet"), max_length=255)
    transition = models.CharField(_("transition"), max_length=64)
    source_state = models.CharField(_("état de départ"), max_length=32)
    target_state = models.CharField(_("état d'arrivée"), max_length=32)
    reason = models.TextField(_("motif"), blank=True)
    snapshot = models.JSONField(
        _("éléments justificatifs"), default=dict, encoder=DjangoJSONEncoder
    )
    previous_hash = models.CharField(_("empreinte précédente"), max_length=64)
    # Not indexed: nothing looks an entry up by its hash (verification walks by sequence, which
    # is unique), and two indexes on a random SHA-256 cost every append a random page write.
    entry_hash = models.CharField(_("empreinte SHA-256"), max_length=64)

    objects = JournalEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("entrée du journal")
        verbose_name_plural = _("journal des transitions")
        ordering = ["sequence"]
        indexes = [models.Index(fields=["content_type", "object_id", "sequence"])]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.object_repr} : {self.source_state} → {self.target_state}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise JournalIsAppendOnly("Le journal des transitions ne peut pas être modifié.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise JournalIsAppendOnly("Le journal des transitions ne peut pas être effacé.")


class TaskFailure(models.Model):
    """Dead letters: a Celery task that failed for good (retries exhausted), kept for review."""

    task_name = models.CharField(_("tâche"), max_length=200)
    task_id = models.CharField(_("identifiant"), max_length=64)
    arguments = models.JSONField(_("arguments"), default=list, encoder=DjangoJSONEncoder)
    exception = models.TextField(_("erreur"))
    traceback = models.TextField(_("trace"), blank=True)
    failed_at = models.DateTimeField(_("échec le"), auto_now_add=True)

    class Meta:
        verbose_name = _("tâche en échec")
        verbose_name_plural = _("tâches en échec (lettres mortes)")
        ordering = ["-failed_at"]

    def __str__(self) -> str:
        return f"{self.task_name} ({self.task_id})"


class RoutineRun(models.Model):
    """The last run of each scheduled routine (deadline sweep, journal verification), one row
    per routine overwritten at each run: what the health checks read to tell a stopped
    scheduler or a broken chain."""

    SWEEP = "sweep_deadlines"
    JOURNAL = "verify_journal"

    name = models.CharField(_("routine"), max_length=64, unique=True)
    finished_at = models.DateTimeField(_("dernière exécution"))
    succeeded = models.BooleanField(_("réussie"))
    detail = models.TextField(_("résultat"), blank=True)

    class Meta:
        verbose_name = _("exécution d'une routine")
        verbose_name_plural = _("dernières exécutions des routines")

    def __str__(self) -> str:
        return f"{self.name} ({self.finished_at:%Y-%m-%d %H:%M})"

    @classmethod
    def record(cls, name: str, *, succeeded: bool, detail: str = "") -> None:
        """Upserts the routine's row in one statement (the same cost at every run)."""
        cls.objects.bulk_create(
            [cls(name=name, finished_at=timezone.now(), succeeded=succeeded, detail=detail)],
            update_conflicts=True,
            unique_fields=["name"],
            update_fields=["finished_at", "succeeded", "detail"],
        )

    @classmethod
    def record_verification(cls, checked: int, broken) -> None:
        """Records a verification of the journal's chain (`core.journal.verify_chain`'s answer)."""
        if broken is None:
            cls.record(cls.JOURNAL, succeeded=True, detail=f"{checked} entrées intègres")
        else:
            cls.record(
                cls.JOURNAL,
                succeeded=False,
                detail=f"entrée n° {broken.sequence} : {broken.reason}",
            )
