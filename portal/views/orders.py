"""Orders: the list (filters, search, export), one order's page (its journal, documents and the
actions allowed now), and the actions themselves, each through its service."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.commands import ItemsRefused
from core.errors import RuleViolation
from core.exports import INSTANT, MONEY, Column, csv_response
from payments.models import ClaimKind, FiledCompletion
from payments.services import claims as claim_services
from portal import forms, selectors
from portal.access import portal_page
from portal.actions import order_actions, portal_signer
from signing.services import send_order_link
from sons.models import (
    CompletionNotice,
    Decision,
    MomDeclaration,
    VaStatus,
)
from sons.selectors import usage_gate_report
from sons.services import acceptance, completion, conflicts, deployments
from sons.services import orders as order_services

from .common import download, now, refused
from .vas import issue_and_send, resend_link

PAGE_SIZE = 50


def _filtered(request):
    form = forms.OrderFilterForm(
        request.GET or None, dispositifs=selectors.vendor_dispositifs(request.vendor)
    )
    orders = selectors.search_orders(selectors.vendor_orders(request.vendor), **form.filters())
    return form, orders.order_by("-pk")


@portal_page
@require_GET
def order_list(request):
    form, orders = _filtered(request)
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/portal/orders.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


EXPORT_COLUMNS = [
    Column("BDC", lambda o: o.reference),
    Column("Votre référence", lambda o: o.vendor_reference),
    Column("Client", lambda o: o.client.legal_name),
    Column("Identifiant du client", lambda o: o.client.identifier_label),
    Column("Dispositif", lambda o: o.dispositif.code),
    Column("Solution", lambda o: o.solution_version.solution.name),
    Column("Version", lambda o: o.solution_version.version),
    Column("État", lambda o: o.get_status_display()),
    Column("Créé le", lambda o: o.created_at, INSTANT),
    Column("Signé le", lambda o: o.signed_at, INSTANT),
    Column("Montant HT", lambda o: o.amount_ht_cents or None, MONEY),
    Column("Montant TTC", lambda o: o.amount_ttc_cents or None, MONEY),
]


@portal_page
@require_GET
def order_export(request):
    """The filtered list as CSV (core.exports: « ; », decimal comma, UTF-8), streamed: as long
    as the vendor's orders are."""
    _form, orders = _filtered(request)
    return csv_response("bdc", EXPORT_COLUMNS, orders.iterator(chunk_size=2000))


ACTION_FORMS = {
    "sign": forms.SignOrderForm,
    "schedule": forms.FirmDateForm,
    "issue_va": forms.IssueVaForm,
    "mom": forms.MomForm,
    "notify_completion": forms.CompletionForm,
    "cancel": forms.SwornStatementForm,
    "declare_default": forms.ReasonForm,
    "conflict_keep": forms.ConflictNoteForm,
    "conflict_withdraw": forms.ConflictNoteForm,
}


def _journal_rows(order, vendor):
    """The order's history as the vendor reads it (the one the API and the admin show)."""
    return selectors.order_journal(order, vendor)


def _documents(order):
    # A document rendered after the response (core/after_response.py) may not be there yet.
    docs = []
    if order.pdf:
        docs.append(
            {
                "label": _("Bon de commande %(ref)s") % {"ref": order.reference},
                "url": ("portal:order_pdf", order.pk),
                "sha256": order.pdf_sha256,
            }
        )
    elif order.signed_at:
        docs.append({"label": _("Bon de commande %(ref)s") % {"ref": order.reference}})
    for va in order.vas.all():
        if not va.pdf and va.status != VaStatus.DRAFT:
            docs.append({"label": _("VA version %(v)s (émise)") % {"v": va.version}})
        if not va.signed_pdf and va.status in (VaStatus.SIGNED, VaStatus.REFUSED):
            docs.append(
                {
                    "label": _("VA version %(v)s (%(state)s)")
                    % {"v": va.version, "state": va.get_status_display().lower()}
                }
            )
        if va.pdf:
            docs.append(
                {
                    "label": _("VA version %(v)s (émise)") % {"v": va.version},
                    "url": ("portal:va_pdf", va.pk),
                    "sha256": va.pdf_sha256,
                }
            )
        if va.signed_pdf:
            docs.append(
                {
                    "label": _("VA version %(v)s (%(state)s)")
                    % {"v": va.version, "state": va.get_status_display().lower()},
                    "url": ("portal:va_signed_pdf", va.pk),
                    "sha256": va.signed_pdf_sha256,
                }
            )
    for claim in order.claims.all():
        if claim.invoice_pdf:
            docs.append(
                {
                    "label": _("Facture %(n)s") % {"n": claim.invoice_number},
                    "url": ("portal:claim_invoice", claim.pk),
                    "sha256": claim.invoice_sha256,
                }
            )
    return docs


