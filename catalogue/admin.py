"""Admin of the catalogue: French labels, calendar history, transitions through the services."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin_transitions import Action, TransitionAdminMixin
from core.money import format_euros

from . import forms, services
from .deadlines import DeadlineKind
from .models import (
    CalendarVersion,
    Deadline,
    Dispositif,
    DistributionMandate,
    Referencing,
    Solution,
    SolutionVersion,
    Tariff,
    TariffTerm,
    TariffTier,
    UsageGate,
    Vendor,
    VendorMember,
)
from .selectors import calendar_history, calendar_in_force


class UsageGateInline(admin.TabularInline):
    model = UsageGate
    extra = 0


class CalendarVersionInline(admin.TabularInline):
    model = CalendarVersion
    extra = 0
    fields = ("legal_reference", "published_on", "nor")
    show_change_link = True


@admin.register(Dispositif)
class DispositifAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "couloir", "vague", "advance_rate", "missing")
    list_filter = ("vague", "couloir")
    search_fields = ("code", "title", "software_type", "nor")
    inlines = [CalendarVersionInline, UsageGateInline]
    readonly_fields = ("calendar_now", "history", "missing")
    fieldsets = (
        (None, {"fields": ("code", "title", "couloir", "software_type", "vague")}),
        (_("Références juridiques"), {"fields": ("arrete", "jorf_date", "nor", "sources")}),
        (
            _("Règles"),
            {
                "fields": (
                    "advance_rate",
                    "acceptance",
                    "cutoff_time",
                    ("conditional_window_amount", "conditional_window_unit"),
                    "pilot_size",
                    "requires_on_preseries",
                )
            },
        ),
        (_("Calendrier"), {"fields": ("calendar_now", "history", "missing")}),
    )

    @admin.display(description=_("données manquantes"))
    def missing(self, obj: Dispositif):
        items = obj.missing_data()
        if not items:
            return "—"
        return format_html(
            '<span style="color:#b34000">⚠ {}</span>', " ; ".join(str(i) for i in items)
        )

    @admin.display(description=_("calendrier en vigueur aujourd'hui"))
    def calendar_now(self, obj: Dispositif):
        applied = calendar_in_force(dispositif=obj, at=timezone.now())
        if not applied:
            return _("Aucune échéance publiée.")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    DeadlineKind(a.kind).label,
                    timezone.localtime(a.at).strftime("%d/%m/%Y %H:%M"),
                    a.version.legal_reference,
                )
                for a in applied.values()
            ),
        )
        return format_html(
            "<table><thead><tr><th>Échéance</th><th>Date et heure (Paris)</th>"
            "<th>Version appliquée</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description=_("historique des versions"))
    def history(self, obj: Dispositif):
        versions = list(calendar_history(dispositif=obj))
        if not versions:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    v.legal_reference,
                    v.published_on.strftime("%d/%m/%Y")
                    if v.published_on
                    else (
                        _("calendrier initial, date non connue")
                        if v.founding
                        else _("date de publication non connue : non appliquée")
                    ),
                    format_html_join(
                        "",
                        "{} : {}<br>",
                        (
                            (
                                d.get_kind_display(),
                                timezone.localtime(d.at).strftime("%d/%m/%Y %H:%M"),
                            )
                            for d in v.deadlines.all()
                        ),
                    ),
                )
                for v in versions
            ),
        )
        return format_html(
            "<table><thead><tr><th>Référence juridique</th><th>Publiée le</th>"
            "<th>Échéances fixées ou déplacées</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )


class DeadlineInline(admin.TabularInline):
    model = Deadline
    extra = 0


@admin.register(CalendarVersion)
class CalendarVersionAdmin(admin.ModelAdmin):
    list_display = ("dispositif", "legal_reference", "published_on")
    list_filter = ("dispositif",)
    inlines = [DeadlineInline]


class TariffTierInline(admin.TabularInline):
    model = TariffTier
    extra = 0


class TariffTermInline(admin.TabularInline):
    model = TariffTerm
    extra = 0


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ("dispositif", "prestation", "kind", "flat", "cap", "is_demo")
    list_filter = ("kind", "is_demo", "prestation")
    inlines = [TariffTierInline, TariffTermInline]

    @admin.display(description=_("forfait HT"))
    def flat(self, obj: Tariff):
        return format_euros(obj.flat_cents) if obj.flat_cents is not None else "—"

    @admin.display(description=_("plafond HT"))
    def cap(self, obj: Tariff):
        return format_euros(obj.cap_cents) if obj.cap_cents is not None else "—"


class VendorMemberInline(admin.TabularInline):
    model = VendorMember
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    inlines = (VendorMemberInline,)
    list_display = ("name", "kind", "siret", "siren", "cnda_nie", "is_demo")
    readonly_fields = ("siren",)
    list_filter = ("kind", "is_demo")
    search_fields = ("name", "siret", "cnda_nie")

    @admin.display(description="SIREN")
    def siren(self, obj):
        # The add page shows it for a vendor with no SIRET yet (the property would refuse it).
        return obj.siren if obj.siret else "—"


@admin.register(DistributionMandate)
class DistributionMandateAdmin(admin.ModelAdmin):
    list_display = ("distributor", "editor", "reference", "valid_from", "valid_until")


class SolutionVersionInline(admin.TabularInline):
    model = SolutionVersion
    extra = 0


@admin.register(Solution)
class SolutionAdmin(admin.ModelAdmin):
    list_display = ("name", "editor", "software_type")
    search_fields = ("name", "editor__name")
    inlines = [SolutionVersionInline]


@admin.register(Referencing)
class ReferencingAdmin(TransitionAdminMixin, admin.ModelAdmin):
    """The state is never edited by hand: each transition is a button that calls its service."""

    transitions = {
        "submit": Action(
            _("Déposer le dossier"),
            lambda r, user, data: services.submit_referencing(referencing=r, actor=user),
        ),
        "start_review": Action(
            _("Mettre en instruction"),
            lambda r, user, data: services.start_review(referencing=r, actor=user),
        ),
        "reference": Action(
            _("Référencer"),
            lambda r, user, data: services.reference_solution(
                referencing=r,
                actor=user,
                ans_number=data["ans_number"],
                referenced_on=data["referenced_on"],
            ),
            forms.ReferenceForm,
        ),
        "reject": Action(
            _("Refuser"),
            lambda r, user, data: services.reject_referencing(
                referencing=r, actor=user, reasons=data["reasons"]
            ),
            forms.RejectForm,
        ),
        "withdraw": Action(
            _("Retirer le référencement"),
            lambda r, user, data: services.withdraw_referencing(
                referencing=r, actor=user, reason=data["reason"]
            ),
            forms.WithdrawForm,
        ),
    }
    list_display = ("__str__", "vendor", "status", "ans_number", "referenced_on")
    list_filter = ("status", "dispositif__vague", "dispositif")
    search_fields = ("solution_version__solution__name", "ans_number", "vendor__name")
    creation_fields = ("solution_version", "dispositif", "vendor")
    detail_fields = (
        *creation_fields,
        "status",
        "submitted_at",
        "decided_at",
        "ans_number",
        "referenced_on",
        "rejection_reasons",
        "withdrawal_reason",
        "withdrawn_at",
        "actions_available",
        "journal",
    )

    def create(self, request, obj):
        return services.create_referencing(
            solution_version=obj.solution_version,
            dispositif=obj.dispositif,
            vendor=obj.vendor,
            actor=request.user,
        )
