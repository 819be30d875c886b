"""The access matrix: every route of the URL conf and every operation of the API schema, each
classified, tried as vendor A, vendor B, an anonymous visitor and a programme administrator.

A route or an operation that appears without a classification here fails
`test_every_route_is_classified` / `test_every_api_operation_is_classified`: classify it below.
Each matrix test loops over its routes and reports every failure at once, as
(route, who, method, status)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from api.models import ApiToken, WebhookSubscription
from catalogue.models import VendorMember
from core.models import JournalEntry
from tests.api.conftest import SIGNATURE
from tests.api.test_isolation import world  # noqa: F401  (the API world of vendor A)
from tests.portal.conftest import make_member as make_portal_member
from tests.portal.conftest import sign_in
from tests.portal.test_access import world as portal_world

pytestmark = pytest.mark.django_db

LOGIN = "/portail/connexion/"
ADMIN_LOGIN = "/admin/login/"

# --- Categories --------------------------------------------------------------------------------
PUBLIC = "public"  # anyone: answers without a session
TOKEN_PAGE = "token_protected"  # signing pages: an unknown token is not found
SIGNED_IN = "anonymous_redirect"  # portal pages of one's own vendor: anonymous -> sign-in
VENDOR_SCOPED = "vendor_scoped"  # takes an object id: another vendor gets 404
STAFF_ONLY = "staff_only"  # admin and dashboard: vendors and anonymous never get 200
API = "api"  # under /api/v1/: classified by the schema's operations below
METRICS = "metrics_restricted"  # 403 to strangers

# URL conf route -> category. For vendor-scoped portal routes, the concrete addresses
# (formatted with vendor A's objects) and the methods tried: see PORTAL_SCOPED.
ROUTES: dict[str, str] = {
    "": PUBLIC,
    "referencements/": PUBLIC,
    "health/": PUBLIC,
    "health/live/": PUBLIC,
    "metrics": METRICS,
    "rappels/preferences/": PUBLIC,  # a signed link in the query string
    # Signing: the token in the path is the credential.
    "signature/pro-sante-connect/retour/": PUBLIC,
    "signature/certificat-du-cachet.pem": PUBLIC,
    "signature/verifier/": PUBLIC,  # upload a sealed PDF, read what its seal guarantees
    "signature/<str:token>/": TOKEN_PAGE,
    "signature/<str:token>/pro-sante-connect/": TOKEN_PAGE,
    "signature/<str:token>/document/": TOKEN_PAGE,
    "signature/<str:token>/document.pdf": TOKEN_PAGE,
    "signature/<str:token>/signer/": TOKEN_PAGE,
    "signature/<str:token>/refuser/": TOKEN_PAGE,
    "signature/<str:token>/confirmation/": TOKEN_PAGE,
    "signature/<str:token>/document-signe.pdf": TOKEN_PAGE,
    # Portal: sign-in pages are public.
    "portail/connexion/": PUBLIC,
    "portail/connexion/code/": PUBLIC,
    "portail/connexion/double-authentification/": SIGNED_IN,
    "portail/deconnexion/": PUBLIC,
    "portail/mot-de-passe/oublie/": PUBLIC,
    "portail/mot-de-passe/<str:uidb64>/<str:token>/": TOKEN_PAGE,
    # Portal pages of one's own vendor.
    "portail/": SIGNED_IN,
    "portail/compte/": SIGNED_IN,
    "portail/jetons/": SIGNED_IN,
    "portail/utilisateurs/": SIGNED_IN,
    "portail/bdc/": SIGNED_IN,
    "portail/bdc/export.csv": SIGNED_IN,
    "portail/bdc/nouveau/": SIGNED_IN,
    "portail/clients/": SIGNED_IN,
    "portail/clients/nouveau/": SIGNED_IN,
    "portail/imports/": SIGNED_IN,
    "portail/imports/modele.csv": SIGNED_IN,
    "portail/va/": SIGNED_IN,
    "portail/demandes/": SIGNED_IN,
    "portail/depots/constituer/": SIGNED_IN,
    "portail/retours-asp/": SIGNED_IN,
    # Portal pages naming an object.
    "portail/jetons/<int:pk>/revoquer/": VENDOR_SCOPED,
    "portail/utilisateurs/<int:pk>/<str:step>/": VENDOR_SCOPED,
    "portail/bdc/<int:pk>/": VENDOR_SCOPED,
    "portail/bdc/<int:pk>/bdc.pdf": VENDOR_SCOPED,
    "portail/bdc/<int:pk>/modifier/": VENDOR_SCOPED,
    "portail/clients/<int:pk>/modifier/": VENDOR_SCOPED,
    "portail/bdc/<int:pk>/actions/<str:action>/": VENDOR_SCOPED,
    "portail/imports/<int:pk>/": VENDOR_SCOPED,
    "portail/imports/<int:pk>/progression.json": VENDOR_SCOPED,
    "portail/imports/<int:pk>/confirmer/": VENDOR_SCOPED,
    "portail/imports/<int:pk>/erreurs.csv": VENDOR_SCOPED,
    "portail/imports/<int:pk>/fichier": VENDOR_SCOPED,
    "portail/va/<int:pk>/renvoyer/": VENDOR_SCOPED,
    "portail/va/<int:pk>/va.pdf": VENDOR_SCOPED,
    "portail/va/<int:pk>/va-signee.pdf": VENDOR_SCOPED,
    "portail/demandes/ouvrir/<int:pk>/<str:kind>/": VENDOR_SCOPED,
    "portail/demandes/<int:pk>/": VENDOR_SCOPED,
    "portail/demandes/<int:pk>/facture/": VENDOR_SCOPED,
    "portail/demandes/<int:pk>/facture.pdf": VENDOR_SCOPED,
    "portail/demandes/<int:pk>/<str:step>/": VENDOR_SCOPED,
    "portail/depots/<int:pk>/": VENDOR_SCOPED,
    "portail/depots/<int:pk>/fichier.json": VENDOR_SCOPED,
    "portail/depots/<int:pk>/pieces.zip": VENDOR_SCOPED,
    "portail/depots/<int:pk>/transmettre/": VENDOR_SCOPED,
    # Dashboard (programme administrators).
    "admin/tableau-de-bord/": STAFF_ONLY,
    "admin/tableau-de-bord/<slug:code>/": STAFF_ONLY,
    "admin/tableau-de-bord/<slug:code>/<slug:slug>/": STAFF_ONLY,
    # The admin's own custom views (the ModelAdmin's standard ones are matched by ADMIN_STANDARD).
    "admin/": STAFF_ONLY,
    "admin/login/": PUBLIC,
    "admin/logout/": PUBLIC,  # signs out whoever asks: harmless
    "admin/password_change/": STAFF_ONLY,
    "admin/password_change/done/": STAFF_ONLY,
    "admin/autocomplete/": STAFF_ONLY,
    "admin/jsi18n/": STAFF_ONLY,
    "admin/r/<path:content_type_id>/<path:object_id>/": STAFF_ONLY,
    "admin/auth/user/<id>/password/": STAFF_ONLY,
    "admin/otp_totp/totpdevice/<int:pk>/config/": STAFF_ONLY,
    "admin/otp_totp/totpdevice/<int:pk>/qrcode/": STAFF_ONLY,
    "admin/(?P<url>.*)$": STAFF_ONLY,
    "admin/^(?P<app_label>auth|django_celery_beat|otp_totp|core|catalogue|sons|payments|"
    "reminders|signing|api)/$": STAFF_ONLY,
    # API: documentation and the catch-all 404; the rest is matched against the schema.
    "api/v1/schema/": PUBLIC,
    "api/v1/docs/": PUBLIC,
    "api/v1/^[\\s\\S]*$": PUBLIC,
}
for _model in (
    "sons/purchaseorder",
    "sons/verificationaptitude",
    "payments/paymentclaim",
    "payments/aspfiling",
    "payments/recovery",
):
    ROUTES[f"admin/{_model}/<int:pk>/fichier/<str:field>/"] = STAFF_ONLY
for _model in (
    "catalogue/referencing",
    "sons/purchaseorder",
    "sons/deployment",
    "sons/verificationaptitude",
    "sons/onpreseries",
    "sons/pilotperimeter",
    "sons/clientconflict",
    "payments/paymentclaim",
    "payments/aspfiling",
    "payments/recovery",
):
    ROUTES[f"admin/{_model}/<int:pk>/transition/<str:name>/"] = STAFF_ONLY
# Recording the publication of an announced calendar version (an administrator's act).
ROUTES["admin/catalogue/calendarversion/<int:pk>/publier/"] = STAFF_ONLY

# A ModelAdmin's standard views, for any registered model: staff only, tried below all the same.
ADMIN_STANDARD = re.compile(r"^admin/\w+/\w+/(|add/|<path:object_id>/(|history/|delete/|change/))$")

# Vendor-scoped portal addresses: (method, template). Templates use vendor A's objects.
ORDER_ACTIONS = [
    "sign",
    "send_order_link",
    "schedule",
    "deployment_start",
    "deployment_install",
    "deployment_verify",
    "issue_va",
    "issue_draft_va",
    "resend_va",
    "mom",
    "claim_avance",
    "claim_solde",
    "claim_secondaire",
    "conflict_keep",
    "conflict_withdraw",
    "cancel",
    "declare_default",
]
PORTAL_SCOPED: dict[str, list[tuple[str, str]]] = {
    "portail/jetons/<int:pk>/revoquer/": [("post", "/portail/jetons/{token}/revoquer/")],
    "portail/utilisateurs/<int:pk>/<str:step>/": [
        ("post", f"/portail/utilisateurs/{{member}}/{step}/")
        for step in ("role", "desactiver", "reactiver", "double-authentification")
    ],
    "portail/bdc/<int:pk>/": [("get", "/portail/bdc/{order}/"), ("post", "/portail/bdc/{order}/")],
    "portail/bdc/<int:pk>/bdc.pdf": [("get", "/portail/bdc/{order}/bdc.pdf")],
    "portail/bdc/<int:pk>/modifier/": [
        ("get", "/portail/bdc/{order}/modifier/"),
        ("post", "/portail/bdc/{order}/modifier/"),
    ],
    "portail/clients/<int:pk>/modifier/": [
        ("get", "/portail/clients/{client}/modifier/"),
        ("post", "/portail/clients/{client}/modifier/"),
    ],
    "portail/bdc/<int:pk>/actions/<str:action>/": [
        ("post", f"/portail/bdc/{{order}}/actions/{action}/") for action in ORDER_ACTIONS
    ],
    "portail/imports/<int:pk>/": [("get", "/portail/imports/{bulk}/")],
    "portail/imports/<int:pk>/progression.json": [
        ("get", "/portail/imports/{bulk}/progression.json")
    ],
    "portail/imports/<int:pk>/confirmer/": [("post", "/portail/imports/{bulk}/confirmer/")],
    "portail/imports/<int:pk>/erreurs.csv": [("get", "/portail/imports/{bulk}/erreurs.csv")],
    "portail/imports/<int:pk>/fichier": [("get", "/portail/imports/{bulk}/fichier")],
    "portail/va/<int:pk>/renvoyer/": [("post", "/portail/va/{va}/renvoyer/")],
    "portail/va/<int:pk>/va.pdf": [("get", "/portail/va/{va}/va.pdf")],
    "portail/va/<int:pk>/va-signee.pdf": [("get", "/portail/va/{va}/va-signee.pdf")],
    "portail/demandes/ouvrir/<int:pk>/<str:kind>/": [
        ("post", f"/portail/demandes/ouvrir/{{order}}/{kind}/")
        for kind in ("avance", "solde", "secondaire")
    ],
    "portail/demandes/<int:pk>/": [("get", "/portail/demandes/{claim}/")],
    "portail/demandes/<int:pk>/facture/": [("post", "/portail/demandes/{claim}/facture/")],
    "portail/demandes/<int:pk>/facture.pdf": [("get", "/portail/demandes/{claim}/facture.pdf")],
    "portail/demandes/<int:pk>/<str:step>/": [
        ("post", f"/portail/demandes/{{claim}}/{step}/")
        for step in ("prete", "reprendre", "annuler")
    ]
    + [("post", "/portail/demandes/{avance}/reprendre/")],
    "portail/depots/<int:pk>/": [("get", "/portail/depots/{filing}/")],
    "portail/depots/<int:pk>/fichier.json": [("get", "/portail/depots/{filing}/fichier.json")],
    "portail/depots/<int:pk>/pieces.zip": [("get", "/portail/depots/{filing}/pieces.zip")],
    "portail/depots/<int:pk>/transmettre/": [("post", "/portail/depots/{filing}/transmettre/")],
}
# The owner's GETs that are documented not to answer 200.
OWNER_NOT_200 = {"/portail/va/{va}/va-signee.pdf": 404}  # the VA is not signed yet

# --- API operations (from api/openapi.yaml) ------------------------------------------------------
API_VENDOR_SCOPED = "api_vendor_scoped"  # {id} of a vendor's object: another vendor gets 404
API_VENDOR = "api_vendor"  # a vendor's collection or action without id: 401 anonymous
API_SHARED = "api_shared"  # reference data every vendor reads (dispositifs)
API_STAFF_ONLY = "api_staff_only"  # /admin/: a vendor's token gets 403/404

# operation "METHOD path" -> (category, template for vendor-scoped operations)
API_OPERATIONS: dict[str, tuple[str, str | None]] = {}
_SCOPED_API = {
    "/api/v1/bulk-jobs/{id}/": "job",
    "/api/v1/claims/{id}/": "claim",
    "/api/v1/claims/{id}/cancel/": "claim",
    "/api/v1/claims/{id}/invoice/": "claim",
    "/api/v1/claims/{id}/make-ready/": "claim",
    "/api/v1/claims/{id}/reopen/": "claim",
    "/api/v1/clients/{id}/": "client",
    "/api/v1/deployments/{id}/": "deployment",
    "/api/v1/deployments/{id}/abandon/": "deployment",
    "/api/v1/deployments/{id}/install/": "deployment",
    "/api/v1/deployments/{id}/start/": "deployment",
    "/api/v1/deployments/{id}/verify/": "deployment",
    "/api/v1/filings/{id}/": "filing",
    "/api/v1/filings/{id}/json/": "filing",
    "/api/v1/filings/{id}/transmit/": "filing",
    "/api/v1/filings/{id}/zip/": "filing",
    "/api/v1/moms/{id}/": "mom",
    "/api/v1/orders/{id}/": "order",
    "/api/v1/orders/{id}/cancel/": "order",
    "/api/v1/orders/{id}/claims/": "order",
    "/api/v1/orders/{id}/completion/": "order",
    "/api/v1/orders/{id}/confirm/": "order",
    "/api/v1/orders/{id}/declare-default/": "order",
    "/api/v1/orders/{id}/deployments/": "order",
    "/api/v1/orders/{id}/journal/": "order",
    "/api/v1/orders/{id}/mom/": "order",
    "/api/v1/orders/{id}/sign/": "draft",
    "/api/v1/orders/{id}/vas/": "order",
    "/api/v1/referencings/{id}/": "referencing",
    "/api/v1/referencings/{id}/submit/": "referencing",
    "/api/v1/solutions/{id}/": "solution",
    "/api/v1/vas/{id}/": "va",
    "/api/v1/vas/{id}/issue/": "va",
    "/api/v1/vas/{id}/resend/": "va",
    "/api/v1/webhooks/{id}/": "webhook",
    "/api/v1/webhooks/{id}/deliveries/": "webhook",
    "/api/v1/webhooks/{id}/rotate-secret/": "webhook",
    "/api/v1/conflicts/{id}/": "conflict",
    "/api/v1/conflicts/{id}/answer/": "conflict",
}
_SCOPED_METHODS = {
    "/api/v1/clients/{id}/": ("get", "patch"),
    "/api/v1/orders/{id}/": ("get", "patch"),
    "/api/v1/webhooks/{id}/": ("get", "patch", "delete"),
}
for _path, _key in _SCOPED_API.items():
    _default = (
        ("get",)
        if _path.endswith(("{id}/", "json/", "zip/", "journal/", "deliveries/"))
        else ("post",)
    )
    for _method in _SCOPED_METHODS.get(_path, _default):
        API_OPERATIONS[f"{_method.upper()} {_path}"] = (
            API_VENDOR_SCOPED,
            _path.replace("{id}", "{" + _key + "}"),
        )
# The draft is the one PATCHed: a signed order refuses a PATCH whoever asks.
API_OPERATIONS["PATCH /api/v1/orders/{id}/"] = (API_VENDOR_SCOPED, "/api/v1/orders/{draft}/")
for _op in (
    "GET /api/v1/me/",
    "GET /api/v1/claims/",
    "GET /api/v1/clients/",
    "POST /api/v1/clients/",
    "POST /api/v1/clients/bulk/",
    "GET /api/v1/deployments/",
    "POST /api/v1/feedback-imports/",
    "GET /api/v1/filings/",
    "POST /api/v1/filings/",
    "GET /api/v1/moms/",
    "GET /api/v1/orders/",
    "POST /api/v1/orders/",
    "POST /api/v1/orders/bulk/",
    "POST /api/v1/orders/completions/",
    "GET /api/v1/referencings/",
    "POST /api/v1/referencings/",
    "GET /api/v1/solutions/",
    "GET /api/v1/vas/",
    "GET /api/v1/webhooks/",
    "POST /api/v1/webhooks/",
    "GET /api/v1/conflicts/",
):
    API_OPERATIONS[_op] = (API_VENDOR, None)
API_OPERATIONS["GET /api/v1/dispositifs/"] = (API_SHARED, None)
API_OPERATIONS["GET /api/v1/dispositifs/{code}/"] = (API_SHARED, None)
for _op in (
    "GET /api/v1/admin/conflicts/",
    "GET /api/v1/admin/conflicts/{id}/",
    "POST /api/v1/admin/conflicts/{id}/decide/",
    "GET /api/v1/admin/preseries/",
    "GET /api/v1/admin/preseries/{id}/",
    "POST /api/v1/admin/preseries/{id}/reject/",
    "POST /api/v1/admin/preseries/{id}/validate/",
    "GET /api/v1/admin/recoveries/",
    "POST /api/v1/admin/recoveries/",
    "GET /api/v1/admin/recoveries/{id}/",
    "POST /api/v1/admin/recoveries/{id}/cancel/",
    "POST /api/v1/admin/recoveries/{id}/notify/",
    "POST /api/v1/admin/recoveries/{id}/settle/",
    "GET /api/v1/admin/referencings/",
    "GET /api/v1/admin/referencings/{id}/",
    "POST /api/v1/admin/referencings/{id}/reference/",
    "POST /api/v1/admin/referencings/{id}/reject/",
    "POST /api/v1/admin/referencings/{id}/start-review/",
    "POST /api/v1/admin/referencings/{id}/withdraw/",
):
    API_OPERATIONS[_op] = (API_STAFF_ONLY, None)

API_BODIES = {
    "sign": SIGNATURE,
    "cancel": {"sworn_statement": "Je déclare…"},
    "declare-default": {"reason": "Impossible"},
    "deployments": {"firm_date": "2030-01-01"},
    "vas": {"delivered_summary": "Fait"},
    "mom": {"signer_name": "X", "signer_role": "Y", "statement": "Z"},
    "claims": {"kind": "solde"},
    "abandon": {"reason": "Abandon"},
}
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


# --- Enumeration ---------------------------------------------------------------------------------
def url_routes() -> dict[str, str]:
    """Every route of the URL conf: its full route string -> the view's dotted name."""
    found: dict[str, str] = {}

    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                found[prefix + str(pattern.pattern)] = pattern.lookup_str

    walk(get_resolver().url_patterns, "")
    return found


