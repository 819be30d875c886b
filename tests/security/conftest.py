"""Security tests' fixtures: the API's two-vendor world (side A, side B); a vendor's API client
with nothing else built (`vendor_api`); a guard that fails a test whose code would open a
connection anywhere but this machine (`loopback_only`)."""

import ipaddress
import socket

import pytest

from api.tokens import issue_token

# The API's two-vendor world (side A, side B) is shared with the security suite.
from tests.api.conftest import (  # noqa: F401
    Api,
    admin_api,
    dispositif,
    make_member,
    side_a,
    side_b,
)
from tests.factories import VendorFactory


@pytest.fixture
def vendor_api(db, django_user_model):
    """(vendor, Api with a vendor member's token): nothing else built."""
    vendor = VendorFactory(name="Éditeur Sécurité")
    user = make_member(django_user_model, vendor, "membre-securite")
    return vendor, Api(issue_token(user=user, name="CRM sécurité").secret)


@pytest.fixture(autouse=True)
def api_rate_limits_cleared():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def loopback_only(monkeypatch):
    """Every socket connection must go to loopback: a refused destination that the code would
    still reach (10.0.0.1, 169.254.169.254...) fails the test instead of leaving the machine.
    Returns the list of the addresses connected to."""
    connected: list[str] = []
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(str(host).split("%", 1)[0])
            mapped = getattr(ip, "ipv4_mapped", None)
            assert (mapped or ip).is_loopback, f"connection attempted to {host}"
            connected.append(str(host))
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return connected
