"""The OpenAPI description: every operation documents its problem responses, POST its
Idempotency-Key and PATCH its If-Match; the bearer token is the security scheme."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

ERRORS = {
    400: "Requête invalide (syntaxe, types, champ inconnu ou manquant, objet inexistant)",
    401: "Jeton absent, inconnu, expiré ou révoqué",
    403: "Jeton valable mais sans droit sur cette opération",
    404: "Objet introuvable parmi ceux de votre fournisseur",
    409: "Refusé par une règle métier ou en conflit avec l'état de l'objet",
    412: "If-Match ne correspond plus à l'objet (ETag)",
    413: "Fichier trop volumineux",
    415: "Format de requête non pris en charge",
    422: "Clé d'idempotence déjà utilisée pour une autre requête",
    428: "En-tête If-Match requis",
    429: "Trop de requêtes pour ce jeton (voir Retry-After)",
}

TAGS = [
    ("Compte", "Le jeton utilisé et le fournisseur pour lequel il agit."),
    ("Catalogue", "Dispositifs, calendriers en vigueur et historique, solutions, référencements."),
    ("Clients", "Vos clients (bénéficiaires) ; ETag et If-Match pour les modifier."),
    ("BDC", "Bons de commande et leurs actions (signer, annuler…), journal, masse."),
    ("Traitements en masse", "Suivi des créations et modifications en masse confiées à une tâche."),
    ("Déploiements", "Date ferme, installation, vérification."),
    (
        "VA et MOM",
        "Vérifications d'aptitude (émission, relance, état) et mises en ordre de marche.",
    ),
    ("Demandes de paiement", "Avances, soldes, prestations secondaires."),
    ("Dépôts ASP", "Fichiers JSON et zip pour l'ASP, et ses fichiers de retour."),
    ("Webhooks", "Abonnements aux événements, signés HMAC-SHA256, et journal des envois."),
    (
        "Administration du programme",
        "Décisions de référencement, préséries, recouvrements (administrateurs seulement).",
    ),
]


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


def _codes(method: str, has_body: bool, path: str) -> list[int]:
    codes = [400, 401, 403, 404, 429]
    if method in ("POST", "PATCH", "PUT", "DELETE"):
        codes.append(409)
    if has_body:
        codes.append(415)
    if method == "POST":
        codes += [413, 422]
    if method == "PATCH":
        codes += [412, 428]
    return sorted(codes)


class ApiAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
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
        responses = operation["responses"]
        for code in _codes(method, "requestBody" in operation, path):
            responses.setdefault(
                str(code),
                {
                    "description": ERRORS[code],
                    "content": {"application/problem+json": {"schema": PROBLEM_REF}},
                },
            )
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
            "type": "string",
            "nullable": True,
            "description": "Chemin du champ en cause (ex. items[3].client, If-Match).",
        },
        "instance": {"type": "string"},
        "job": {"type": "string", "description": "Traitement en masse concerné."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "index": {
                        "type": "integer",
                        "nullable": True,
                        "description": "Rang de l'élément en cause dans une requête en masse.",
                    },
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


def postprocess(result, generator, request, public):
    """Adds the Problem component and the tags' descriptions."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    result["tags"] = [{"name": name, "description": text} for name, text in TAGS]
    return result
