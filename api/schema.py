"""The OpenAPI (3.1) description: every operation documents its problem responses and the
headers it reads (Idempotency-Key on POST, If-Match on PATCH, Prefer on bulk, X-Request-ID) and
sends (ETag, Location, Idempotent-Replayed, Retry-After, WWW-Authenticate, Content-Disposition,
X-Request-ID); ids in paths are integers; tags are ASCII names with their French display name;
the bearer token is the security scheme."""

from __future__ import annotations

import re
import unicodedata

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import get_doc

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

ERRORS = {
    400: "Requête invalide (syntaxe, types, champ inconnu ou manquant, objet inexistant)",
    401: "Jeton absent, inconnu, expiré ou révoqué",
    403: "Jeton valable mais sans droit sur cette opération",
    404: "Objet introuvable parmi ceux de votre fournisseur",
    409: "Refusé par une règle métier ou en conflit avec l'état de l'objet",
    412: "If-Match ne correspond plus à l'objet (ETag)",
    413: "Corps de la requête ou fichier trop volumineux",
    415: "Format de requête non pris en charge",
    422: "Clé d'idempotence déjà utilisée pour une autre requête",
    428: "En-tête If-Match requis",
    429: "Trop de requêtes pour ce jeton (voir Retry-After)",
    503: "Base de données momentanément hors d'atteinte, rien n'a été enregistré : réessayez "
    "après Retry-After secondes avec la même clé d'idempotence",
}

# (name, display name, description): the name is ASCII so that generated clients get clean
# module names (« depots_asp »); people read the French display name (x-displayName).
TAGS = [
    ("compte", "Compte", "Le jeton utilisé et le fournisseur pour lequel il agit."),
    (
        "catalogue",
        "Catalogue",
        "Dispositifs, calendriers en vigueur et historique, solutions, référencements.",
    ),
    ("clients", "Clients", "Vos clients (bénéficiaires) ; ETag et If-Match pour les modifier."),
    ("bdc", "BDC", "Bons de commande et leurs actions (signer, annuler…), journal, masse."),
    (
        "traitements_en_masse",
        "Traitements en masse",
        "Suivi des créations et modifications en masse confiées à une tâche.",
    ),
    ("deploiements", "Déploiements", "Date ferme, installation, vérification."),
    (
        "va_et_mom",
        "VA et MOM",
        "Vérifications d'aptitude (émission, relance, état) et mises en ordre de marche.",
    ),
    ("demandes_de_paiement", "Demandes de paiement", "Avances, soldes, prestations secondaires."),
    ("depots_asp", "Dépôts ASP", "Fichiers JSON et zip pour l'ASP, et ses fichiers de retour."),
    (
        "webhooks",
        "Webhooks",
        "Abonnements aux événements, signés HMAC-SHA256, et journal des envois.",
    ),
    (
        "administration",
        "Administration du programme",
        "Décisions de référencement, préséries, recouvrements (administrateurs seulement).",
    ),
]
TAG_NAMES = {display: name for name, display, _text in TAGS}


def tag_name(display: str) -> str:
    """The ASCII name of a tag: « Dépôts ASP » -> « depots_asp »."""
    if display in TAG_NAMES:
        return TAG_NAMES[display]
    plain = unicodedata.normalize("NFKD", display).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_") or "autres"


# The largest id a path takes (api/views/base.py: 1 to 18 digits).
PATH_ID = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
# The answers that carry the object's ETag: one client, order or webhook subscription.
ETAG_SCHEMAS = {"Client", "Order", "WebhookSubscription", "WebhookSubscriptionCreated"}


def _header(description: str, *, required: bool = False, schema: dict | None = None) -> dict:
    return {
        "description": description,
        "required": required,
        "schema": schema or {"type": "string"},
    }


