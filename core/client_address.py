"""The client's address behind trusted reverse proxies.

`REMOTE_ADDR` is the peer that opened the connection: behind a proxy, the proxy. The proxy adds
the address it saw to `X-Forwarded-For`, but a client can send that header too with anything in
it, so the header is read from the right, one hop at a time, and only while the hop that handed
the request on is one of `TRUSTED_PROXIES` (addresses or networks, empty by default: the header
is then ignored altogether). The first address that is not a trusted proxy is the client.

`ClientAddressMiddleware` puts that address in `REMOTE_ADDR` for the rest of the request (the
peer stays in `SONS_PEER_ADDR`), so every reader of `REMOTE_ADDR` - the signature's evidence, the
sign-in lockouts, the API's record of calls, the metrics' allowed networks - gets the client's
address, never the proxy's.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PEER_KEY = "SONS_PEER_ADDR"
RESOLVED_KEY = "SONS_CLIENT_ADDR"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES : « {entry} » n'est ni une adresse IP ni un réseau."
            ) from None
    return tuple(networks)


def trusted_networks() -> tuple[Network, ...]:
    return _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def parse_address(text: str | None) -> Address | None:
    """An address as a proxy writes it (`203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443`,
    `203.0.113.7:51234`), IPv4-mapped IPv6 read as IPv4; None when it is not an address."""
    if not text:
        return None
    text = text.strip().strip('"')
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def resolve(
    remote_addr: str | None, forwarded_for: str | None, networks: Iterable[Network]
) -> str | None:
    """The client's address from the peer and the X-Forwarded-For header, walking from the right
    past the trusted proxies (the pure rule, without a request)."""
    networks = tuple(networks)
    current = parse_address(remote_addr)
    if current is None:
        return remote_addr or None
    hops = [hop for hop in (forwarded_for or "").split(",") if hop.strip()]
    while hops and _is_trusted(current, networks):
        previous = parse_address(hops.pop())
        if previous is None:  # garbage from before the trusted proxies: stop at the proxy
            break
        current = previous
    return str(current)


def client_address(request) -> str | None:
    """The address of the client that sent `request`, read through the trusted proxies."""
    meta = request.META
    if RESOLVED_KEY in meta:
        return meta[RESOLVED_KEY] or None
    return resolve(
        meta.get(PEER_KEY, meta.get("REMOTE_ADDR")),
        meta.get("HTTP_X_FORWARDED_FOR"),
        trusted_networks(),
    )


class ClientAddressMiddleware:
    """Sets `REMOTE_ADDR` to the client's address (see the module) for everything after it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        if RESOLVED_KEY not in meta:
            address = client_address(request)
            meta[PEER_KEY] = meta.get("REMOTE_ADDR", "")
            meta[RESOLVED_KEY] = address or ""
            if address:
                meta["REMOTE_ADDR"] = address
        return self.get_response(request)
