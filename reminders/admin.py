from django.contrib import admin

from core.admin_transitions import ReadOnlyInlineMixin, readonly_everything

from .models import Delivery, Preference, Reminder


class DeliveryInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Delivery
    fields = ("email", "in_digest", "status", "sent_at")


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    """Reminders are written by the daily run only: the admin reads them."""

    list_display = (
        "kind",
        "dispositif",
        "vendor",
        "deadline_kind",
        "deadline_at",
        "threshold_days",
    )
    list_filter = ("kind", "deadline_kind", "threshold_days", "dispositif")
    search_fields = ("key", "vendor__name")
    date_hierarchy = "computed_at"
    inlines = (DeliveryInline,)
    list_select_related = ("dispositif", "vendor")

    def get_readonly_fields(self, request, obj=None):
        return readonly_everything(self.model)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "vendor_deadlines", "admin_at_risk", "daily_digest")
    autocomplete_fields = ("user",)
