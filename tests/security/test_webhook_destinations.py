"""Webhook destinations (api/destinations.py): public HTTPS addresses only, checked when the
subscription is saved and again at each delivery, the connection pinned to the address checked,
and no redirect followed. No test here sends anything beyond loopback: `loopback_only` fails a
test whose code would connect anywhere else, and names are resolved by a stand-in for the
system's resolver (socket.getaddrinfo)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from api import destinations
from api.models import WebhookDelivery, WebhookSubscription
from api.webhooks import attempt_delivery, emit

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.216.34"  # a global address (never connected to: the resolver is faked)
PROBLEM = "application/problem+json"


def subscribe(api, url):
    return api.post("/api/v1/webhooks/", {"url": url, "events": ["deadline.reminder"]})


def refused(response, code):
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    [error] = [e for e in body["errors"] if e["field"] == "url"]
    assert error["code"] == code, error
    assert "adresse" in error["message"].lower() or "https" in error["message"].lower()
    assert body["field"] == "url"
    return error


class FakeResolver:
    """Stands for the system's resolver: names map to the addresses given (changeable at any
    time, as a hostile DNS server would); IP literals resolve to themselves."""

    def __init__(self, names: dict[str, list[str]]):
        self.names = names
        self.calls: list[str] = []
        self.real = socket.getaddrinfo

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        if host not in self.names:  # an IP literal: no query to any DNS server
            return self.real(host, port, family, type, proto, flags)
        self.calls.append(host)
        out = []
        for address in self.names[host]:
            if ":" in address:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        if not out:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return out


@pytest.fixture
def resolver(monkeypatch):
    fake = FakeResolver({})
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def strict(settings):
    """Production's rules: DEBUG off, loopback refused."""
    settings.DEBUG = False
    settings.API_WEBHOOK_ALLOW_LOOPBACK = False
    return settings


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1:8101/admin/", "webhook_https_required"),
        ("https://127.0.0.1:8101/admin/", "webhook_address_loopback"),
        ("https://169.254.169.254/latest/meta-data/", "webhook_address_link_local"),
        ("https://[::1]/", "webhook_address_loopback"),
        ("https://10.0.0.1/", "webhook_address_private"),
        ("https://172.16.0.1/", "webhook_address_private"),
        ("https://192.168.1.1/", "webhook_address_private"),
        ("https://[fc00::1]/", "webhook_address_private"),
        ("https://[fe80::1]/", "webhook_address_link_local"),
        ("https://[::ffff:10.0.0.1]/", "webhook_address_private"),
        ("https://[::ffff:127.0.0.1]/", "webhook_address_loopback"),
        ("https://[::ffff:169.254.169.254]/", "webhook_address_link_local"),
        ("https://[2002:a00:1::1]/", "webhook_address_private"),  # 6to4 of 10.0.0.1
        ("https://0.0.0.0/", "webhook_address_unspecified"),
        ("https://[::]/", "webhook_address_unspecified"),
        ("https://224.0.0.1/", "webhook_address_multicast"),
        ("https://[ff02::1]/", "webhook_address_multicast"),
        ("https://100.64.0.1/", "webhook_address_shared"),
        ("https://240.0.0.1/", "webhook_address_reserved"),
        ("https://192.0.2.10/", "webhook_address_private"),  # documentation, not Internet
        ("ftp://crm.example.fr/hooks", "webhook_https_required"),
        ("https://user:secret@crm.example.fr/hooks", "webhook_url_credentials"),
    ],
)
def test_every_address_class_is_refused_when_the_subscription_is_saved(
    vendor_api, strict, loopback_only, url, code
):
    _vendor, api = vendor_api
    refused(subscribe(api, url), code)
    assert not WebhookSubscription.objects.exists()
    assert loopback_only == []  # nothing was contacted to judge it


def test_plain_http_is_refused_with_debug_off_even_to_a_public_address(
    vendor_api, strict, resolver
):
    _vendor, api = vendor_api
    resolver.names["crm.editeur.test"] = [PUBLIC]
    error = refused(subscribe(api, "http://crm.editeur.test/hooks"), "webhook_https_required")
    assert "HTTPS" in error["message"]
    assert subscribe(api, "https://crm.editeur.test/hooks").status_code == 201


def test_a_name_resolving_to_a_private_address_is_refused(vendor_api, strict, resolver):
    _vendor, api = vendor_api
    resolver.names["interne.editeur.test"] = ["10.20.30.40"]
    refused(subscribe(api, "https://interne.editeur.test/hooks"), "webhook_address_private")
    # one private answer among public ones is enough to refuse
    resolver.names["mixte.editeur.test"] = [PUBLIC, "169.254.169.254"]
    refused(subscribe(api, "https://mixte.editeur.test/hooks"), "webhook_address_link_local")
    resolver.names["inconnu.editeur.test"] = []
    refused(subscribe(api, "https://inconnu.editeur.test/hooks"), "webhook_host_unresolvable")
    assert not WebhookSubscription.objects.exists()


