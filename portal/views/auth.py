"""Signing in to the portal: password, then the second factor (or its enrolment), with a lock
after repeated failures; choosing a password from an invitation; signing out; one's account."""

from __future__ import annotations

import base64
import datetime as dt
from binascii import unhexlify

import django_otp
import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, login, logout
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from catalogue.access import membership_of
from portal import tasks
from portal.access import (
    PENDING_USER_KEY,
    client_ip,
    has_second_factor,
    portal_page,
    second_factor_verified,
)
from portal.forms import CodeForm, LoginForm, PasswordResetRequestForm
from portal.services import signin

from .common import now

PENDING_MINUTES = 10
NEXT_KEY = "portal_next"
# The TOTP secret being enrolled (hex), until its first code confirms it.
ENROL_KEY = "portal_enrol_key"


def _safe_next(request, value: str | None) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return reverse("portal:home")


def _pending_user(request):
    """The person whose password was right and whose second factor is still awaited."""
    pending = request.session.get(PENDING_USER_KEY)
    if not pending:
        return None
    started = dt.datetime.fromisoformat(pending["at"])
    if now() - started > dt.timedelta(minutes=PENDING_MINUTES):
        request.session.pop(PENDING_USER_KEY, None)
        return None
    user = get_user_model().objects.filter(pk=pending["id"], is_active=True).first()
    if user is None or membership_of(user) is None:
        return None
    user.backend = pending["backend"]
    return user


def _locked_message(lock: signin.Lock) -> str:
    return signin.lock_message(lock)


def _finish(request, user, device=None, *, target: str | None = None):
    """Signs the person in for good (and marks the second factor verified); `target`, else the
    page kept in the session while the second factor was awaited, is where they land."""
    target = target or request.session.get(NEXT_KEY)
    login(request, user, backend=getattr(user, "backend", None))
    if device is not None:
        django_otp.login(request, device)
    for key in (PENDING_USER_KEY, NEXT_KEY, ENROL_KEY):
        request.session.pop(key, None)
    signin.clear_failures(username=user.get_username(), ip=client_ip(request))
    return redirect(_safe_next(request, target))


@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_view(request):
    if (
        request.user.is_authenticated
        and membership_of(request.user) is not None
        and (not has_second_factor(request.user) or second_factor_verified(request))
    ):
        return redirect(_safe_next(request, request.GET.get("next")))
    form = LoginForm(request.POST or None)
    error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"].strip()
        ip = client_ip(request)
        at = now()
        lock = signin.lock_of(username=username, ip=ip, at=at)
        if lock is not None:
            error, status = _locked_message(lock), 429
        else:
            canonical = get_user_model().objects.filter(username__iexact=username).first()
            user = authenticate(
                request,
                username=canonical.get_username() if canonical else username,
                password=form.cleaned_data["password"],
            )
            member = membership_of(user) if user is not None else None
            if member is None:
                lock = signin.record_failure(username=username, ip=ip, at=at)
                if lock is not None:
                    error, status = _locked_message(lock), 429
                else:
                    error = _("Identifiant ou mot de passe incorrect.")
            else:
                if request.user.is_authenticated:
                    logout(request)
                target = _safe_next(request, request.GET.get("next"))
                second_factor = has_second_factor(user)
                if not second_factor and not member.is_vendor_admin:
                    # Nothing else to check: signed in at once (`login` gives the session a
                    # new key), no pending step written to the session first.
                    return _finish(request, user, target=target)
                request.session.cycle_key()
                request.session[PENDING_USER_KEY] = {
                    "id": user.pk,
                    "backend": user.backend,
                    "at": at.isoformat(),
                }
                request.session[NEXT_KEY] = target
                return redirect("portal:login_code" if second_factor else "portal:enrol")
    return render(request, "web/portal/login.html", {"form": form, "error": error}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request):
    user = _pending_user(request)
    if user is None:
        messages.info(request, _("Reprenez la connexion depuis le début."))
        return redirect("portal:login")
    form = CodeForm(request.POST or None)
    error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        at = now()
        lock = signin.lock_of(username=user.get_username(), ip=ip, at=at)
        if lock is None:
            device, wait = signin.verify_code(user=user, token=form.cleaned_data["code"])
            if device is not None:
                return _finish(request, user, device)
            lock = signin.record_failure(username=user.get_username(), ip=ip, at=at)
            error = (
                ngettext(
                    "Après un code erroné, attendez %(n)d seconde puis saisissez le code affiché.",
                    "Après un code erroné, attendez %(n)d secondes puis saisissez le code affiché.",
                    wait,
                )
                % {"n": wait}
                if wait
                else _("Ce code n'est pas le bon (ou a déjà servi) : saisissez le code affiché.")
            )
        if lock is not None:
            request.session.pop(PENDING_USER_KEY, None)
            error, status = _locked_message(lock), 429
    return render(
        request, "web/portal/login_code.html", {"form": form, "error": error}, status=status
    )


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def _readable_secret(device: TOTPDevice) -> str:
    secret = base64.b32encode(unhexlify(device.key)).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@never_cache
