from django.contrib import admin

from .models import JournalEntry, TaskFailure


@admin.register(JournalEntry)
class JournalEntryAdmin(admin.ModelAdmin):
    """Read-only: the journal is append-only, written by services only."""

    list_display = (
        "sequence",
        "recorded_at",
        "actor_label",
        "content_type",
        "object_repr",
        "transition",
        "source_state",
        "target_state",
    )
    list_filter = ("content_type", "transition")
    search_fields = ("object_repr", "actor_label", "object_id", "entry_hash")
    date_hierarchy = "recorded_at"
    ordering = ("-sequence",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

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
