"""Portal test data: two vendors, each with an administrator (TOTP enrolled) and a collaborator,
and orders built through the lifecycle services."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from catalogue.models import VendorMember
from tests.factories import VendorFactory

PASSWORD = "un-mot-de-passe-solide-2026"


def make_member(vendor, *, role=VendorMember.Role.STAFF, username=None, enrolled=None):
    user_model = get_user_model()
    username = username or f"{role}-{vendor.pk}-{user_model.objects.count()}@example.invalid"
    user = user_model.objects.create_user(
        username=username, email=username, password=PASSWORD, first_name="Prénom", last_name="Nom"
    )
    VendorMember.objects.create(user=user, vendor=vendor, role=role)
    if enrolled if enrolled is not None else role == VendorMember.Role.ADMIN:
        TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    return user


def code_for(user, *, steps_ahead: int = 0) -> str:
    """The code the user's app shows now (or a later step's: each code is accepted once)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def sign_in(client, user):
    """A signed-in session, second factor verified when the user has one."""
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


@pytest.fixture
def vendor(db):
    return VendorFactory(name="Éditeur A")


@pytest.fixture
def other_vendor(db):
    return VendorFactory(name="Éditeur B")


@pytest.fixture
def staff(vendor):
    return make_member(vendor)


@pytest.fixture
def vendor_admin(vendor):
    return make_member(vendor, role=VendorMember.Role.ADMIN)


@pytest.fixture
def staff_client(client, staff):
    return sign_in(client, staff)


def vendor_referencing(vendor, actor, dispositif=None):
    """A solution of `vendor`, referenced under a dispositif whose calendar is open now."""
    from django.utils import timezone

    from tests.factories import SolutionVersionFactory
    from tests.payments.factories import DAY, open_dispositif
    from tests.sons.factories import referenced

    version = SolutionVersionFactory(solution__editor=vendor)
    return referenced(
        dispositif=dispositif or open_dispositif(),
        actor=actor,
        at=timezone.now() - 10 * DAY,
        version=version,
    )


def vendor_order(vendor, actor, *, referencing=None, signed=True, client=None, pdf=False):
    """An order of `vendor`, signed five days ago (or a draft); `pdf`: its BDC rendered, as
    the task does after commit."""
    from django.utils import timezone

    from sons.tasks import render_order_pdf
    from tests.payments.factories import DAY
    from tests.sons.factories import draft_order, signed_order

    referencing = referencing or vendor_referencing(vendor, actor)
    if not signed:
        return draft_order(referencing=referencing, actor=actor, client=client)
    order = signed_order(
        referencing=referencing, actor=actor, client=client, at=timezone.now() - 5 * DAY
    )
    if pdf:
        render_order_pdf(order.pk)
        order.refresh_from_db()
    return order
