"""Sign-in: the lockout after repeated failures, and the TOTP second factor."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from catalogue.models import VendorMember
from core.journal import record_transition
from portal.models import LoginFailure

DEVICE_NAME = "Application d'authentification"


def _key(username: str) -> str:
    # One lock whatever the case typed, so « Alice » and « alice » share their failures.
    return username.strip().lower()[:150]


def locked_until(*, username: str, ip: str | None, at: dt.datetime) -> dt.datetime | None:
    """The end of the lock on this username from this address, if one holds at `at`."""
    row = LoginFailure.objects.filter(username=_key(username), ip_address=ip).first()
    if row is None or row.locked_until is None or row.locked_until <= at:
        return None
    return row.locked_until


def record_failure(*, username: str, ip: str | None, at: dt.datetime) -> dt.datetime | None:
    """Counts one failed attempt (wrong password or wrong code); returns the lock's end once the
    count reaches PORTAL_LOCKOUT_FAILURES. A lock that has run out starts a fresh count."""
    limit = getattr(settings, "PORTAL_LOCKOUT_FAILURES", 5)
    minutes = getattr(settings, "PORTAL_LOCKOUT_MINUTES", 15)
    with transaction.atomic():
        row, _created = LoginFailure.objects.select_for_update().get_or_create(
            username=_key(username), ip_address=ip, defaults={"last_failed_at": at}
        )
        if row.locked_until is not None and row.locked_until <= at:
            row.failures, row.locked_until = 0, None
        row.failures += 1
        row.last_failed_at = at
        if row.failures >= limit and row.locked_until is None:
            row.locked_until = at + dt.timedelta(minutes=minutes)
        row.save()
    return row.locked_until


def clear_failures(*, username: str, ip: str | None) -> None:
    LoginFailure.objects.filter(username=_key(username), ip_address=ip).delete()


def start_enrolment(*, user) -> TOTPDevice:
    """A new, unconfirmed TOTP secret for the user (any earlier unconfirmed one is dropped)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def confirm_enrolment(*, user, device_id: int, token: str) -> TOTPDevice | None:
    """The first code from the app confirms the secret; it replaces any former device."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
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


def verify_code(*, user, token: str) -> tuple[TOTPDevice | None, bool]:
    """The confirmed device of the user that accepts this code (each code is good once), and
    whether the device is holding back after recent wrong codes (django-otp's throttling)."""
    throttled = False
    with transaction.atomic():
        for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
            allowed, _details = device.verify_is_allowed()
            throttled = throttled or not allowed
            if device.verify_token(token.strip()):
                return device, False
    return None, throttled


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
