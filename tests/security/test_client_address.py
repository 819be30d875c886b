"""The client's address behind trusted proxies (core/client_address.py): X-Forwarded-For read
from the right, believed only past the proxies listed in TRUSTED_PROXIES."""

from __future__ import annotations

import ipaddress

import pytest
from django.test import RequestFactory

from core.client_address import ClientAddressMiddleware, client_address, resolve

NETS = [ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("2001:db8::/64")]


def test_without_a_trusted_proxy_the_header_is_ignored():
    assert resolve("203.0.113.5", "198.51.100.1", []) == "203.0.113.5"
    # a client's spoofed header reaches a trusted proxy as the leftmost entries: skipped
    assert resolve("10.0.0.2", "1.2.3.4, 203.0.113.5", NETS) == "203.0.113.5"
    # a client that is not a proxy cannot forward anything
    assert resolve("203.0.113.5", "10.0.0.2", NETS) == "203.0.113.5"


def test_one_proxy():
    assert resolve("10.0.0.2", "203.0.113.5", NETS) == "203.0.113.5"
    assert resolve("10.0.0.2", "", NETS) == "10.0.0.2"  # nothing forwarded: the proxy itself


def test_two_proxies():
    assert resolve("10.0.0.2", "203.0.113.5, 10.0.0.3", NETS) == "203.0.113.5"
    assert resolve("10.0.0.2", "198.51.100.9, 203.0.113.5, 10.0.0.3", NETS) == "203.0.113.5"
    assert resolve("2001:db8::2", "[2001:db8::3]:443, 2001:db8::4", NETS) == "2001:db8::3"
    assert resolve("2001:db8::2", "203.0.113.5:51234, 2001:db8::4", NETS) == "203.0.113.5"


def test_garbage_stops_the_walk_at_the_last_proxy():
    assert resolve("10.0.0.2", "nimporte, 10.0.0.3", NETS) == "10.0.0.3"
    assert resolve("::ffff:10.0.0.2", "203.0.113.5", NETS) == "203.0.113.5"


def test_the_middleware_sets_remote_addr_for_everything_after_it(settings):
    """What the signature's evidence (signing.views._origin reads REMOTE_ADDR), the API's record
    of calls and the sign-in limits read."""
    from signing.views import _origin

    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/24"]
    request = RequestFactory().get(
        "/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.23, 10.0.0.7"
    )
    seen = {}

    def view(request):
        seen["origin"] = _origin(request).ip_address
        seen["client"] = client_address(request)
        return None

    ClientAddressMiddleware(view)(request)
    assert seen == {"origin": "198.51.100.23", "client": "198.51.100.23"}
    assert request.META["SONS_PEER_ADDR"] == "127.0.0.1"


@pytest.mark.parametrize("proxies", [[], ["192.0.2.1"]])
def test_a_spoofed_header_from_an_untrusted_peer_changes_nothing(settings, proxies):
    from signing.views import _origin

    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get(
        "/", REMOTE_ADDR="203.0.113.66", HTTP_X_FORWARDED_FOR="198.51.100.1"
    )
    ClientAddressMiddleware(lambda r: None)(request)
    assert _origin(request).ip_address == "203.0.113.66"


def test_a_misconfigured_list_says_so(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.TRUSTED_PROXIES = ["pas une adresse"]
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        client_address(RequestFactory().get("/"))
