"""Who calls: a bearer token, its owner and the vendor it acts for; per-token rate limits."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions, permissions, throttling

from catalogue.access import is_programme_admin, vendor_of

from .models import ApiToken
from .tokens import find_token

LAST_USED_PRECISION = dt.timedelta(minutes=1)


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer sons_…``: the token must be known, unrevoked and unexpired."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _sep, raw = header.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise exceptions.AuthenticationFailed(
                _("En-tête Authorization attendu : « Bearer <jeton> »."), code="token_invalid"
            )
        token = find_token(raw.strip())
        now = timezone.now()
        if token is None:
            raise exceptions.AuthenticationFailed(_("Jeton inconnu."), code="token_invalid")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                _("Ce jeton a été révoqué."), code="token_revoked"
            )
        if now >= token.expires_at:
            raise exceptions.AuthenticationFailed(_("Ce jeton a expiré."), code="token_expired")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(
                _("Le compte de ce jeton est désactivé."), code="token_invalid"
            )
        if token.last_used_at is None or token.last_used_at < now - LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        request.api_token = token
        return (token.user, token)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def acting_vendor(request):
    """The vendor the caller acts for (checked once per request by the permission)."""
    return request.api_vendor


class IsVendorMember(permissions.BasePermission):
    """A vendor's member, with a token issued for that same vendor."""

    message = _("Cette opération est réservée aux membres d'un fournisseur.")

    def has_permission(self, request, view) -> bool:
        token = getattr(request, "api_token", None)
        if token is None:
            return False
        # The owner's vendor came with the token (`find_token`): the vendor it works for now,
        # which must be the one the token was issued for (as `vendor_of`, without a query).
        member_vendor_id = getattr(token, "member_vendor_id", None)
        if member_vendor_id is None and not hasattr(token, "member_vendor_id"):
            try:
                member_vendor_id = vendor_of(request.user).pk
            except DjangoPermissionDenied:
                return False
        if member_vendor_id is None or not request.user.is_active:
            return False
        if token.vendor_id is None or token.vendor_id != member_vendor_id:
            return False
        request.api_vendor = token.vendor
        return True


class IsProgrammeAdmin(permissions.BasePermission):
    """Administrators of the programme (Django staff), with a token of their own."""

    message = _("Cette opération est réservée aux administrateurs du programme.")

    def has_permission(self, request, view) -> bool:
        token = getattr(request, "api_token", None)
        return token is not None and token.vendor_id is None and is_programme_admin(request.user)


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """Requests per token, counted in the cache ``API_THROTTLE_CACHE`` (a shared cache such as
    Redis in production, so that every web process counts together)."""

    scope = "token"
    setting = "API_RATE_LIMIT"
    default = "1200/min"

    def __init__(self):
        self.cache = caches[getattr(settings, "API_THROTTLE_CACHE", "default")]
        super().__init__()

    def get_rate(self):
        return getattr(settings, self.setting, self.default)

    def get_cache_key(self, request, view):
        token = getattr(request, "api_token", None)
        if token is None:
            return None
        return f"api-throttle:{self.scope}:{token.prefix}"


class BulkRateThrottle(TokenRateThrottle):
    scope = "bulk"
    setting = "API_BULK_RATE_LIMIT"
    default = "30/min"