_RETRY_AFTER = {"type": "string", "pattern": "^[0-9]+$"}
# Response headers, written once in components/headers and referred to by each answer.
HEADERS = {
    "ETag": _header(
        "ETag du contenu renvoyé, à reprendre dans If-Match pour le modifier.", required=True
    ),
    "Location": _header("Adresse de l'objet créé, ou du traitement en masse.", required=True),
    "PreferenceApplied": _header("« respond-async » : le traitement est confié à une tâche."),
    "IdempotentReplayed": _header(
        "« true » : réponse rejouée d'une requête précédente de même clé d'idempotence (rien "
        "n'a été refait).",
        schema={"type": "string", "enum": ["true"]},
    ),
    "RetryAfter": _header(
        "Nombre de secondes à attendre avant de réessayer.", required=True, schema=_RETRY_AFTER
    ),
    "RetryAfterIfBusy": _header(
        "Présent quand réessayer plus tard peut aboutir (la même clé d'idempotence est en "
        "cours de traitement, les fichiers ne sont pas encore prêts) : secondes à attendre.",
        schema=_RETRY_AFTER,
    ),
    "WWWAuthenticate": _header("Schéma d'authentification attendu (Bearer).", required=True),
    "ContentDisposition": _header(
        "« attachment » et le nom du fichier (ex. SONS_avance_MDV-LGC-V2_…_0001.json).",
        required=True,
    ),
    "RequestId": _header(
        "Identifiant de la requête, celui reçu dans X-Request-ID ou un nouveau : à citer au "
        "support, il figure dans nos journaux.",
        required=True,
    ),
}


def _use(name: str) -> dict:
    return {"$ref": f"#/components/headers/{name}"}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.TokenAuthentication"
    name = "jeton"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Jeton d'API « sons_… » délivré sur /portail/jetons/ ou dans "
            "l'administration.",
        }


def _codes(method: str, has_body: bool, download: bool) -> list[int]:
    codes = [400, 401, 403, 404, 429, 503]
    if method in ("POST", "PATCH", "PUT", "DELETE") or download:
        codes.append(409)
    if has_body:
        codes.append(415)
    if method in ("POST", "PATCH"):
        codes.append(413)
    if method == "POST":
        codes.append(422)
    if method == "PATCH":
        codes += [412, 428]
    return sorted(codes)


def _ref_of(response: dict) -> str | None:
    for content in response.get("content", {}).values():
        ref = content.get("schema", {}).get("$ref")
        if ref:
            return ref.rsplit("/", 1)[-1]
    return None


