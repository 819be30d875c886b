"""Admin of the lifecycle: every state change is a button that calls its service."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin_files import StoredFilesAdminMixin
from core.admin_transitions import (
    Action,
    ReadOnlyInlineMixin,
    TransitionAdminMixin,
    readonly_everything,
)
from core.errors import RuleViolation
from core.journal_display import render_history
from core.money import format_euros

from . import forms
from .demo_marks import with_demo_mark
from .history import order_history
from .models import (
    Client,
    ClientConflict,
    ClientRelationship,
    CompletionNotice,
    ConflictPosition,
    Deployment,
    MomDeclaration,
    OnPreseries,
    PilotPerimeter,
    PilotSite,
    PurchaseOrder,
    UsageMeasurement,
    VaDecision,
    VerificationAptitude,
)
from .selectors import (
    claim_blockers,
    order_by_reference,
    usage_gate_outcomes,
    usage_gate_sentence,
)
from .services import acceptance, conflicts, deployments, gates, orders
from .services.acceptance import Signer


class ClientRelationshipInline(ReadOnlyInlineMixin, admin.TabularInline):
    """Each vendor's own record of the client: read here, changed only by that vendor."""

    model = ClientRelationship
    fields = ("vendor", "email", "mssante_address", "city", "characteristics", "created_at")


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("legal_name", "kind", "identifier_label", "is_demo")
    list_filter = ("kind", "is_demo")
    search_fields = ("legal_name", "rpps", "finess", "siret", "siren")
    inlines = [ClientRelationshipInline]


class DeploymentInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Deployment
    fields = ("status", "firm_date", "installed_at", "verified_at")
    show_change_link = True


class VaInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = VerificationAptitude
    fields = ("version", "status", "issued_at", "pdf_sha256")
    show_change_link = True


def _sign_order(order, user, data):
    # The signatures command, as the portal's, the API's and the files': not in the future,
    # not before the order's creation, before the end of orders.
    return orders.record_signatures(items=[{"order": order, **data}], actor=user)


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(StoredFilesAdminMixin, TransitionAdminMixin, admin.ModelAdmin):
    download_names = {"pdf": lambda o: f"{o.reference}.pdf"}
    transitions = {
        "sign": Action(_("Signer le BDC"), _sign_order, forms.SignOrderForm),
        "confirm_referencing": Action(
            _("Confirmer (solution référencée)"),
            lambda o, user, data: orders.confirm_conditional_order(order=o, actor=user),
        ),
        "lapse": Action(
            _("Constater la caducité"),
            lambda o, user, data: orders.lapse_order(order=o, actor=user),
        ),
        "cancel": Action(
            _("Annuler le BDC"),
            lambda o, user, data: orders.cancel_order(
                order=o,
                actor=user,
                sworn_statement=data["sworn_statement"],
                client_renunciation=data["client_renunciation"],
            ),
            forms.CancelOrderForm,
        ),
        "declare_default": Action(
            _("Déclarer la défaillance"),
            lambda o, user, data: orders.declare_default(
                order=o, actor=user, reason=data["reason"]
            ),
            forms.ReasonForm,
        ),
        "start_recovery": Action(
            _("Mettre en recouvrement"),
            lambda o, user, data: orders.start_recovery(order=o, actor=user, reason=data["reason"]),
            forms.ReasonForm,
        ),
    }
    list_display = ("reference", "client", "vendor", "dispositif", "status", "amount_ht")
    list_filter = ("status", "dispositif", "vendor")
    search_fields = ("client__legal_name", "client__rpps", "client__finess", "vendor__name")
    list_select_related = ("client", "vendor", "dispositif", "tariff")
    inlines = [DeploymentInline, VaInline]
    creation_fields = (
        "vendor",
        "client",
        "dispositif",
        "solution_version",
        "installation_scenario",
        "vendor_reference",
    )

    @admin.display(description=_("journal : toute la vie du BDC"))
    def journal(self, obj):
        """The order's whole history (deployments, VA, MOM, conflicts, claims…), the one the
        portal and the API show, every person named."""
        return render_history(order_history(obj))

    @admin.display(description=_("montant HT"))
    def amount_ht(self, obj):
        if not obj.amount_ht_cents:
            return "—"
        return with_demo_mark(format_euros(obj.amount_ht_cents), obj)

    @admin.display(description=_("montant TTC"))
    def amount_ttc(self, obj):
        if not obj.amount_ttc_cents:
            return "—"
        return with_demo_mark(format_euros(obj.amount_ttc_cents), obj)

    @admin.display(description=_("conditions d'usage : taux et chiffres mensuels"))
    def usage_gates(self, obj):
        outcomes = usage_gate_outcomes(obj)
        if not outcomes:
            return "—"
        return format_html_join(
            "",
            "<div>• {} – {} : {}</div>",
            (
                (
                    gate.get_prestation_display(),
                    _("atteinte") if outcome.met else _("non atteinte"),
                    usage_gate_sentence(gate, outcome),
                )
                for gate, outcome in outcomes
            ),
        )

    @admin.display(description=_("solde : conditions non remplies aujourd'hui"))
    def solde_now(self, obj):
        unmet = claim_blockers(order=obj, at=timezone.now())
        if not unmet:
            return _("Aucune : le solde peut être demandé.")
        return format_html_join(
            "", "<div>• {} <code>{}</code></div>", ((u.message, u.code) for u in unmet)
        )

    @admin.display(description=_("BDC (PDF)"))
    def pdf_link(self, obj):
        if not obj.pdf:
            # A signed order's PDF is rendered after the response (core/after_response.py).
            if obj.signed_at:
                return _("En cours de préparation, rechargez la page dans quelques secondes.")
            return "—"
        # The staff-only download view (core.admin_files), not the storage's own address.
        # The link alone in its block: inside a line of text, the admin's unstyled link would
        # be told from the text by its colour only (axe: link-in-text-block).
        return format_html(
            "<div>{}</div><div>SHA-256 {}</div>",
            self.file_link(obj, "pdf", obj.reference),
            obj.pdf_sha256,
        )

    detail_fields = (
        "reference",
        "status",
        "actions_available",
        "vendor",
        "client",
        "dispositif",
        "solution_version",
        "referencing",
        "installation_scenario",
        "signed_at",
        "signatory_name",
        "signatory_role",
        "signature_method",
        "amount_ht",
        "amount_ttc",
        "conditional_until",
        "pdf_link",
        "solde_now",
        "usage_gates",
        "sworn_statement",
        "client_renunciation",
        "default_reason",
        "client_notified_at",
        "agency_notified_at",
        "firm_date_flagged_at",
        "journal",
    )

    def create(self, request, obj):
        return orders.create_order(
            vendor=obj.vendor,
            client=obj.client,
            dispositif=obj.dispositif,
            solution_version=obj.solution_version,
            installation_scenario=obj.installation_scenario,
            vendor_reference=obj.vendor_reference,
            actor=request.user,
        )


