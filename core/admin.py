from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext_lazy as _

from .journal_display import present, transition_label
from .models import JournalEntry, TaskFailure


class TransitionFilter(admin.SimpleListFilter):
    """The journal's transitions by their French names (one code may name several: « sign » is
    « Signer le BDC » and « Signer la VA »)."""

    title = _("transition")
    parameter_name = "transition"

    def lookups(self, request, model_admin):
        labels: dict[str, set[str]] = {}
        for content_type_id, name in (
            JournalEntry.objects.order_by().values_list("content_type", "transition").distinct()
        ):
            model = ContentType.objects.get_for_id(content_type_id).model_class()
            labels.setdefault(name, set()).add(transition_label(model, name))
        return sorted(
            ((name, " / ".join(sorted(names))) for name, names in labels.items()),
            key=lambda item: item[1].lower(),
        )

    def queryset(self, request, queryset):
        return queryset.filter(transition=self.value()) if self.value() else queryset


@admin.register(JournalEntry)
class JournalEntryAdmin(admin.ModelAdmin):
    """Read-only: the journal is append-only, written by services only. Transitions and states
    are shown by their French names (core.journal_display), the codes on the entry's page."""

    list_display = (
        "sequence",
        "recorded_at",
        "actor_label",
        "content_type",
        "object_repr",
        "transition_label",
        "source_label",
        "target_label",
    )
    list_filter = ("content_type", TransitionFilter)
    list_select_related = ("content_type",)
    search_fields = ("object_repr", "actor_label", "object_id", "entry_hash")
    date_hierarchy = "recorded_at"
    ordering = ("-sequence",)
    labels = ("transition_label", "source_label", "target_label", "acted_at")

    @admin.display(description=_("transition"), ordering="transition")
    def transition_label(self, entry):
        return present(entry).transition

    @admin.display(description=_("état de départ"))
    def source_label(self, entry):
        return present(entry).source or "—"

    @admin.display(description=_("état d'arrivée"))
    def target_label(self, entry):
        return present(entry).target or "—"

    @admin.display(description=_("acte du (heure de Paris)"))
    def acted_at(self, entry):
        return present(entry).at_display

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [*self.labels, *(f.name for f in self.model._meta.fields)]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TaskFailure)
class TaskFailureAdmin(admin.ModelAdmin):
    list_display = ("failed_at", "task_name", "task_id", "exception")
    list_filter = ("task_name",)
    search_fields = ("task_id", "task_name", "exception")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False
