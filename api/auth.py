"""Who calls: a bearer token, its owner and the vendor it acts for; per-token rate limits."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import weakref

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
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


class TokenRateThrottle(throttling.BaseThrottle):
    """Requests per token over a sliding period (« 1200/min »), counted in the cache
    ``API_THROTTLE_CACHE`` (a shared cache such as Redis in production, so that every web
    process counts together).

    Two counters per token, this period's and the previous one's (a sliding-window counter):
    the requests of the last period are this period's count plus the previous period's,
    weighted by the share of it still inside the window. Each request is one atomic increment,
    sent with the previous count's read in one round trip to Redis (INCR, EXPIRE, GET in a
    pipeline), instead of a list of instants read and written back whole; a refused request is
    not counted."""

    scope = "token"
    setting = "API_RATE_LIMIT"
    default = "1200/min"

    def __init__(self):
        self.cache = caches[getattr(settings, "API_THROTTLE_CACHE", "default")]
        self.num_requests, self.duration = throttling.SimpleRateThrottle.parse_rate(
            self, self.get_rate()
        )
        self._wait: float | None = None

    def get_rate(self):
        return getattr(settings, self.setting, self.default)

    def get_cache_key(self, request, view):
        token = getattr(request, "api_token", None)
        if token is None:
            return None
        return f"api-throttle:{self.scope}:{token.prefix}"

    def allow_request(self, request, view) -> bool:
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        period = int(now // self.duration)
        elapsed = now - period * self.duration
        current_key = f"{key}:{period}"
        current, previous = self._count(current_key, f"{key}:{period - 1}")
        before = previous * (self.duration - elapsed) / self.duration + current - 1
        if before < self.num_requests:
            return True
        self._uncount(current_key)
        self._wait = self._wait_for(current - 1, previous, elapsed)
        return False

    def wait(self) -> float | None:
        return self._wait

    def _wait_for(self, current: int, previous: int, elapsed: float) -> float:
        """Seconds until the window holds fewer than the limit, if no request comes meanwhile."""
        limit, length = self.num_requests, self.duration
        if current < limit and previous:
            wait = (length - elapsed) - length * (limit - current) / previous
        else:  # this period is full: its count must slide out of the next one
            wait = (length - elapsed) + length * max(0.0, 1 - limit / max(current, 1))
        return max(1.0, wait)

    def _count(self, current_key: str, previous_key: str) -> tuple[int, int]:
        """(this period's count, this request included; the previous period's count)."""
        cache, timeout = self.cache, 2 * self.duration
        if isinstance(cache, RedisCache):
            # The keys are ours (a hex prefix, digits and colons): made, not checked again.
            current_key = cache.make_key(current_key)
            previous_key = cache.make_key(previous_key)
            pipe = _redis(cache).pipeline(transaction=False)
            pipe.incr(current_key)
            pipe.expire(current_key, timeout)
            pipe.get(previous_key)
            current, _expires, previous = pipe.execute()
            return int(current), int(previous or 0)
        cache.add(current_key, 0, timeout)
        try:
            current = cache.incr(current_key)
        except ValueError:  # expired between the two calls
            cache.set(current_key, 1, timeout)
            current = 1
        return current, int(cache.get(previous_key) or 0)

    def _uncount(self, current_key: str) -> None:
        cache = self.cache
        if isinstance(cache, RedisCache):
            _redis(cache).decr(cache.make_key(current_key))
            return
        with contextlib.suppress(ValueError):
            cache.decr(current_key)


# The Redis client of each cache's connection pool for writes, made once: Django's RedisCache
# makes a new client on every call (copying its table of reply parsers, some 170 entries).
_redis_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _redis(cache: RedisCache):
    backend = cache._cache
    client = _redis_clients.get(backend)
    if client is None:
        client = _redis_clients[backend] = backend.get_client(write=True)
    return client


class BulkRateThrottle(TokenRateThrottle):
    scope = "bulk"
    setting = "API_BULK_RATE_LIMIT"
    default = "30/min"
