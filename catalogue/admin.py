"""Admin of the catalogue: French labels, calendar history, transitions through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin_transitions import Action, TransitionAdminMixin
from core.errors import RuleViolation
from core.journal_display import present, render_history
from core.models import JournalEntry
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
    fields = ("legal_reference", "signed_on", "published_on", "in_force_on", "nor")
    # A publication is recorded by the journaled action of the version's page, never typed here.
    readonly_fields = ("published_on", "in_force_on")
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
            return _("Échéances non publiées : aucune ne s'applique.")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    DeadlineKind(a.kind).label,
                    a.shown,
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
                    _version_status(v),
                    format_html_join(
                        "",
                        "{} : {}<br>",
                        ((d.get_kind_display(), d.shown) for d in v.deadlines.all()),
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


def _version_status(v: CalendarVersion) -> str:
    """How a version applies, in words (signature, publication, application)."""
    if v.is_pending:
        return str(
            _("annoncée (à paraître) : non appliquée tant que sa publication n'est pas enregistrée")
        )
    parts = []
    if v.signed_on:
        parts.append(str(_("signée le %(d)s") % {"d": v.signed_on.strftime("%d/%m/%Y")}))
    if v.published_on:
        parts.append(str(_("publiée le %(d)s") % {"d": v.published_on.strftime("%d/%m/%Y")}))
    elif not v.founding or v.signed_on:
        parts.append(str(_("date de publication inconnue")))
    if v.in_force_on:
        parts.append(
            str(_("appliquée à partir du %(d)s") % {"d": v.in_force_on.strftime("%d/%m/%Y")})
        )
    if not parts:
        return str(_("calendrier initial, date non connue"))
    return " ; ".join(parts)


class DeadlineInline(admin.TabularInline):
    model = Deadline
    form = forms.DeadlineForm
    extra = 0
    fields = ("kind", "day", "hour", "shown")
    readonly_fields = ("shown",)

    @admin.display(description=_("affichée"))
    def shown(self, obj: Deadline):
        return obj.shown if obj.pk else "—"


@admin.register(CalendarVersion)
class CalendarVersionAdmin(admin.ModelAdmin):
    """A version's publication is an act: « Enregistrer la publication » calls
    `services.publish_calendar_version` (journaled); the dates are never typed in the form."""

    list_display = ("dispositif", "legal_reference", "status", "published_on", "in_force_on")
    list_filter = ("dispositif",)
    inlines = [DeadlineInline]
    readonly_fields = ("published_on", "in_force_on", "status", "publication", "journal")
    fields = (
        "dispositif",
        "legal_reference",
        "founding",
        "signed_on",
        "nor",
        "source",
        "status",
        "published_on",
        "in_force_on",
        "publication",
        "journal",
    )

    def get_readonly_fields(self, request, obj=None):
        # Once created, whether a version applies changes only through its publication.
        extra = ("founding",) if obj is not None else ()
        return (*self.readonly_fields, *extra)

    @admin.display(description=_("statut"))
    def status(self, obj: CalendarVersion):
        return _version_status(obj) if obj.pk else "—"

    @admin.display(description=_("publication"))
    def publication(self, obj: CalendarVersion):
        if not obj.pk or not obj.is_pending:
            return "—"
        return format_html(
            '<a class="button" href="{}">{}</a>',
            reverse("admin:catalogue_calendarversion_publish", args=[obj.pk]),
            PUBLISH_LABEL,
        )

    @admin.display(description=_("journal"))
    def journal(self, obj: CalendarVersion):
        if not obj.pk:
            return "—"
        entries = JournalEntry.objects.for_object(obj).select_related("content_type")
        return render_history([present(e) for e in entries.order_by("sequence")])

    def get_urls(self):
        return [
            path(
                "<int:pk>/publier/",
                self.admin_site.admin_view(self.publish_view),
                name="catalogue_calendarversion_publish",
            ),
            *super().get_urls(),
        ]

    def publish_view(self, request, pk: int):
        if not self.has_change_permission(request):
            raise PermissionDenied
        version = self.get_object(request, str(pk))
        if version is None:
            raise Http404
        form = forms.PublishCalendarVersionForm(request.POST if request.method == "POST" else None)
        change_url = reverse("admin:catalogue_calendarversion_change", args=[pk])
        if request.method == "POST" and form.is_valid():
            try:
                services.publish_calendar_version(
                    version=version, actor=request.user, **form.cleaned_data
                )
            except RuleViolation as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                self.message_user(request, f"{PUBLISH_LABEL} : fait.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": version,
            "title": f"{PUBLISH_LABEL} – {version}",
            "form": form,
            "label": PUBLISH_LABEL,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/transition.html", context)


PUBLISH_LABEL = _("Enregistrer la publication")


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