def test_changing_the_url_is_checked_too(vendor_api, strict, resolver):
    _vendor, api = vendor_api
    resolver.names["crm.editeur.test"] = [PUBLIC]
    created = subscribe(api, "https://crm.editeur.test/hooks").json()
    url = f"/api/v1/webhooks/{created['id']}/"
    etag = api.get(url)["ETag"]
    refused(api.patch(url, {"url": "https://10.0.0.1/"}, if_match=etag), "webhook_address_private")
    assert WebhookSubscription.objects.get().url == "https://crm.editeur.test/hooks"


class Endpoint:
    """A local HTTP endpoint answering `status` with `headers`; records what it received."""

    def __init__(self, status=200, headers=None):
        self.received: list[tuple[dict, bytes]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.received.append((dict(self.headers), body))
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    server = Endpoint()
    yield server
    server.close()


def pending_delivery(vendor):
    [delivery] = emit(vendor=vendor, event="deadline.reminder", payload={"n": 1})
    return delivery


def test_a_name_rebound_to_a_private_address_is_refused_at_delivery(
    vendor_api, strict, resolver, loopback_only
):
    """DNS rebinding: public when the subscription was saved, private when the event leaves."""
    vendor, api = vendor_api
    resolver.names["crm.editeur.test"] = [PUBLIC]
    assert subscribe(api, "https://crm.editeur.test/hooks").status_code == 201
    for rebound, code in [
        ("10.0.0.5", "webhook_address_private"),
        ("169.254.169.254", "webhook_address_link_local"),
        ("127.0.0.1", "webhook_address_loopback"),
    ]:
        resolver.names["crm.editeur.test"] = [rebound]
        delivery = pending_delivery(vendor)
        outcome, _delay = attempt_delivery(delivery.pk)
        delivery.refresh_from_db()
        assert outcome == "retry"
        assert delivery.state == WebhookDelivery.State.PENDING
        assert code in delivery.last_error and "Destination refusée" in delivery.last_error
        assert delivery.response_status is None
    assert loopback_only == []  # nothing was contacted


def test_the_delivery_connects_to_the_address_it_checked_with_the_names_host_header(
    vendor_api, settings, resolver, loopback_only, endpoint
):
    """One resolution per delivery, the socket opened to its answer: the HTTP client never
    resolves the name a second time (which a rebinding DNS would answer differently)."""
    vendor, api = vendor_api
    settings.API_WEBHOOK_ALLOW_LOOPBACK = True
    resolver.names["hooks.editeur.test"] = ["127.0.0.1"]
    url = f"http://hooks.editeur.test:{endpoint.port}/recevoir?source=sons"
    assert subscribe(api, url).status_code == 201
    delivery = pending_delivery(vendor)
    resolver.calls.clear()
    assert attempt_delivery(delivery.pk) == ("delivered", None)
    assert resolver.calls == ["hooks.editeur.test"]
    assert loopback_only == ["127.0.0.1"]
    [(headers, body)] = endpoint.received
    assert headers["Host"] == f"hooks.editeur.test:{endpoint.port}"
    assert json.loads(body)["event"] == "deadline.reminder"


def test_https_is_verified_against_the_name_not_the_address(resolver, settings, monkeypatch):
    """The TLS handshake names the host (SNI, certificate check), not the pinned address."""
    import ssl

    settings.API_WEBHOOK_ALLOW_LOOPBACK = True
    resolver.names["hooks.editeur.test"] = ["127.0.0.1"]
    destination = destinations.check("https://hooks.editeur.test:8443/x")
    assert destination.addresses == ("127.0.0.1",)
    connection = destinations._connection(destination, "127.0.0.1", 1)
    assert connection.host == "hooks.editeur.test"
    assert connection._context.verify_mode == ssl.CERT_REQUIRED
    assert connection._context.check_hostname is True


def test_a_redirect_is_not_followed(vendor_api, settings, loopback_only):
    vendor, api = vendor_api
    settings.API_WEBHOOK_ALLOW_LOOPBACK = True
    target = Endpoint()
    redirecting = Endpoint(302, {"Location": f"http://127.0.0.1:{target.port}/ailleurs"})
    try:
        assert subscribe(api, f"http://127.0.0.1:{redirecting.port}/hooks").status_code == 201
        delivery = pending_delivery(vendor)
        outcome, _delay = attempt_delivery(delivery.pk)
    finally:
        redirecting.close()
        target.close()
    delivery.refresh_from_db()
    assert outcome == "retry"
    assert delivery.response_status == 302
    assert "redirection non suivie" in delivery.last_error
    assert len(redirecting.received) == 1
    assert target.received == []


def test_loopback_is_allowed_only_by_the_setting_and_check_deploy_warns(settings):
    from api.checks import webhooks_to_loopback_refused

    settings.DEBUG = False
    settings.API_WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(destinations.DestinationRefused):
        destinations.check("http://127.0.0.1:9/")
    assert webhooks_to_loopback_refused() == []
    settings.API_WEBHOOK_ALLOW_LOOPBACK = True
    assert destinations.check("http://127.0.0.1:9/").addresses == ("127.0.0.1",)
    with pytest.raises(destinations.DestinationRefused):  # unspecified reaches this machine too
        destinations.check("http://0.0.0.0:9/")
    [warning] = webhooks_to_loopback_refused()
    assert warning.id == "api.W001"