@require_http_methods(["GET", "POST"])
def enrol(request):
    """Enrols a TOTP application: before anything else for a vendor administrator signing in
    for the first time, from « Mon compte » for anyone else."""
    pending = _pending_user(request)
    if pending is not None:
        user = pending
    elif request.user.is_authenticated and membership_of(request.user) is not None:
        user = request.user
        if has_second_factor(user) and not second_factor_verified(request):
            return redirect("portal:login")
    else:
        return redirect("portal:login")

    # The secret waits in the session: showing the page writes nothing (a GET only reads).
    key = request.session.get(ENROL_KEY)
    if not key:
        key = signin.new_enrolment_key()
        request.session[ENROL_KEY] = key
    device = signin.enrolment_device(user=user, key=key)

    form = CodeForm(request.POST or None)
    error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        at = now()
        lock = signin.lock_of(username=user.get_username(), ip=ip, at=at)
        if lock is None:
            device = signin.start_enrolment(user=user, key=key)
            confirmed = signin.confirm_enrolment(
                user=user, device_id=device.pk, token=form.cleaned_data["code"]
            )
            if confirmed is not None:
                messages.success(request, _("Double authentification activée."))
                if pending is not None:
                    return _finish(request, user, confirmed)
                django_otp.login(request, confirmed)
                request.session.pop(ENROL_KEY, None)
                return redirect("portal:account")
            lock = signin.record_failure(username=user.get_username(), ip=ip, at=at)
            error = _(
                "Ce code n'est pas le bon : vérifiez l'heure de votre téléphone et réessayez."
            )
        if lock is not None:
            error, status = _locked_message(lock), 429
    return render(
        request,
        "web/portal/enrol.html",
        {
            "form": form,
            "error": error,
            "required": pending is not None,
            "qr": _qr_data_uri(device.config_url),
            "secret": _readable_secret(device),
        },
        status=status,
    )


@require_POST
def logout_view(request):
    logout(request)
    messages.info(request, _("Vous êtes déconnecté."))
    return redirect("portal:login")


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def set_password(request, uidb64: str, token: str):
    """Where an invited person (or one who forgot it) chooses a password, from the mailed link."""
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        pk = None
    user = get_user_model().objects.filter(pk=pk, is_active=True).first() if pk else None
    if (
        user is None
        or membership_of(user) is None
        or not default_token_generator.check_token(user, token)
    ):
        return render(request, "web/portal/set_password.html", {"invalid": True}, status=400)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        signin.clear_failures(username=user.get_username(), ip=client_ip(request))
        messages.success(request, _("Mot de passe enregistré : connectez-vous."))
        return redirect("portal:login")
    return render(
        request, "web/portal/set_password.html", {"form": form, "username": user.get_username()}
    )


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request):
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = (
            get_user_model()
            .objects.filter(
                email__iexact=form.cleaned_data["email"],
                is_active=True,
                vendor_membership__isnull=False,
            )
            .first()
        )
        if user is not None:
            base_url = request.build_absolute_uri("/")
            transaction.on_commit(lambda: tasks.send_password_reset.delay(user.pk, base_url))
        # The same answer whether the address is known or not.
        messages.info(
            request,
            _(
                "Si un compte existe pour cette adresse, un lien pour choisir un nouveau mot de "
                "passe vient d'y être envoyé."
            ),
        )
        return redirect("portal:login")
    return render(request, "web/portal/password_reset.html", {"form": form})


@portal_page
def account(request):
    return render(
        request,
        "web/portal/account.html",
        {"has_second_factor": has_second_factor(request.user)},
    )
