"""One client at a time: the vendor's clients, registering one, correcting its record (MSSanté
address, the signatory's address). Every write is `sons.services.clients.save_clients`, the
command the bulk files and the API call."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core.commands import ItemsRefused
from portal import forms, selectors
from portal.access import portal_page
from sons.services.clients import save_clients

from .common import now

TEMPLATE = "web/portal/client_form.html"


def _next(request) -> str | None:
    """Where to go back once saved (the BDC whose action needed the address), on this site."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@portal_page
@require_GET
def client_list(request):
    records = selectors.vendor_clients(request.vendor)
    q = request.GET.get("q", "").strip()
    if q:
        records = records.filter(client__legal_name__icontains=q)
    page = Paginator(records, 50).get_page(request.GET.get("page"))
    return render(request, "web/portal/clients.html", {"page": page, "q": q})


def _save(request, form, item, *, template, context):
    try:
        results = save_clients(vendor=request.vendor, items=[item], actor=request.user, at=now())
    except ItemsRefused as exc:
        forms.add_refusal(form, exc)
        return render(request, template, {**context, "form": form}, status=400), None
    return None, results[0]


@portal_page
@require_http_methods(["GET", "POST"])
def client_create(request):
    form = forms.ClientForm(request.POST or None)
    context = {"next": _next(request)}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, TEMPLATE, {**context, "form": form}, status=400)
        page, result = _save(request, form, form.item(), template=TEMPLATE, context=context)
        if page is not None:
            return page
        messages.success(
            request,
            _("Client enregistré : %(name)s.") % {"name": form.cleaned_data["legal_name"]}
            if result["created"]
            else _("Ce client était déjà connu sous cet identifiant : votre fiche est complétée."),
        )
        return redirect(context["next"] or "portal:clients")
    return render(request, TEMPLATE, {**context, "form": form})


@portal_page
@require_http_methods(["GET", "POST"])
def client_update(request, pk: int):
    record = selectors.client_record_of(request.vendor, pk)
    initial = {name: getattr(record, name) for name in forms.CONTACT_LABELS}
    form = forms.ClientContactForm(request.POST or None, initial=initial)
    context = {"record": record, "client": record.client, "next": _next(request)}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, TEMPLATE, {**context, "form": form}, status=400)
        page, _result = _save(
            request,
            form,
            {"id": record.client_id, **form.item()},
            template=TEMPLATE,
            context=context,
        )
        if page is not None:
            return page
        messages.success(
            request, _("Fiche de %(name)s enregistrée.") % {"name": record.client.legal_name}
        )
        return redirect(context["next"] or "portal:clients")
    return render(request, TEMPLATE, {**context, "form": form})
