from django.contrib import admin

from .models import SigningLink


@admin.register(SigningLink)
class SigningLinkAdmin(admin.ModelAdmin):
    """Read-only: links are created and used through the signing services only."""

    list_display = ("__str__", "kind", "sent_to", "created_at", "expires_at", "used_at", "outcome")
    list_filter = ("kind", "outcome")
    search_fields = ("sent_to", "identity_subject")
    date_hierarchy = "created_at"
    exclude = ("public_id",)  # with the server key, it is the link itself

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "public_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
