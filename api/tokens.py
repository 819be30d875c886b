"""API tokens: issued to a vendor's users (portal, admin) or to administrators, stored hashed.

A token reads « sons_<prefix>_<secret> »; only its SHA-256 is kept, so it is shown once, at
issue. The prefix names it in lists and logs without revealing it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalogue.access import is_programme_admin, membership_of
from catalogue.models import VendorMember
from core.errors import RuleViolation

from .models import ApiToken

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "sons_"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def default_days() -> int:
    return getattr(settings, "API_TOKEN_DEFAULT_DAYS", 90)


def max_days() -> int:
    return getattr(settings, "API_TOKEN_MAX_DAYS", 365)


@dataclass(frozen=True)
class IssuedToken:
    """The token row and its secret, which is never stored nor shown again."""

    token: ApiToken
    secret: str


def check_issue(*, user: AbstractBaseUser, name: str, days: int):
    """The rules of a new token (name, lifetime, owner); returns the owner's membership."""
    if not name.strip():
        raise RuleViolation(
            "token_name_required",
            _("Donnez un nom au jeton (l'outil qui l'utilise)."),
            field="name",
        )
    if not 1 <= days <= max_days():
        raise RuleViolation(
            "token_lifetime_invalid",
            _("La durée de validité d'un jeton va de 1 à %(max)s jours."),
            field="days",
            max=max_days(),
        )
    membership = membership_of(user)
    if (membership is None and not is_programme_admin(user)) or (
        membership is not None and user.is_staff
    ):
        raise RuleViolation(
            "token_owner_invalid",
            _("Un jeton est délivré au membre d'un fournisseur ou à un administrateur."),
            field="user",
        )
    if not user.is_active:
        raise RuleViolation("token_owner_invalid", _("Ce compte est désactivé."), field="user")
    return membership


def issue_token(
    *,
    user: AbstractBaseUser,
    name: str,
    days: int | None = None,
    issued_by: AbstractBaseUser | None = None,
    at: dt.datetime | None = None,
) -> IssuedToken:
    """A new token for `user`, acting for the vendor it works for (or as an administrator)."""
    at = at or timezone.now()
    days = default_days() if days is None else days
    membership = check_issue(user=user, name=name, days=days)
    prefix = secrets.token_hex(4)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            vendor=membership.vendor if membership else None,
            name=name.strip()[:100],
            prefix=prefix,
            key_hash=hash_token(raw),
            created_at=at,
            created_by=issued_by or user,
            expires_at=at + dt.timedelta(days=days),
        )
    logger.info(
        "api_token_issued token_id=%s user_id=%s vendor_id=%s",
        token.pk,
        user.pk,
        token.vendor_id,
    )
    return IssuedToken(token=token, secret=raw)


def revoke_token(
    *, token: ApiToken, by: AbstractBaseUser, at: dt.datetime | None = None
) -> ApiToken:
    """Revokes the token at once; revoking twice changes nothing."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update(no_key=True).get(pk=token.pk)
        if locked.revoked_at is None:
            locked.revoked_at = at
            locked.revoked_by = by
            locked.save(update_fields=["revoked_at", "revoked_by"])
            logger.info("api_token_revoked token_id=%s by_user_id=%s", locked.pk, by.pk)
    return locked


def find_token(raw: str) -> ApiToken | None:
    """The token whose secret is `raw` (revoked or expired ones included), or None."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    # The owner's membership in the same query (the permission checks it on every call).
    member_vendor = VendorMember.objects.filter(user=OuterRef("user_id")).values("vendor_id")[:1]
    return (
        ApiToken.objects.select_related("user", "vendor")
        .annotate(member_vendor_id=Subquery(member_vendor))
        .filter(key_hash=hash_token(raw))
        .first()
    )


def tokens_visible_to(user: AbstractBaseUser):
    """The tokens a vendor member may see on the token page: its own, or all of its vendor's
    for a vendor administrator."""
    membership = membership_of(user)
    if membership is None:
        return ApiToken.objects.none()
    if membership.is_vendor_admin:
        return ApiToken.objects.filter(vendor=membership.vendor).select_related("user")
    return ApiToken.objects.filter(user=user, vendor=membership.vendor).select_related("user")
