"""Where a webhook may be sent: public Internet addresses only, in HTTPS, never redirected.

A vendor types the address of its endpoint; the engine then POSTs to it from inside the
installation's network. Without these checks that address could be the cloud's metadata service
(169.254.169.254), the admin on 127.0.0.1, or any host of the private network (server-side
request forgery). So:

- the URL is `https://` (plain `http://` only with DEBUG on, or to loopback when loopback is
  allowed, see below), with no user name or password in it;
- its host name is resolved with `socket.getaddrinfo` and every address it gives must be public:
  loopback, private (RFC 1918, fc00::/7, fec0::/10), link-local (169.254.0.0/16 - the cloud
  metadata - and fe80::/10), multicast, reserved, unspecified, shared (100.64.0.0/10) addresses,
  and IPv4-mapped, 6to4 or Teredo IPv6 forms of those, are refused, as is anything else
  `ipaddress` does not call global (documentation ranges...);
- this is checked when the subscription is saved and again at every delivery, and the delivery
  connects to the very address that was checked (the Host header and the TLS server name, whose
  certificate is verified, stay the URL's name): a name that answers a public address at the
  check and a private one at the connection (DNS rebinding) reaches nothing;
- redirects are never followed: a 3xx answer is a failed delivery.

`API_WEBHOOK_ALLOW_LOOPBACK` (default False) lets loopback addresses through, in HTTP too: for
the test suite's local receivers and the embedded mode on one laptop, never in production
(`manage.py check --deploy` warns, api.W001).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 6598 shared address space (carrier-grade NAT): `ipaddress` has no property for it.
SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
DEFAULT_PORTS = {"http": 80, "https": 443}

# code -> French sentence (the address is put in it).
ADDRESS_RULES = {
    "webhook_address_unspecified": "l'adresse non spécifiée %(address)s",
    "webhook_address_loopback": "une adresse de bouclage de cette machine (%(address)s)",
    "webhook_address_link_local": (
        "une adresse lien-local (%(address)s), comme le service de métadonnées d'un hébergeur"
    ),
    "webhook_address_multicast": "une adresse de multidiffusion (%(address)s)",
    "webhook_address_shared": "une adresse partagée d'opérateur (%(address)s, 100.64.0.0/10)",
    "webhook_address_reserved": "une adresse réservée (%(address)s)",
    "webhook_address_private": "une adresse privée, hors d'Internet (%(address)s)",
    "webhook_address_not_public": "une adresse qui n'est pas publique (%(address)s)",
}


class DestinationRefused(ValueError):
    """The URL may not receive webhooks: a rule code and a French sentence (field `url`)."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Destination:
    """A checked URL: where to connect (the checked addresses) and what to ask for."""

    scheme: str
    host: str
    port: int
    target: str  # path and query
    addresses: tuple[str, ...]


def loopback_allowed() -> bool:
    return bool(getattr(settings, "API_WEBHOOK_ALLOW_LOOPBACK", False))


def address_rule(address: Address) -> str | None:
    """The rule code refusing `address`, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_rule(address.ipv4_mapped)
    if address.is_unspecified:
        return "webhook_address_unspecified"
    if address.is_loopback:
        return "webhook_address_loopback"
    if address.is_link_local:
        return "webhook_address_link_local"
    if address.is_multicast:
        return "webhook_address_multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in SHARED_ADDRESS_SPACE:
        return "webhook_address_shared"
    if address.is_reserved:
        return "webhook_address_reserved"
    if address.is_private or getattr(address, "is_site_local", False):
        return "webhook_address_private"
    if not address.is_global:
        return "webhook_address_not_public"
    if isinstance(address, ipaddress.IPv6Address):
        # IPv4 addresses carried inside IPv6 ones reach the IPv4 host they name.
        embedded = [address.sixtofour, *(address.teredo or ())]
        for inner in embedded:
            if inner is not None and (rule := address_rule(inner)) is not None:
                return rule
    return None


def _refused_address(address: Address, code: str) -> DestinationRefused:
    what = _(ADDRESS_RULES[code]) % {"address": address}
    return DestinationRefused(
        code,
        _(
            "L'adresse de réception désigne %(what)s : seules les adresses publiques "
            "d'Internet reçoivent des webhooks."
        )
        % {"what": what},
    )


def resolve(host: str, port: int) -> list[Address]:
    """Every address the name gives (an IP literal gives itself), in the resolver's order."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        answers = []
    addresses: list[Address] = []
    for _family, _type, _proto, _canonical, sockaddr in answers:
        try:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        except ValueError:
            continue
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise DestinationRefused(
            "webhook_host_unresolvable",
            _("Le nom « %(host)s » ne donne aucune adresse : vérifiez l'adresse de réception.")
            % {"host": host},
        )
    return addresses


def check(url: str) -> Destination:
    """The destination of `url` once every rule holds; DestinationRefused otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DestinationRefused(
            "webhook_url_invalid", _("L'adresse de réception n'est pas une URL valable.")
        ) from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in DEFAULT_PORTS or not host:
        raise DestinationRefused(
            "webhook_https_required",
            _("L'adresse de réception doit commencer par https:// suivi d'un nom d'hôte."),
        )
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused(
            "webhook_url_credentials",
            _("L'adresse de réception ne porte ni identifiant ni mot de passe."),
        )
    plain_http_allowed = settings.DEBUG or loopback_allowed()
    if scheme == "http" and not plain_http_allowed:
        raise DestinationRefused(
            "webhook_https_required",
            _(
                "L'adresse de réception doit être en HTTPS (https://…) : le HTTP en clair n'est "
                "pas accepté."
            ),
        )
    port = port or DEFAULT_PORTS[scheme]
    addresses = resolve(host, port)
    for address in addresses:
        code = address_rule(address)
        if code == "webhook_address_loopback" and loopback_allowed():
            continue
        if code is not None:
            raise _refused_address(address, code)
    if (
        scheme == "http"
        and not settings.DEBUG
        and any(address_rule(a) != "webhook_address_loopback" for a in addresses)
    ):
        raise DestinationRefused(
            "webhook_https_required",
            _(
                "L'adresse de réception doit être en HTTPS (https://…) : le HTTP en clair n'est "
                "pas accepté."
            ),
        )
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Destination(scheme, host, port, target, tuple(str(a) for a in addresses))


def _connection(destination: Destination, address: str, timeout: float):
    if destination.scheme == "https":
        # Verified against the URL's host name (SNI and certificate), whatever the address.
        connection = http.client.HTTPSConnection(
            destination.host,
            destination.port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        connection = http.client.HTTPConnection(destination.host, destination.port, timeout=timeout)

    def pinned(host_and_port, timeout=timeout, source_address=None):
        # The socket goes to the address that was checked, never to a fresh resolution.
        return socket.create_connection((address, host_and_port[1]), timeout, source_address)

    connection._create_connection = pinned
    return connection


def post(destination: Destination, body: bytes, headers: dict[str, str], timeout: float):
    """POSTs to the checked addresses, one after the other until one connects; returns the
    status and the Location of the answer (a redirect is answered, never followed)."""
    last_error: OSError | None = None
    for address in destination.addresses:
        connection = _connection(destination, address, timeout)
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            last_error = exc
            continue
        try:
            connection.request("POST", destination.target, body=body, headers=headers)
            response = connection.getresponse()
            response.read(64 * 1024)
            return response.status, response.getheader("Location") or ""
        finally:
            connection.close()
    raise last_error or OSError("aucune adresse joignable")