def _detail(request, order, *, bound=None, status=200):
    at = now()
    actions = order_actions(order, user=request.user, at=at)
    action_forms = {}
    for action in actions:
        form_class = ACTION_FORMS.get(action.key)
        if form_class is None:
            continue
        if bound is not None and bound[0] == action.key:
            action_forms[action.key] = bound[1]
        else:
            action_forms[action.key] = form_class(prefix=action.key)
    for action in actions:
        action.form = action_forms.get(action.key)
    return render(
        request,
        "web/portal/order_detail.html",
        {
            "order": order,
            "actions": actions,
            "journal": _journal_rows(order, request.vendor),
            "documents": _documents(order),
            "vas": order.vas.select_related("decision").order_by("version"),
            "mom": MomDeclaration.objects.filter(order=order).first(),
            "completion": CompletionNotice.objects.filter(order=order).first(),
            "completion_line": FiledCompletion.objects.filter(notice__order=order)
            .select_related("filing")
            .order_by("-pk")
            .first(),
            "deployments": order.deployments.order_by("pk"),
            "claims": order.claims.order_by("pk"),
            "conflicts": order.positions.select_related("conflict"),
            "usage_gates": usage_gate_report(order),
        },
        status=status,
    )


# The command's fields the new-BDC form shows (`vendor`: the mandate to distribute the solution).
ORDER_FIELDS = {"vendor": "solution_version"}


def _order_form(request, data=None):
    vendor = request.vendor
    initial = {}
    if request.GET.get("client", "").isdigit():
        initial["client"] = int(request.GET["client"])
    return forms.OrderForm(
        data,
        initial=initial,
        clients=selectors.vendor_clients(vendor),
        dispositifs=selectors.orderable_dispositifs(),
        versions=selectors.distributable_versions(vendor),
    )


