"""Bulk creation of orders from a CSV or XLSX file: upload, per-line errors, confirmation,
progress of the large files processed by a task."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import RuleViolation
from core.exports import CSV_CONTENT_TYPE, NUMBER, Column, csv_bytes
from portal import forms, selectors
from portal.access import portal_page
from portal.bulk import COLUMNS, COMPLETION_COLUMNS, template_csv
from portal.models import ImportStatus
from portal.services import imports as import_services
from sons.models import OrderStatus

from .common import download, refused


@portal_page
@require_http_methods(["GET", "POST"])
def import_list(request):
    form = forms.UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            bulk = import_services.upload_import(
                vendor=request.vendor,
                user=request.user,
                file_name=upload.name,
                content=upload.read(),
            )
        except RuleViolation as exc:
            refused(request, exc)
        else:
            return redirect("portal:import_detail", pk=bulk.pk)
    return render(
        request,
        "web/portal/imports.html",
        {
            "form": form,
            "columns": COLUMNS,
            "completion_columns": COMPLETION_COLUMNS,
            "imports": selectors.vendor_imports(request.vendor)[:20],
        },
    )


@portal_page
@require_GET
def import_template(request):
    response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="modele-bdc.csv"'
    return response


@never_cache
@portal_page
@require_GET
def import_detail(request, pk: int):
    bulk = selectors.import_of(request.vendor, pk)
    errors = Paginator(bulk.errors, 200).get_page(request.GET.get("page"))
    created = bulk.created_orders
    orders = {
        o.pk: o
        for o in selectors.vendor_orders(request.vendor).filter(
            pk__in=[c["order_id"] for c in created[:500]]
        )
    }
    planned = [
        (
            OrderStatus(k).label
            if k in OrderStatus.values
            else _("achèvements notifiés")
            if k == "completion_notified"
            else _("nouveaux clients"),
            v,
        )
        for k, v in sorted(bulk.planned.items())
    ]
    return render(
        request,
        "web/portal/import_detail.html",
        {
            "bulk": bulk,
            "errors": errors,
            "planned": planned,
            "created": [(c, orders.get(c["order_id"])) for c in created[:500]],
            "upload_form": forms.UploadForm(),
        },
    )


@never_cache
@portal_page
@require_GET
def import_progress(request, pk: int):
    bulk = selectors.import_of(request.vendor, pk)
    return JsonResponse(
        {
            "status": bulk.status,
            "label": bulk.get_status_display(),
            "processed": bulk.processed_rows,
            "total": bulk.total_rows,
            "percent": bulk.percent,
            "finished": not bulk.in_progress,
        }
    )


@portal_page
@require_POST
def import_confirm(request, pk: int):
    bulk = selectors.import_of(request.vendor, pk)
    try:
        bulk = import_services.confirm_import(bulk=bulk, user=request.user)
    except RuleViolation as exc:
        refused(request, exc)
    else:
        if bulk.status == ImportStatus.DONE:
            notified = [c for c in bulk.created_orders if c["status"] == "completion_notified"]
            messages.success(
                request,
                _("%(count)s achèvements notifiés à l'ASP.") % {"count": len(notified)}
                if notified
                else _("%(count)s BDC créés.") % {"count": len(bulk.created_orders)},
            )
    return redirect("portal:import_detail", pk=bulk.pk)


@portal_page
@require_GET
def import_errors(request, pk: int):
    bulk = selectors.import_of(request.vendor, pk)
    columns = [
        Column("ligne", lambda e: e["line"], NUMBER),
        Column("colonne", lambda e: e["column"]),
        Column("règle", lambda e: e["code"]),
        Column("message", lambda e: e["message"]),
    ]
    response = HttpResponse(csv_bytes(columns, bulk.errors), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="erreurs-{bulk.pk}.csv"'
    return response


@portal_page
@require_GET
def import_file(request, pk: int):
    bulk = selectors.import_of(request.vendor, pk)
    return download(bulk.file, bulk.file_name)
