"""The portal's home: deadlines in force and what to do before each, counts, orders at risk."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render

from portal import selectors
from portal.access import portal_page

from .common import now


@portal_page
def home(request):
    at = now()
    vendor = request.vendor
    at_risk = selectors.vendor_orders_at_risk(vendor, at=at)
    return render(
        request,
        "web/portal/home.html",
        {
            "at": at,
            "dispositifs": selectors.home_deadlines(vendor, at=at),
            "status_counts": selectors.status_counts(vendor),
            "at_risk": at_risk[:50],
            "at_risk_count": at_risk.count(),
            "at_risk_days": getattr(settings, "ORDERS_AT_RISK_DAYS", 30),
            "pending_vas": selectors.vas_awaiting_signature(vendor).count(),
        },
    )