@portal_page
@require_http_methods(["GET", "POST"])
def order_create(request):
    """One draft BDC, through the orders command the files and the API call (`save_orders`)."""
    form = _order_form(request, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            results = order_services.save_orders(
                vendor=request.vendor, items=[form.item()], actor=request.user, at=now()
            )
        except ItemsRefused as exc:
            forms.add_refusal(form, exc, ORDER_FIELDS)
        else:
            order = selectors.order_of(request.vendor, results[0]["id"])
            messages.success(
                request,
                _("%(ref)s créé en brouillon : faites-le signer par le client.")
                % {"ref": order.reference},
            )
            return redirect("portal:order_detail", pk=order.pk)
    status = 400 if form.is_bound else 200
    return render(request, "web/portal/order_form.html", {"form": form}, status=status)


@portal_page
@require_http_methods(["GET", "POST"])
def order_update(request, pk: int):
    """Corrects a BDC (`save_orders` on its id): the vendor's reference any time, the
    installation scenario while it is a draft (the command's rule)."""
    order = selectors.order_of(request.vendor, pk)
    initial = {
        "installation_scenario": order.installation_scenario,
        "vendor_reference": order.vendor_reference,
    }
    form = forms.OrderCorrectionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {k: v for k, v in form.item().items() if v != initial[k]}
        try:
            if changes:
                order_services.save_orders(
                    vendor=request.vendor,
                    items=[{"id": order.pk, **changes}],
                    actor=request.user,
                    at=now(),
                )
        except ItemsRefused as exc:
            forms.add_refusal(form, exc)
        else:
            messages.success(request, _("%(ref)s corrigé.") % {"ref": order.reference})
            return redirect("portal:order_detail", pk=order.pk)
    status = 400 if form.is_bound else 200
    return render(
        request, "web/portal/order_form.html", {"form": form, "order": order}, status=status
    )


@portal_page
@require_GET
def order_detail(request, pk: int):
    return _detail(request, selectors.order_of(request.vendor, pk))


@portal_page
@require_GET
def order_pdf(request, pk: int):
    order = selectors.order_of(request.vendor, pk)
    return download(order.pdf, f"{order.reference}.pdf")


@portal_page
@require_POST
def order_action(request, pk: int, action: str):
    """One action of the order's page; the service decides, its refusal is shown as is."""
    order = selectors.order_of(request.vendor, pk)
    user = request.user
    form_class = ACTION_FORMS.get(action)
    form = form_class(request.POST, prefix=action) if form_class else None
    if form is not None and not form.is_valid():
        return _detail(request, order, bound=(action, form), status=400)
    data = form.cleaned_data if form is not None else {}
    try:
        message = _run(request, order, action, data, user)
    except ItemsRefused as exc:
        # A command refused the form's item: its rules said under the fields, the form kept.
        if form is None:
            refused(request, exc)
            return redirect("portal:order_detail", pk=order.pk)
        forms.add_refusal(form, exc)
        for message in form.non_field_errors():
            # A rule about the order itself, not a field: said at the top of the page.
            messages.error(request, message)
        return _detail(request, order, bound=(action, form), status=400)
    except RuleViolation as exc:
        refused(request, exc)
    else:
        if message is None:
            return redirect("portal:order_detail", pk=order.pk)
        if isinstance(message, str):
            messages.success(request, message)
        else:
            return message
    return redirect("portal:order_detail", pk=order.pk)


def _live_deployment(order):
    deployment = order.deployments.live().first()
    if deployment is None:
        raise RuleViolation("no_deployment", _("Ce BDC n'a pas de déploiement en cours."))
    return deployment


def _run(request, order, action: str, data: dict, user):
    at = now()
    if action == "sign":
        # The signatures command, as the API's and the files': not in the future, not before
        # the order's creation, before the end of orders.
        order_services.record_signatures(items=[{"order": order, **data}], actor=user, at=at)
        order.refresh_from_db(fields=["status"])
        return _("BDC enregistré : %(state)s.") % {"state": order.get_status_display().lower()}
    if action == "send_order_link":
        send_order_link(order=order, actor=user)
        return _("Le BDC a été envoyé au client pour signature en ligne.")
    if action == "schedule":
        deployments.schedule_deployment(order=order, firm_date=data["firm_date"], actor=user, at=at)
        return _("Date ferme confirmée.")
    steps = {
        "deployment_start": deployments.start_deployment,
        "deployment_install": deployments.install_deployment,
        "deployment_verify": deployments.verify_deployment,
    }
    if action in steps:
        steps[action](deployment=_live_deployment(order), actor=user, at=at)
        return _("Déploiement mis à jour.")
    if action == "issue_va":
        acceptance.issue_new_va(
            order=order, delivered_summary=data["delivered_summary"], actor=user, at=at
        )
        return _("VA émise : le client reçoit par courriel son lien de signature.")
    if action == "issue_draft_va":
        va = order.vas.filter(status=VaStatus.DRAFT).first()
        if va is None:
            raise RuleViolation("no_draft_va", _("Aucune VA préparée sur ce BDC."))
        return issue_and_send(request, va)
    if action == "resend_va":
        va = order.vas.filter(status=VaStatus.ISSUED).first()
        if va is None:
            raise RuleViolation("no_issued_va", _("Aucune VA n'attend la signature du client."))
        return resend_link(request, va)
    if action == "mom":
        acceptance.declare_mom(
            order=order,
            signer=portal_signer(user),
            statement=data["statement"],
            actor=user,
            at=at,
        )
        return _("Mise en ordre de marche déclarée.")
    if action == "notify_completion":
        # The command on one order, as the API's and the bulk files' (sons.acts guards).
        completion.notify_completions(
            vendor=order.vendor,
            items=[{"order": order, "statement": data.get("statement", "")}],
            actor=user,
            at=at,
        )
        return _("Achèvement de la prestation notifié : il partira dans le prochain dépôt ASP.")
    if action == "claim_avance":
        claim_services.prepare_claim(order=order, kind=ClaimKind.AVANCE, actor=user, at=at)
        return _("Demande d'avance prête : elle partira dans le prochain dépôt.")
    if action in ("claim_solde", "claim_secondaire"):
        kind = ClaimKind.SOLDE if action == "claim_solde" else ClaimKind.SECONDAIRE
        claim = claim_services.prepare_claim(order=order, kind=kind, actor=user, at=at)
        messages.success(request, _("Demande ouverte : joignez la facture."))
        return redirect("portal:claim_detail", pk=claim.pk)
    if action in ("conflict_keep", "conflict_withdraw"):
        conflicts.respond_to_conflict(
            order=order,
            decision=Decision.KEEP if action == "conflict_keep" else Decision.WITHDRAW,
            actor=user,
            note=data.get("note", ""),
            at=at,
        )
        return _("Réponse au conflit enregistrée.")
    if action == "cancel":
        order_services.cancel_order(
            order=order,
            actor=user,
            sworn_statement=data["sworn_statement"],
            client_renunciation=data.get("client_renunciation", ""),
            at=at,
        )
        return _("BDC annulé.")
    if action == "declare_default":
        order_services.declare_default(order=order, actor=user, reason=data["reason"], at=at)
        return _("Défaillance déclarée : le client et l'ASP sont prévenus.")
    raise RuleViolation("action_unknown", _("Action inconnue."))
