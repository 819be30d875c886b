"""VA: the ones to issue, the clients who have not signed yet (and re-sending their link), the
documents. Issuing goes through sons.services.acceptance; the link is the signing app's."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.errors import RuleViolation
from portal import selectors
from portal.access import portal_page
from signing.services import send_va_link
from sons.models import VaStatus
from sons.services import acceptance

from .common import download, now, refused


def issue_and_send(request, va) -> str:
    """Issues the VA: after commit its PDF is rendered and the client is mailed its personal
    signing link (sons.services.acceptance.issue_va does both)."""
    acceptance.issue_va(va=va, actor=request.user, at=now())
    return _("VA émise : le client reçoit par courriel son lien de signature.")


def resend_link(request, va) -> str | None:
    send_va_link(va=va, actor=request.user)
    return _("Lien de signature renvoyé au client (%(email)s).") % {
        "email": va.contact_email or va.mssante_address
    }


@portal_page
@require_GET
def va_list(request):
    vendor = request.vendor
    at = now()
    waiting = Paginator(selectors.vas_awaiting_signature(vendor), 50).get_page(
        request.GET.get("attente")
    )
    for va in waiting:
        va.waiting_days = (at - va.issued_at).days if va.issued_at else None
    return render(
        request,
        "web/portal/vas.html",
        {
            "waiting": waiting,
            "to_issue": selectors.orders_needing_va(vendor)[:100],
            "to_issue_count": selectors.orders_needing_va(vendor).count(),
            "recent": selectors.vendor_vas(vendor)
            .filter(status__in=[VaStatus.SIGNED, VaStatus.REFUSED])
            .select_related("decision")
            .order_by("-decision__decided_at")[:20],
        },
    )


@portal_page
@require_POST
def va_resend(request, pk: int):
    va = selectors.va_of(request.vendor, pk)
    try:
        message = resend_link(request, va)
    except RuleViolation as exc:
        refused(request, exc)
    else:
        if message:
            messages.success(request, message)
    if request.POST.get("back") == "order":
        return redirect("portal:order_detail", pk=va.order_id)
    return redirect("portal:vas")


@portal_page
@require_GET
def va_pdf(request, pk: int):
    va = selectors.va_of(request.vendor, pk)
    return download(va.pdf, f"{va.order.reference}-VA-v{va.version}.pdf")


@portal_page
@require_GET
def va_signed_pdf(request, pk: int):
    va = selectors.va_of(request.vendor, pk)
    return download(va.signed_pdf, f"{va.order.reference}-VA-v{va.version}-{va.status}.pdf")