@admin.register(Deployment)
class DeploymentAdmin(TransitionAdminMixin, admin.ModelAdmin):
    transitions = {
        "start": Action(
            _("Commencer"),
            lambda d, user, data: deployments.start_deployment(deployment=d, actor=user),
        ),
        "install": Action(
            _("Déclarer installé"),
            lambda d, user, data: deployments.install_deployment(deployment=d, actor=user),
        ),
        "verify": Action(
            _("Déclarer vérifié"),
            lambda d, user, data: deployments.verify_deployment(deployment=d, actor=user),
        ),
        "abandon": Action(
            _("Abandonner"),
            lambda d, user, data: deployments.abandon_deployment(
                deployment=d, actor=user, reason=data["reason"]
            ),
            forms.ReasonForm,
        ),
    }
    list_display = ("order", "status", "firm_date", "firm_date_confirmed_at")
    list_filter = ("status",)
    creation_fields = ("order", "firm_date")

    def create(self, request, obj):
        return deployments.schedule_deployment(
            order=obj.order, firm_date=obj.firm_date, actor=request.user
        )


def _paper_signer(data) -> Signer:
    return Signer(
        name=data["signer_name"],
        role=data["signer_role"],
        rpps=data.get("signer_rpps", ""),
        identity_method="VA papier saisie par un administrateur",
    )


def _record_signature(va, user, data):
    confirmed = list(va.statements) if data["all_statements_confirmed"] else []
    return acceptance.sign_va(
        va=va,
        signer=_paper_signer(data),
        confirmed=confirmed,
        document_sha256=va.pdf_sha256,
        non_blocking_reserves=data["reserves"],
    )


def _record_refusal(va, user, data):
    return acceptance.refuse_va(
        va=va,
        signer=_paper_signer(data),
        blocking_reserves=data["reserves"],
        document_sha256=va.pdf_sha256,
    )


class VaDecisionInline(ReadOnlyInlineMixin, admin.StackedInline):
    model = VaDecision


