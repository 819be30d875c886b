"""Demo vendor users for the demo world of `manage.py seed_demo` (never for production).

One vendor administrator with a known password and a TOTP device whose secret is printed, and one
collaborator, both working for the demo éditeur « Démo Logiciels Médicaux SAS ». Calling it again
changes nothing and prints the same secret.
"""

from __future__ import annotations

import base64
import time
from binascii import unhexlify

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from catalogue.models import Vendor, VendorMember
from core.identifiers import build_siret

DEMO_VENDOR_SIRET = build_siret("90000001", "0001")
DEMO_PASSWORD = "demo-portail-2026"
DEMO_ADMIN = "admin@demo-logiciels.invalid"
DEMO_STAFF = "collaborateur@demo-logiciels.invalid"


def totp_secret(device: TOTPDevice) -> str:
    """The base32 secret an authenticator app takes (what the QR code carries)."""
    return base64.b32encode(unhexlify(device.key)).decode()


def current_code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def _user(username: str, first: str, last: str):
    user_model = get_user_model()
    user = user_model.objects.filter(username=username).first()
    if user is None:
        user = user_model(username=username, email=username, first_name=first, last_name=last)
        user.set_password(DEMO_PASSWORD)
        user.save()
    return user


def create_demo_vendor_users(*, stdout=None) -> dict:
    """Creates (or finds) the demo vendor's two portal users; writes how to sign in."""
    vendor = Vendor.objects.filter(siret=DEMO_VENDOR_SIRET, is_demo=True).first()
    if vendor is None:
        if stdout is not None:
            stdout.write("Portail : fournisseur de démonstration absent, aucun compte créé.")
        return {}
    with transaction.atomic():
        admin = _user(DEMO_ADMIN, "Alice", "Démo")
        staff = _user(DEMO_STAFF, "Bruno", "Démo")
        VendorMember.objects.get_or_create(
            user=admin, defaults={"vendor": vendor, "role": VendorMember.Role.ADMIN}
        )
        VendorMember.objects.get_or_create(
            user=staff, defaults={"vendor": vendor, "role": VendorMember.Role.STAFF}
        )
        device = TOTPDevice.objects.filter(user=admin, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(
                user=admin, name="Application d'authentification (démo)", confirmed=True
            )
    secret = totp_secret(device)
    if stdout is not None:
        stdout.write(
            "Portail des fournisseurs (démonstration) : http://127.0.0.1:8000/portail/\n"
            f"  administrateur de « {vendor.name} » : {DEMO_ADMIN} / {DEMO_PASSWORD}\n"
            f"    clé TOTP (à saisir dans une application d'authentification) : {secret}\n"
            f"    ou : {device.config_url}\n"
            "    code du moment : manage.py portal_demo_users --code\n"
            f"  collaborateur : {DEMO_STAFF} / {DEMO_PASSWORD} (sans double authentification)"
        )
    return {"vendor": vendor, "admin": admin, "staff": staff, "device": device, "secret": secret}
