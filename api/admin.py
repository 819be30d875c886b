"""Administration of the API: tokens (issued here for any vendor member or administrator, the
secret shown once), the calls made with them, bulk jobs, webhook subscriptions and the log of
their deliveries."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.errors import RuleViolation

from . import services, tokens
from .models import (
    ApiCall,
    ApiToken,
    BulkJob,
    WebhookDelivery,
    WebhookSubscription,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the API's services, shown as they are."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return request.method in ("GET", "HEAD") and super().has_view_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


class TokenAddForm(forms.ModelForm):
    days = forms.IntegerField(
        label=_("durée de validité (jours)"),
        min_value=1,
        initial=tokens.default_days,
        help_text=_("Le jeton expire au bout de ce nombre de jours."),
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = get_user_model().objects.filter(is_active=True)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            tokens.check_issue(user=cleaned["user"], name=cleaned["name"], days=cleaned["days"])
        except RuleViolation as exc:
            field = exc.field if exc.field in self.fields else None
            raise ValidationError({field: exc.message}) from None
        return cleaned


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "prefix",
        "user",
        "vendor",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = ("vendor",)
    search_fields = ("name", "prefix", "user__username")
    actions = ["revoke"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = TokenAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "name", "days"]
        return [f.name for f in self.model._meta.fields if f.name != "key_hash"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        issued = tokens.issue_token(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            days=form.cleaned_data["days"],
            issued_by=request.user,
        )
        for field in ApiToken._meta.concrete_fields:
            setattr(obj, field.attname, getattr(issued.token, field.attname))
        obj._state.adding = False
        messages.warning(
            request,
            _("Jeton à transmettre maintenant, il ne sera plus jamais affiché : %(secret)s")
            % {"secret": issued.secret},
        )

    @admin.action(description=_("Révoquer les jetons sélectionnés"))
    def revoke(self, request, queryset):
        for token in queryset:
            tokens.revoke_token(token=token, by=request.user)
        messages.success(request, _("Jetons révoqués."))


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyAdmin):
    list_display = ("at", "token", "method", "path", "status_code", "duration_ms", "ip_address")
    list_filter = ("status_code", "method")
    search_fields = ("path", "token__prefix", "token__name")
    date_hierarchy = "at"
    list_select_related = ("token",)


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "vendor", "kind", "item_count", "state", "created_at")
    list_filter = ("kind", "state")
    exclude = ("payload",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name != "payload"]


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ("created_at", "event", "state", "attempts", "response_status", "last_error")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ("-created_at",)
    show_change_link = True


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("vendor", "url", "is_active", "created_at", "disabled_at")
    list_filter = ("is_active",)
    search_fields = ("url", "vendor__name")
    actions = ["reactivate", "deactivate"]
    inlines = [DeliveryInline]

    def get_readonly_fields(self, request, obj=None):
        hidden = {"secret", "previous_secret"}  # never shown again after their issue
        return [f.name for f in self.model._meta.fields if f.name not in hidden]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    def _set_active(self, request, queryset, active: bool) -> None:
        for subscription in queryset:
            services.update_subscription(
                subscription=subscription, changes={"is_active": active}, if_match="*"
            )

    @admin.action(description=_("Réactiver les abonnements sélectionnés"))
    def reactivate(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description=_("Désactiver les abonnements sélectionnés"))
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, False)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "event",
        "subscription",
        "state",
        "attempts",
        "response_status",
        "delivered_at",
    )
    list_filter = ("state", "event")
    search_fields = ("event_id", "subscription__url", "subscription__vendor__name")
    date_hierarchy = "created_at"
    list_select_related = ("subscription__vendor",)
