"""Sign-in: the lockouts after repeated failures, and the TOTP second factor.

Three counts, each with its own limit: one username from one address (PORTAL_LOCKOUT_FAILURES,
the person who mistypes), one address whatever the usernames (PORTAL_LOCKOUT_ADDRESS_FAILURES,
password spraying from one machine), one username whatever the addresses
(PORTAL_LOCKOUT_ACCOUNT_FAILURES, one account attacked from many machines). The address is the
client's, read through the trusted proxies (core.client_address). The portal's sign-in and code
pages and the administration's sign-in (portal.forms.AdminLoginForm) all count here.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from catalogue.deadlines import format_paris
from catalogue.models import VendorMember
from core.journal import record_transition
from portal.models import LoginFailure, SignInThrottle

logger = logging.getLogger(__name__)

DEVICE_NAME = "Application d'authentification"


def _key(username: str) -> str:
    # One lock whatever the case typed, so « Alice » and « alice » share their failures.
    return username.strip().lower()[:150]


@dataclass(frozen=True)
class Lock:
    """A lock holding: until when, and on what (the pair, the whole account, the address)."""

    until: dt.datetime
    scope: str  # "pair", SignInThrottle.Scope.ACCOUNT or SignInThrottle.Scope.ADDRESS


def _minutes() -> int:
    return getattr(settings, "PORTAL_LOCKOUT_MINUTES", 15)


def _limits() -> dict[str, int]:
    return {
        SignInThrottle.Scope.ADDRESS: getattr(settings, "PORTAL_LOCKOUT_ADDRESS_FAILURES", 30),
        SignInThrottle.Scope.ACCOUNT: getattr(settings, "PORTAL_LOCKOUT_ACCOUNT_FAILURES", 20),
    }


def _throttle_keys(username: str, ip: str | None) -> list[tuple[str, str]]:
    keys = [(SignInThrottle.Scope.ACCOUNT, _key(username))]
    if ip:
        keys.append((SignInThrottle.Scope.ADDRESS, ip))
    return keys


def lock_of(*, username: str, ip: str | None, at: dt.datetime) -> Lock | None:
    """The lock that holds at `at` on this username from this address, if any: the pair's own,
    the account's (too many failures from anywhere) or the address's (too many failures
    whatever the usernames tried); the longest when several hold."""
    locks = []
    row = LoginFailure.objects.filter(username=_key(username), ip_address=ip).first()
    if row is not None and row.locked_until is not None and row.locked_until > at:
        locks.append(Lock(row.locked_until, "pair"))
    for scope, key in _throttle_keys(username, ip):
        throttle = SignInThrottle.objects.filter(scope=scope, key=key).first()
        if throttle is not None and throttle.locked_until and throttle.locked_until > at:
            locks.append(Lock(throttle.locked_until, scope))
    return max(locks, key=lambda lock: lock.until, default=None)


def locked_until(*, username: str, ip: str | None, at: dt.datetime) -> dt.datetime | None:
    """The end of the lock on this username from this address, if one holds at `at`."""
    lock = lock_of(username=username, ip=ip, at=at)
    return lock.until if lock else None


def record_failure(*, username: str, ip: str | None, at: dt.datetime) -> Lock | None:
    """Counts one failed attempt (wrong password or wrong code) for the pair, the account and
    the address; returns the lock that holds afterwards. The pair locks once its count reaches
    PORTAL_LOCKOUT_FAILURES (a lock that has run out starts a fresh count); the account and the
    address once theirs reach PORTAL_LOCKOUT_ACCOUNT_FAILURES and
    PORTAL_LOCKOUT_ADDRESS_FAILURES within PORTAL_LOCKOUT_MINUTES."""
    limit = getattr(settings, "PORTAL_LOCKOUT_FAILURES", 5)
    lock_for = dt.timedelta(minutes=_minutes())
    with transaction.atomic():
        row, _created = LoginFailure.objects.select_for_update(no_key=True).get_or_create(
            username=_key(username), ip_address=ip, defaults={"last_failed_at": at}
        )
        if row.locked_until is not None and row.locked_until <= at:
            row.failures, row.locked_until = 0, None
        row.failures += 1
        row.last_failed_at = at
        if row.failures >= limit and row.locked_until is None:
            row.locked_until = at + lock_for
            logger.warning("signin_locked scope=pair key=%s ip=%s", _key(username), ip)
        row.save()
        limits = _limits()
        for scope, key in _throttle_keys(username, ip):
            throttle, _created = SignInThrottle.objects.select_for_update(
                no_key=True
            ).get_or_create(
                scope=scope,
                key=key,
                defaults={"window_started_at": at, "last_failed_at": at},
            )
            run_out = throttle.locked_until is not None and throttle.locked_until <= at
            if run_out or (
                throttle.locked_until is None and throttle.window_started_at < at - lock_for
            ):
                throttle.failures, throttle.locked_until = 0, None
                throttle.window_started_at = at
            throttle.failures += 1
            throttle.last_failed_at = at
            if throttle.failures >= limits[scope] and throttle.locked_until is None:
                throttle.locked_until = at + lock_for
                logger.warning("signin_locked scope=%s key=%s", scope, key)
            throttle.save()
    return lock_of(username=username, ip=ip, at=at)


def clear_failures(*, username: str, ip: str | None) -> None:
    """After a sign-in that succeeded: the pair's and the account's counts start again. The
    address's does not (one valid account must not reset the count of an address that tries
    the others)."""
    LoginFailure.objects.filter(username=_key(username), ip_address=ip).delete()
    SignInThrottle.objects.filter(scope=SignInThrottle.Scope.ACCOUNT, key=_key(username)).delete()


def lock_message(lock: Lock) -> str:
    until = format_paris(lock.until)
    if lock.scope == SignInThrottle.Scope.ADDRESS:
        return _(
            "Trop de tentatives échouées depuis votre adresse : toute connexion depuis votre "
            "poste est bloquée jusqu'au %(until)s (heure de Paris). Réessayez ensuite."
        ) % {"until": until}
    if lock.scope == SignInThrottle.Scope.ACCOUNT:
        return _(
            "Trop de tentatives échouées sur ce compte : sa connexion est bloquée jusqu'au "
            "%(until)s (heure de Paris), depuis tous les postes. Réessayez ensuite, ou demandez "
            "à un administrateur de votre société de vérifier votre compte."
        ) % {"until": until}
    return _(
        "Trop de tentatives échouées : la connexion à ce compte depuis votre poste est bloquée "
        "jusqu'au %(until)s (heure de Paris). Réessayez ensuite, ou demandez à un "
        "administrateur de votre société de vérifier votre compte."
    ) % {"until": until}


def new_enrolment_key() -> str:
    """A fresh TOTP secret (hex): the enrolment page keeps it in the session and shows it; it
    reaches the database only with the first code typed (`start_enrolment`), never on a GET."""
    return default_key()


def enrolment_device(*, user, key: str) -> TOTPDevice:
    """The device that secret will be, not saved: what the page shows (QR code, secret)."""
    return TOTPDevice(user=user, name=DEVICE_NAME, key=key, confirmed=False)


def start_enrolment(*, user, key: str) -> TOTPDevice:
    """The unconfirmed device of this secret, written when a code is typed for it (kept across
    wrong codes, for django-otp's throttling); any other unconfirmed one is dropped."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).exclude(key=key).delete()
        device = TOTPDevice.objects.filter(user=user, confirmed=False, key=key).first()
        if device is None:
            device = TOTPDevice.objects.create(
                user=user, name=DEVICE_NAME, key=key, confirmed=False
            )
        return device


def confirm_enrolment(*, user, device_id: int, token: str) -> TOTPDevice | None:
    """The first code from the app confirms the secret; it replaces any former device."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update(no_key=True)
            .filter(pk=device_id, user=user, confirmed=False)
            .first()
        )
        if device is None or not device.verify_token(token.strip()):
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        _journal_member(user, "enrol_second_factor", actor=user)
    return device


def verify_code(*, user, token: str) -> tuple[TOTPDevice | None, int]:
    """The confirmed device of the user that accepts this code (each code is good once), and
    how many seconds the device still holds back after recent wrong codes (django-otp's
    throttling; 0 when it does not)."""
    wait = 0
    with transaction.atomic():
        for device in TOTPDevice.objects.select_for_update(no_key=True).filter(
            user=user, confirmed=True
        ):
            allowed, details = device.verify_is_allowed()
            if not allowed:
                wait = max(wait, _seconds_until((details or {}).get("locked_until")))
            if device.verify_token(token.strip()):
                return device, 0
    return None, wait


def _seconds_until(instant) -> int:
    """Whole seconds from now to `instant`, rounded up, at least 1 (a wait was asked)."""
    if instant is None:
        return 1
    return max(1, math.ceil((instant - timezone.now()).total_seconds()))


def reset_second_factor(*, member: VendorMember, actor) -> None:
    """A vendor administrator removes a member's lost device; they enrol again at next sign-in
    (an administrator must, a collaborator may)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=member.user).delete()
        _journal_member(member.user, "reset_second_factor", actor=actor)


def _journal_member(user, transition: str, *, actor, reason: str = "") -> None:
    member = VendorMember.objects.filter(user=user).first()
    if member is not None:
        record_transition(
            obj=member,
            transition=transition,
            source=member.role,
            target=member.role,
            actor=actor,
            reason=reason,
        )