def schema_operations() -> set[str]:
    schema = yaml.safe_load((Path(settings.BASE_DIR) / "api" / "openapi.yaml").read_text())
    return {
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def api_route_as_schema_path(route: str) -> str:
    """'api/v1/^orders/(?P<pk>[0-9]{1,18})/sign/$' -> '/api/v1/orders/{id}/sign/'."""
    rest = route.removeprefix("api/v1/").removeprefix("^").removesuffix("$")
    rest = re.sub(r"\(\?P<pk>[^)]*\)", "{id}", rest)
    rest = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", rest)
    return "/api/v1/" + rest


def classify(route: str) -> str | None:
    if route in ROUTES:
        return ROUTES[route]
    if ADMIN_STANDARD.match(route):
        return STAFF_ONLY
    if route.startswith("api/v1/"):
        return API
    return None


def sample_path(route: str, objects: dict) -> str:
    """A concrete address for a route: ids of vendor A's objects, or plausible values."""
    path = "/" + route
    path = re.sub(r"\(\?P<app_label>[^)]*\)", "sons", path)
    path = re.sub(r"\(\?P<url>[^)]*\)", "nulle-part/", path)
    path = path.replace("^", "").replace("$", "")
    path = path.replace("<slug:code>", objects["dispositif_code"])
    path = re.sub(r"<((int|path):)?(pk|id|content_type_id)>", str(objects["order"]), path)
    path = path.replace("<path:object_id>", str(objects["order"]))
    path = re.sub(r"<(str|slug):\w+>", "x", path)
    return path


def status_of(response) -> int:
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
        stream = getattr(response, "file_to_stream", None)
        if stream is not None:
            stream.close()
    return response.status_code


# --- The world -----------------------------------------------------------------------------------
@pytest.fixture
def matrix(
    world,  # noqa: F811  (the fixture imported from tests.api.test_isolation)
    side_a,
    side_b,
    dispositif,
    admin_user,
    django_capture_on_commit_callbacks,
    django_user_model,
):
    """Vendor A's objects (API and portal), and a signed-in client for A, B and staff."""
    from sons.models import ClientConflict
    from sons.services import clients as client_services
    from tests.api.conftest import make_side, signed_order

    side_c = make_side(django_user_model, admin_user, dispositif, "C")
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    owner = make_portal_member(side_a.vendor, role=VendorMember.Role.ADMIN)
    objects = dict(world)
    portal = portal_world(side_a.vendor, owner, render=django_capture_on_commit_callbacks)
    objects.update({f"p_{k}": v for k, v in portal.items()})
    objects.update(
        {
            "order_p": portal["order"],
            "token": ApiToken.objects.filter(vendor=side_a.vendor).first().pk,
            "dispositif_code": dispositif.code,
        }
    )
    # A conflict of A's client with a third vendor's order: B, outside it, never reaches it.
    client_services.register_client(
        vendor=side_c.vendor,
        actor=side_c.user,
        data={
            "kind": side_a.client.kind,
            "legal_name": side_a.client.legal_name,
            "rpps": side_a.client.rpps,
            "email": "secretariat@example.invalid",
        },
    )
    side_c.client = side_a.client
    signed_order(side_c, dispositif)
    objects["conflict"] = ClientConflict.objects.get(client=side_a.client).pk
    b_user = make_portal_member(side_b.vendor, role=VendorMember.Role.ADMIN)
    admin_user.is_staff = True
    admin_user.save()
    TOTPDevice.objects.create(user=admin_user, name="test", confirmed=True)
    clients = {
        "A": sign_in(Client(), owner),
        "B": sign_in(Client(), b_user),
        "anonymous": Client(),
        "staff": sign_in(Client(), admin_user),
    }
    return objects, portal, clients


def fingerprint() -> tuple:
    """What a refused request must leave as it was."""
    from payments.models import AspFiling, PaymentClaim
    from sons.models import PurchaseOrder

    return (
        JournalEntry.objects.count(),
        WebhookSubscription.objects.count(),
        ApiToken.objects.filter(revoked_at__isnull=True).count()
        if hasattr(ApiToken, "revoked_at")
        else ApiToken.objects.count(),
        VendorMember.objects.filter(user__is_active=True).count(),
        sorted(VendorMember.objects.values_list("pk", "role")),
        sorted(PurchaseOrder.objects.values_list("pk", "status")),
        sorted(PaymentClaim.objects.values_list("pk", "status")),
        sorted(AspFiling.objects.values_list("pk", "status")),
    )


# --- Tests ---------------------------------------------------------------------------------------
def test_every_route_is_classified():
    routes = url_routes()
    unclassified = sorted(r for r in routes if classify(r) is None)
    assert not unclassified, f"routes without a classification in the matrix: {unclassified}"
    stale = sorted(set(ROUTES) - set(routes))
    assert not stale, f"classified routes that no longer exist: {stale}"


def test_every_api_operation_is_classified():
    operations = schema_operations()
    unclassified = sorted(operations - set(API_OPERATIONS))
    assert not unclassified, f"API operations without a classification: {unclassified}"
    stale = sorted(set(API_OPERATIONS) - operations)
    assert not stale, f"classified API operations absent from the schema: {stale}"
    # ... and every API route of the URL conf is an operation of the schema.
    schema_paths = {op.split(" ", 1)[1] for op in operations}
    undocumented = sorted(
        route
        for route, category in ((r, classify(r)) for r in url_routes())
        if category == API and api_route_as_schema_path(route) not in schema_paths
    )
    assert not undocumented, f"API routes absent from the schema: {undocumented}"


def test_portal_and_pages_matrix(matrix):
    """Every non-API route as anonymous, vendor A, vendor B and staff."""
    objects, _portal, clients = matrix
    failures: list[tuple] = []
    requests = 0

    def record(route, who, method, status, expected):
        nonlocal requests
        requests += 1
        if status not in expected:
            failures.append((route, who, method, status))

    portal_objects = {**objects, **{k[2:]: v for k, v in objects.items() if k.startswith("p_")}}
    portal_objects["token"] = objects["token"]
    for route, _view in sorted(url_routes().items()):
        category = classify(route)
        if category == API:
            continue
        if category == VENDOR_SCOPED:
            for method, template in PORTAL_SCOPED[route]:
                url = template.format(**portal_objects)
                data = {"dispositif": objects["p_dispositif"], "kind": "avance", "role": "staff"}
                before = fingerprint()
                response = getattr(clients["B"], method)(url, data if method == "post" else None)
                record(url, "B", method, status_of(response), {403, 404, 405})
                if fingerprint() != before:
                    failures.append((url, "B", method, "changed data"))
                for verb in ("put", "patch", "delete") if method == "get" else ():
                    before = fingerprint()
                    status = status_of(getattr(clients["B"], verb)(url))
                    record(url, "B", verb, status, {403, 404, 405})
                    if fingerprint() != before:
                        failures.append((url, "B", verb, "changed data"))
                before = fingerprint()
                response = getattr(clients["anonymous"], method)(url)
                record(url, "anonymous", method, status_of(response), {302})
                if response.status_code == 302 and not response["Location"].startswith(LOGIN):
                    failures.append((url, "anonymous", method, response["Location"]))
                if fingerprint() != before:
                    failures.append((url, "anonymous", method, "changed data"))
                if method == "get":
                    expected = OWNER_NOT_200.get(template, 200)
                    record(url, "A", "get", status_of(clients["A"].get(url)), {expected})
            continue
        url = sample_path(route, objects)
        if category == STAFF_ONLY:
            for who in ("A", "B", "anonymous"):
                response = clients[who].get(url)
                record(url, who, "get", status_of(response), {302, 403, 404})
                if response.status_code == 302 and not response["Location"].startswith(
                    (ADMIN_LOGIN, LOGIN)
                ):
                    failures.append((url, who, "get", response["Location"]))
        elif category == SIGNED_IN:
            response = clients["anonymous"].get(url)
            record(url, "anonymous", "get", status_of(response), {302})
            if response.status_code == 302 and not response["Location"].startswith(LOGIN):
                failures.append((url, "anonymous", "get", response["Location"]))
            for who in ("A", "B"):
                record(url, who, "get", status_of(clients[who].get(url)), {200, 405})
        elif category == TOKEN_PAGE:
            for who in ("anonymous", "B"):
                for verb in ("get", "post"):
                    before = fingerprint()
                    status = status_of(getattr(clients[who], verb)(url))
                    record(url, who, verb, status, {302, 400, 404, 405, 410})
                    if fingerprint() != before:
                        failures.append((url, who, verb, "changed data"))
        elif category == METRICS:
            for who in ("anonymous", "A"):
                record(url, who, "get", status_of(clients[who].get(url)), {403})
        elif category == PUBLIC:
            expected = {200, 302, 400, 404, 405, 503}
            record(url, "anonymous", "get", status_of(clients["anonymous"].get(url)), expected)
    # The control: staff open the dashboard and the admin.
    for url in ("/admin/", "/admin/tableau-de-bord/"):
        record(url, "staff", "get", status_of(clients["staff"].get(url)), {200})
    assert requests > 900, f"only {requests} requests: the matrix shrank"  # 1012 today
    assert not failures, f"{len(failures)} access failures: {failures}"


def _api_call(api, method, url):
    action = url.rstrip("/").rsplit("/", 1)[-1]
    if method == "get":
        return api.get(url)
    if method == "post" and action == "invoice":
        return api.post(url, {"number": "F-1"}, format="multipart")
    if method == "post":
        return api.post(url, API_BODIES.get(action, {}))
    if method == "patch":
        return api.patch(url, {"vendor_reference": "X"}, if_match="*")
    if method == "put":
        return api.client.put(url, {}, format="json")
    return api.delete(url)


def test_api_matrix(matrix, side_a, side_b, admin_api):
    """Every API operation of the schema as anonymous, vendor A, vendor B and staff."""
    from tests.api.conftest import Api

    objects, _portal, _clients = matrix
    anonymous = Api()
    failures: list[tuple] = []
    requests = 0

    def record(url, who, method, status, expected):
        nonlocal requests
        requests += 1
        if status not in expected:
            failures.append((url, who, method, status))

    for operation, (category, template) in sorted(API_OPERATIONS.items()):
        method, path = operation.split(" ", 1)
        method = method.lower()
        if category == API_VENDOR_SCOPED:
            url = template.format(**objects)
            for verb in HTTP_METHODS:
                if verb != method and not (method == "get" and verb == "put"):
                    continue
                before = fingerprint()
                response = _api_call(side_b.api, verb, url)
                record(url, "B", verb, status_of(response), {403, 404, 405})
                if fingerprint() != before:
                    failures.append((url, "B", verb, "changed data"))
            record(url, "anonymous", method, status_of(_api_call(anonymous, method, url)), {401})
            if method == "get":
                record(url, "A", "get", status_of(side_a.api.get(url)), {200})
            continue
        url = path.replace("{code}", objects["dispositif_code"]).replace(
            "{id}", str(objects["order"])
        )
        if method == "get":
            record(url, "anonymous", "get", status_of(anonymous.get(url)), {401})
        else:
            before = fingerprint()
            record(url, "anonymous", method, status_of(_api_call(anonymous, method, url)), {401})
            if fingerprint() != before:
                failures.append((url, "anonymous", method, "changed data"))
        if category == API_STAFF_ONLY:
            for who, side in (("A", side_a), ("B", side_b)):
                before = fingerprint()
                status = status_of(_api_call(side.api, method, url))
                record(url, who, method, status, {403, 404})
                if fingerprint() != before:
                    failures.append((url, who, method, "changed data"))
            if method == "get" and "{id}" not in path:
                record(url, "staff", "get", status_of(admin_api.get(url)), {200})
        elif method == "get":
            for who, side in (("A", side_a), ("B", side_b)):
                record(url, who, "get", status_of(side.api.get(url)), {200})
    # Lists: none of vendor A's ids shows in vendor B's lists.
    for url, key in (
        ("/api/v1/orders/", "order"),
        ("/api/v1/clients/", "client"),
        ("/api/v1/deployments/", "deployment"),
        ("/api/v1/vas/", "va"),
        ("/api/v1/moms/", "mom"),
        ("/api/v1/claims/", "claim"),
        ("/api/v1/filings/", "filing"),
        ("/api/v1/referencings/", "referencing"),
        ("/api/v1/solutions/", "solution"),
        ("/api/v1/webhooks/", "webhook"),
        ("/api/v1/conflicts/", "conflict"),
    ):
        requests += 1
        ids = {row["id"] for row in side_b.api.get(url).json()["results"]}
        if objects[key] in ids:
            failures.append((url, "B", "get", f"lists A's {key} {objects[key]}"))
    assert requests > 200, f"only {requests} requests: the matrix shrank"  # 216 today
    assert not failures, f"{len(failures)} access failures: {failures}"