class ApiAutoSchema(AutoSchema):
    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if parameter["name"] == "id" and schema.get("pattern") == "^[0-9]{1,18}$":
                parameter["schema"] = dict(PATH_ID)
        return parameters

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        action = getattr(self.view, "action", None)
        # A filing's files: 409 with Retry-After while they are being built.
        download = method == "GET" and path.endswith(("/json/", "/zip/"))
        if operation.get("description") == get_doc(type(self.view)):
            # The view class's docstring is for the code's readers, not the API's.
            del operation["description"]
        parameters = operation.setdefault("parameters", [])
        if method == "POST":
            parameters.append(
                {
                    "in": "header",
                    "name": "Idempotency-Key",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    "description": "Clé unique de l'opération (ex. un UUID) : la même clé et le "
                    "même corps rendent la première réponse ; une autre requête avec la même "
                    "clé est refusée (422).",
                }
            )
        if method == "PATCH":
            parameters.append(
                {
                    "in": "header",
                    "name": "If-Match",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "ETag lu sur l'objet : la modification est refusée (412) "
                    "s'il a changé depuis.",
                }
            )
        parameters.append(
            {
                "in": "header",
                "name": "X-Request-ID",
                "required": False,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
                "description": "Identifiant de votre requête, repris dans la réponse et nos "
                "journaux (un autre est donné s'il est absent ou non conforme).",
            }
        )
        bulk = method == "POST" and "202" in operation["responses"]
        if bulk:
            parameters.append(
                {
                    "in": "header",
                    "name": "Prefer",
                    "required": False,
                    "schema": {"type": "string", "example": "respond-async"},
                    "description": "« respond-async » : confier le traitement à une tâche "
                    "(réponse 202 et suivi à l'adresse Location), quel que soit le nombre "
                    "d'éléments.",
                }
            )
        responses = operation["responses"]
        for code in _codes(method, "requestBody" in operation, download):
            responses.setdefault(
                str(code),
                {
                    "description": ERRORS[code],
                    "content": {"application/problem+json": {"schema": PROBLEM_REF}},
                },
            )
        for code, response in responses.items():
            headers = response.setdefault("headers", {})
            ref = _ref_of(response)
            if code.startswith("2") and ref in ETAG_SCHEMAS:
                headers["ETag"] = _use("ETag")
            if code.startswith("2") and (
                (bulk and ref == "BulkJob") or (action == "create" and ref in ("Order", "Client"))
            ):
                headers["Location"] = _use("Location")
            if code == "200" and download:
                headers["Content-Disposition"] = _use("ContentDisposition")
            if code == "202":
                headers["Preference-Applied"] = _use("PreferenceApplied")
            if method == "POST":
                headers["Idempotent-Replayed"] = _use("IdempotentReplayed")
            if code in ("429", "503"):
                headers["Retry-After"] = _use("RetryAfter")
            elif code == "409":
                headers["Retry-After"] = _use("RetryAfterIfBusy")
            if code == "401":
                headers["WWW-Authenticate"] = _use("WWWAuthenticate")
            headers["X-Request-ID"] = _use("RequestId")
            if not headers:
                del response["headers"]
        return operation


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "Erreur au format « problem details » (RFC 9457).",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "URI du type de problème (urn:sons:…)."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "Message en français."},
        "code": {"type": "string", "description": "Code stable, à tester par programme."},
        "field": {
            "type": ["string", "null"],
            "description": "Chemin du champ en cause (ex. items[3].client, If-Match).",
        },
        "instance": {"type": "string"},
        "job": {
            "type": "string",
            "format": "uuid",
            "description": "Traitement en masse concerné.",
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "index": {
                        "type": ["integer", "null"],
                        "description": "Rang de l'élément en cause dans une requête en masse.",
                    },
                    "field": {"type": ["string", "null"]},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def _without_nullable(node):
    """OpenAPI 3.0's « nullable » (as DRF's pagination still writes it) has no meaning in 3.1:
    the type itself admits null."""
    if isinstance(node, list):
        return [_without_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _without_nullable(value) for key, value in node.items()}
    if node.pop("nullable", False):
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            node["type"] = [*kind, "null"]
        elif kind is None:
            node = {"oneOf": [node, {"type": "null"}]}
    return node


def _binary_bodies(paths: dict) -> None:
    """A file answered as it is (a zip): in OpenAPI 3.1 its bytes are no JSON string, the
    schema names its media type only (« contentMediaType »)."""
    for item in paths.values():
        for operation in item.values():
            for response in operation.get("responses", {}).values():
                for media, content in response.get("content", {}).items():
                    if content.get("schema") == {"type": "string", "format": "binary"}:
                        content["schema"] = {"contentMediaType": media}


def postprocess(result, generator, request, public):
    """Adds the Problem component, the response headers and the tags."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["headers"] = HEADERS
    result["paths"] = _without_nullable(result.get("paths", {}))
    _binary_bodies(result["paths"])
    components["schemas"] = _without_nullable(components["schemas"])
    # Tags: an ASCII name on every operation (webhooks included), the French one displayed.
    displays = {name: (display, text) for name, display, text in TAGS}
    for section in ("paths", "webhooks"):
        for item in result.get(section, {}).values():
            for operation in item.values():
                if not isinstance(operation, dict) or "tags" not in operation:
                    continue
                for display in operation["tags"]:
                    displays.setdefault(tag_name(display), (display, ""))
                operation["tags"] = [tag_name(display) for display in operation["tags"]]
    result["tags"] = [
        {
            "name": name,
            "x-displayName": display,
            "description": f"{display} : {text}" if text else display,
        }
        for name, (display, text) in displays.items()
    ]
    return result
