"""Who may see what: the one place that says which vendor a signed-in person acts for.

Every vendor page, export and API endpoint scopes its querysets with `vendor_of(user)`; an
object of another vendor is then simply not found (404), never shown nor refused by name.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

from .models import Vendor, VendorMember


def membership_of(user: AbstractBaseUser | AnonymousUser) -> VendorMember | None:
    if not user.is_authenticated:
        return None
    try:
        return VendorMember.objects.select_related("vendor").get(user=user)
    except VendorMember.DoesNotExist:
        return None


def vendor_of(user: AbstractBaseUser | AnonymousUser) -> Vendor:
    """The vendor `user` works for; PermissionDenied for anyone who works for none."""
    membership = membership_of(user)
    if membership is None or not user.is_active:
        raise PermissionDenied("Cet utilisateur ne travaille pour aucun fournisseur.")
    return membership.vendor


def is_programme_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Administrators of the programme (ANS/ASP staff): Django staff, never vendor members."""
    return bool(user.is_authenticated and user.is_active and user.is_staff)
