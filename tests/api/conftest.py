"""API test data: two vendors, each with a member, a token, a referenced solution version on an
open dispositif, a client and orders, all built through the services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django.test import Client as DjangoClient
from django.utils import timezone
from rest_framework.test import APIClient

from api import calls as api_calls
from api.tokens import issue_token
from catalogue.models import VendorMember
from sons.services import clients as client_services
from tests.factories import SolutionFactory, SolutionVersionFactory, VendorFactory
from tests.payments.factories import DAY, open_dispositif
from tests.sons.factories import ClientFactory, referenced

from .schema_check import check_django_response


class Api:
    """A client of the API with one token; every POST gets a fresh Idempotency-Key."""

    def __init__(self, secret: str | None = None):
        self.client = APIClient()
        if secret:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def get(self, url, params=None, **extra):
        return self.client.get(url, params or {}, **extra)

    def post(self, url, data=None, *, key=None, format="json", **extra):
        extra.setdefault("HTTP_IDEMPOTENCY_KEY", key or str(uuid.uuid4()))
        return self.client.post(url, data, format=format, **extra)

    def patch(self, url, data, *, if_match=None, **extra):
        if if_match is not None:
            extra["HTTP_IF_MATCH"] = if_match
        return self.client.patch(url, data, format="json", **extra)

    def delete(self, url, **extra):
        return self.client.delete(url, **extra)


@dataclass
class Side:
    """One vendor as the tests see it."""

    vendor: object
    user: object
    secret: str
    api: Api
    referencing: object
    version: object
    client: object


def make_member(django_user_model, vendor, username, role=VendorMember.Role.ADMIN):
    user = django_user_model.objects.create_user(username, f"{username}@example.invalid", "pw")
    VendorMember.objects.create(user=user, vendor=vendor, role=role)
    return user


def make_side(django_user_model, admin_user, dispositif, name: str) -> Side:
    vendor = VendorFactory(name=f"Éditeur {name}")
    user = make_member(django_user_model, vendor, f"membre-{name}")
    secret = issue_token(user=user, name=f"CRM {name}").secret
    version = SolutionVersionFactory(solution=SolutionFactory(editor=vendor))
    referencing = referenced(
        dispositif=dispositif, actor=admin_user, at=timezone.now() - 10 * DAY, version=version
    )
    record, _created = client_services.register_client(
        vendor=vendor,
        actor=user,
        data={
            "kind": "medecin_liberal",
            "legal_name": f"Dr {name}",
            "rpps": ClientFactory.build().rpps,
            "mssante_address": f"dr.{name.lower()}@medecin.mssante.fr",
            "email": f"dr.{name.lower()}@example.invalid",
        },
    )
    return Side(vendor, user, secret, Api(secret), referencing, version, record.client)


@pytest.fixture(autouse=True)
def _no_api_call_kept_after():
    """A test that keeps calls back (`API_CALL_BATCH`) leaves none for the next one: they name
    tokens its transaction rolls back."""
    yield
    api_calls.discard()


@pytest.fixture
def dispositif():
    return open_dispositif(acceptance="va")


@pytest.fixture
def side_a(django_user_model, admin_user, dispositif) -> Side:
    return make_side(django_user_model, admin_user, dispositif, "A")


@pytest.fixture
def side_b(django_user_model, admin_user, dispositif) -> Side:
    return make_side(django_user_model, admin_user, dispositif, "B")


@pytest.fixture
def admin_api(admin_user) -> Api:
    admin_user.is_staff = True
    admin_user.save()
    return Api(issue_token(user=admin_user, name="Console ANS").secret)


def order_body(side: Side, dispositif, **overrides) -> dict:
    body = {
        "client": side.client.pk,
        "dispositif": dispositif.code,
        "solution_version": side.version.pk,
        "installation_scenario": "Poste de travail, profil cabinet libéral",
        "vendor_reference": "CRM-0001",
    }
    body.update(overrides)
    return body


SIGNATURE = {"signatory_name": "Dr Marie Curie", "signatory_role": "Titulaire", "method": "cps"}


def create_order(side: Side, dispositif, **overrides) -> dict:
    response = side.api.post("/api/v1/orders/", order_body(side, dispositif, **overrides))
    assert response.status_code == 201, response.json()
    return response.json()


def signed_order(side: Side, dispositif) -> dict:
    order = create_order(side, dispositif)
    response = side.api.post(f"/api/v1/orders/{order['id']}/sign/", SIGNATURE)
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache: each test starts with none."""
    from django.conf import settings
    from django.core.cache import caches

    cache = caches[getattr(settings, "API_THROTTLE_CACHE", "default")]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def answers_match_the_schema(monkeypatch):
    """Every answer a test of the API receives is checked against api/openapi.yaml by
    openapi-core: an answer the published schema does not describe fails the test."""
    request = DjangoClient.request

    def checked(self, **kwargs):
        response = request(self, **kwargs)
        check_django_response(response)
        return response

    monkeypatch.setattr(DjangoClient, "request", checked)
