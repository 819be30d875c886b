"""Who may open a portal page: a signed-in vendor member, second factor verified when they have
one, enrolled first when they are a vendor administrator.

The vendor a page works for always comes from `catalogue.access.vendor_of`; every queryset of a
page is scoped with it, so another vendor's object is simply not found (404).
"""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY, user_has_device
from django_otp.models import Device

from catalogue.access import membership_of, vendor_of
from core.client_address import client_address

# The password was right, the second factor (or its enrolment) is still to come: nobody is
# signed in meanwhile, the session only remembers who is on the way.
PENDING_USER_KEY = "portal_pending_user"


def client_ip(request: HttpRequest) -> str | None:
    """The address of the client, read through the trusted proxies (core.client_address)."""
    return client_address(request)


def has_second_factor(user) -> bool:
    return user_has_device(user, confirmed=True)


def second_factor_verified(request: HttpRequest) -> bool:
    """The session holds the confirmed device of this very user that checked a code."""
    persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
    if not persistent_id:
        return False
    device = Device.from_persistent_id(persistent_id)
    return bool(device and device.confirmed and device.user_id == request.user.pk)


def login_url(request: HttpRequest) -> str:
    return f"{reverse('portal:login')}?{urlencode({'next': request.get_full_path()})}"


def portal_page(view=None, *, admin_only: bool = False):
    """Decorates a portal view: `request.vendor` and `request.member` are set for it."""

    def decorate(func):
        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect(login_url(request))
            member = membership_of(user)
            if member is None:
                raise PermissionDenied("Ce compte ne travaille pour aucun fournisseur.")
            if has_second_factor(user):
                if not second_factor_verified(request):
                    logout(request)
                    return redirect(login_url(request))
            elif member.is_vendor_admin:
                # An administrator enrols a second factor before anything else.
                logout(request)
                return redirect(login_url(request))
            if admin_only and not member.is_vendor_admin:
                raise PermissionDenied("Réservé aux administrateurs du fournisseur.")
            request.vendor = vendor_of(user)
            request.member = member
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
