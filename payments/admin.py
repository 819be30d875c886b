"""Admin of payments: claims, filings and recoveries move only through their services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.admin_files import StoredFilesAdminMixin
from core.admin_transitions import Action, TransitionAdminMixin, readonly_everything
from core.money import format_euros
from sons.demo_marks import with_demo_mark

from .models import AspFiling, FeedbackImport, PaymentClaim, Recovery
from .services import claims, filings, recovery


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Motif"), widget=forms.Textarea)


class SettleForm(forms.Form):
    settled_cents = forms.IntegerField(label=_("Montant remboursé (centimes)"), min_value=1)


@admin.register(PaymentClaim)
class PaymentClaimAdmin(StoredFilesAdminMixin, TransitionAdminMixin, admin.ModelAdmin):
    transitions = {
        "make_ready": Action(
            _("Vérifier et marquer prête"),
            lambda c, user, data: claims.make_ready(claim=c, actor=user),
        ),
        "cancel": Action(
            _("Annuler la demande"),
            lambda c, user, data: claims.cancel_claim(claim=c, actor=user, reason=data["reason"]),
            ReasonForm,
        ),
        "reopen": Action(
            _("Reprendre en brouillon"),
            lambda c, user, data: filings.reopen_claim(claim=c, actor=user),
        ),
    }
    list_display = ("__str__", "kind", "status", "amount_ttc", "filing", "line_number")
    list_filter = ("kind", "status")
    search_fields = ("order__client__legal_name", "invoice_number")
    list_select_related = ("order__client", "order__tariff", "filing")

    @admin.display(description=_("montant TTC"))
    def amount_ttc(self, obj):
        return with_demo_mark(format_euros(obj.amount_ttc_cents), obj)

    detail_fields = readonly_everything(PaymentClaim, "amount_ttc", "actions_available", "journal")


@admin.register(AspFiling)
class AspFilingAdmin(StoredFilesAdminMixin, TransitionAdminMixin, admin.ModelAdmin):
    download_names = {
        "json_file": lambda f: f"{f.name}.json",
        "zip_file": lambda f: f"{f.name}.zip",
    }
    transitions = {
        "transmit": Action(
            _("Marquer transmis"),
            lambda f, user, data: filings.require_transmitted(
                filings.transmit_filing(filing=f, actor=user)
            ),
        ),
    }
    list_display = ("name", "status", "line_count", "total_ttc", "created_at")
    list_filter = ("status", "kind", "dispositif")

    @admin.display(description=_("total TTC"))
    def total_ttc(self, obj):
        return with_demo_mark(format_euros(obj.total_ttc_cents), obj)

    @admin.display(description=_("fichiers"))
    def files(self, obj):
        if not obj.json_file:
            return _("En cours de génération.")
        # The staff-only download view (core.admin_files), not the storage's own address.
        return format_html(
            "{} (SHA-256 {}) · {} (SHA-256 {})",
            self.file_link(obj, "json_file", "JSON"),
            obj.json_sha256,
            self.file_link(obj, "zip_file", "zip"),
            obj.zip_sha256,
        )

    detail_fields = readonly_everything(AspFiling, "files", "actions_available", "journal")


@admin.register(Recovery)
class RecoveryAdmin(StoredFilesAdminMixin, TransitionAdminMixin, admin.ModelAdmin):
    transitions = {
        "notify": Action(
            _("Notifier (avis de recouvrement)"),
            lambda r, user, data: recovery.notify_recovery(recovery=r, actor=user),
        ),
        "settle": Action(
            _("Constater le remboursement"),
            lambda r, user, data: recovery.settle_recovery(
                recovery=r, settled_cents=data["settled_cents"], actor=user
            ),
            SettleForm,
        ),
        "cancel": Action(
            _("Annuler le recouvrement"),
            lambda r, user, data: recovery.cancel_recovery(
                recovery=r, reason=data["reason"], actor=user
            ),
            ReasonForm,
        ),
    }
    list_display = ("order", "cause", "status", "amount", "opened_at")
    list_filter = ("status", "cause")

    @admin.display(description=_("montant"))
    def amount(self, obj):
        return format_euros(obj.amount_cents)

    detail_fields = readonly_everything(Recovery, "amount", "actions_available", "journal")


@admin.register(FeedbackImport)
class FeedbackImportAdmin(admin.ModelAdmin):
    list_display = ("file_name", "imported_at", "item_count", "moved_count")

    def get_readonly_fields(self, request, obj=None):
        return readonly_everything(FeedbackImport)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