@admin.register(VerificationAptitude)
class VerificationAptitudeAdmin(StoredFilesAdminMixin, TransitionAdminMixin, admin.ModelAdmin):
    # The names the vendor portal gives the same documents.
    download_names = {
        "pdf": lambda va: f"{va.order.reference}-VA-v{va.version}.pdf",
        "signed_pdf": lambda va: f"{va.order.reference}-VA-v{va.version}-{va.status}.pdf",
    }
    transitions = {
        "issue": Action(
            _("Émettre la VA"), lambda va, user, data: acceptance.issue_va(va=va, actor=user)
        ),
        "sign": Action(
            _("Enregistrer la signature"), _record_signature, forms.RecordVaDecisionForm
        ),
        "refuse": Action(_("Enregistrer le refus"), _record_refusal, forms.RecordVaDecisionForm),
    }
    list_display = ("__str__", "status", "issued_at")
    list_filter = ("status",)
    inlines = [VaDecisionInline]
    creation_fields = ("order", "delivered_summary")

    def create(self, request, obj):
        return acceptance.create_va(
            order=obj.order, delivered_summary=obj.delivered_summary, actor=request.user
        )


@admin.register(MomDeclaration)
class MomDeclarationAdmin(admin.ModelAdmin):
    list_display = ("order", "declared_at", "signer_name", "mssante_address")

    def get_readonly_fields(self, request, obj=None):
        return readonly_everything(MomDeclaration)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CompletionNotice)
class CompletionNoticeAdmin(admin.ModelAdmin):
    """Notices of completion: the vendor's act (portal, API, files), read here only."""

    list_display = ("order", "notified_at", "notified_by")
    search_fields = ("order__client__legal_name",)

    def get_readonly_fields(self, request, obj=None):
        return readonly_everything(CompletionNotice)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OnPreseries)
class OnPreseriesAdmin(TransitionAdminMixin, admin.ModelAdmin):
    transitions = {
        "start": Action(
            _("Démarrer la présérie"),
            lambda p, user, data: gates.start_preseries(
                solution_version=p.solution_version, pilots=data["pilots"], actor=user
            ),
            forms.PilotsForm,
        ),
        "submit": Action(
            _("Soumettre"), lambda p, user, data: gates.submit_preseries(preseries=p, actor=user)
        ),
        "validate": Action(
            _("Valider"), lambda p, user, data: gates.validate_preseries(preseries=p, actor=user)
        ),
        "reject": Action(
            _("Rejeter"),
            lambda p, user, data: gates.reject_preseries(
                preseries=p, actor=user, reasons=data["reason"]
            ),
            forms.ReasonForm,
        ),
    }
    list_display = ("solution_version", "status", "submitted_at", "decided_at")
    list_filter = ("status",)
    creation_fields = ("solution_version",)

    def create(self, request, obj):
        return gates.open_preseries(solution_version=obj.solution_version, actor=request.user)


class PilotSiteInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = PilotSite


@admin.register(PilotPerimeter)
class PilotPerimeterAdmin(TransitionAdminMixin, admin.ModelAdmin):
    transitions = {
        "publish": Action(
            _("Publier le succès du pilote"),
            lambda p, user, data: gates.publish_pilot_success(
                referencing=p.referencing, actor=user
            ),
        )
    }
    list_display = ("referencing", "status", "published_at")
    inlines = [PilotSiteInline]


class ConflictPositionInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = ConflictPosition


def _decide_conflict(conflict, user, data):
    """The admin's door to `sons.services.conflicts.decide_conflict`."""
    chosen = order_by_reference(data["chosen_order"])
    if chosen is None:
        raise RuleViolation(
            "chosen_order_unknown",
            _("Aucun BDC ne porte la référence %(reference)s."),
            field="chosen_order",
            reference=data["chosen_order"],
        )
    return conflicts.decide_conflict(
        conflict=conflict, chosen_order=chosen, reason=data["reason"], actor=user
    )


@admin.register(ClientConflict)
class ClientConflictAdmin(TransitionAdminMixin, admin.ModelAdmin):
    transitions = {
        "decide": Action(
            _("Désigner la commande financée"), _decide_conflict, forms.ConflictDecisionForm
        ),
    }
    list_display = ("client", "dispositif", "status", "opened_at", "respond_by")
    list_filter = ("status", "dispositif")
    inlines = [ConflictPositionInline]


@admin.register(UsageMeasurement)
class UsageMeasurementAdmin(admin.ModelAdmin):
    list_display = ("order", "month", "produced", "sent")
    list_filter = ("month",)
    readonly_fields = ("order", "month", "produced", "sent", "recorded_at")

    def has_add_permission(self, request):
        return False
