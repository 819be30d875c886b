"""The webhooks in the OpenAPI description (its `webhooks` section, OAS 3.1): for each event,
the body a subscribed endpoint receives, and how that body is signed.

These serializers describe what `api.webhooks.body_of` writes around the payloads that
`api.events` (VA and claim events), `api.apps` (deadline reminders) and `api.bulk` (bulk jobs)
give to `api.webhooks.emit`; tests/api/test_webhooks.py validates real deliveries against them.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.utils import (
    OpenApiResponse,
    OpenApiWebhook,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers

from payments.models import ClaimKind

from .models import BulkJob
from .webhooks import EVENTS, TOLERANCE

TAG = "Webhooks"

SIGNING = (
    "Signé selon Standard Webhooks : en-têtes `webhook-id` (identifiant de l'événement, le même "
    "à chaque tentative), `webhook-timestamp` (secondes Unix de la tentative) et "
    "`webhook-signature` (`v1,<base64>`, HMAC-SHA256 de `<id>.<timestamp>.<corps brut>` avec le "
    "secret `whsec_…` décodé). Vérifiez-le avec la bibliothèque `standardwebhooks` : "
    "`Webhook(secret).verify(corps, en_têtes)`, qui refuse un envoi dont l'horodatage s'écarte "
    f"de plus de {int(TOLERANCE.total_seconds() // 60)} minutes de votre horloge (rejeu). "
    "Un abonnement créé avant ce schéma reçoit `X-Sons-Signature` jusqu'au changement de son "
    "secret (`POST /api/v1/webhooks/{id}/rotate-secret/`). Répondez 2xx sous 5 secondes ; "
    "sinon l'envoi est retenté."
)


def _event_field(event: str) -> serializers.CharField:
    """The event's name, one value only (a pattern: no shared enum component per event)."""
    pattern = "^" + event.replace(".", r"\.") + "$"
    field_class = type("EventName_" + event.replace(".", "_"), (serializers.CharField,), {})
    schema = {"type": "string", "pattern": pattern, "example": event}
    return extend_schema_field(schema)(field_class)(help_text=f"Toujours « {event} ».")


class VaEventData(serializers.Serializer):
    va = serializers.IntegerField(help_text="Identifiant de la VA.")
    order = serializers.IntegerField(help_text="Identifiant du BDC.")
    order_reference = serializers.CharField(help_text="Référence du BDC.")
    version = serializers.IntegerField(help_text="Numéro de la VA pour ce BDC (1, 2…).")
    status = serializers.CharField(help_text="État de la VA à l'envoi (signed, refused…).")
    decided_at = serializers.DateTimeField(
        allow_null=True, help_text="Instant de la signature ou du refus (heure de Paris)."
    )
    journal_sequence = serializers.IntegerField(
        help_text="Numéro de l'entrée du journal des transitions qui a fait l'événement."
    )


class ClaimEventData(serializers.Serializer):
    claim = serializers.IntegerField(help_text="Identifiant de la demande de paiement.")
    order = serializers.IntegerField(help_text="Identifiant du BDC.")
    order_reference = serializers.CharField(help_text="Référence du BDC.")
    kind = serializers.ChoiceField(choices=ClaimKind.choices)
    status = serializers.CharField(help_text="État de la demande à l'envoi (paid, rejected…).")
    amount_ttc_cents = serializers.IntegerField(help_text="Montant demandé TTC, en centimes.")
    paid_on = serializers.DateField(allow_null=True, help_text="Date du paiement par l'ASP.")
    paid_amount_cents = serializers.IntegerField(
        allow_null=True, help_text="Montant payé par l'ASP, en centimes."
    )
    agency_reason = serializers.CharField(
        allow_blank=True, help_text="Motif donné par l'ASP (rejet), vide sinon."
    )
    journal_sequence = serializers.IntegerField(
        help_text="Numéro de l'entrée du journal des transitions qui a fait l'événement."
    )


class DeadlineReminderData(serializers.Serializer):
    dispositif = serializers.CharField(help_text="Code du dispositif.")
    deadline_kind = serializers.CharField(help_text="Échéance rappelée (fin des avances…).")
    deadline_at = serializers.DateTimeField(
        allow_null=True, help_text="Instant de l'échéance (heure de Paris)."
    )
    legal_reference = serializers.CharField(
        allow_blank=True, help_text="Texte du calendrier en vigueur qui fixe l'échéance."
    )
    threshold_days = serializers.IntegerField(help_text="Jours restant avant l'échéance.")
    orders = serializers.ListField(
        child=serializers.CharField(), help_text="Références des BDC concernés."
    )


class BulkJobFinishedData(serializers.Serializer):
    job = serializers.UUIDField(help_text="Identifiant du traitement (/api/v1/bulk-jobs/{id}/).")
    kind = serializers.ChoiceField(choices=BulkJob.Kind.choices)
    state = serializers.ChoiceField(choices=BulkJob.State.choices)


DATA = {
    "va.signed": (VaEventData, "Une VA est signée par le client."),
    "va.refused": (VaEventData, "Une VA est refusée (réserves bloquantes)."),
    "claim.paid": (ClaimEventData, "L'ASP a payé une demande de paiement."),
    "claim.rejected": (ClaimEventData, "L'ASP a rejeté une demande de paiement."),
    "deadline.reminder": (DeadlineReminderData, "Une échéance réglementaire approche."),
    "bulk_job.finished": (BulkJobFinishedData, "Un traitement en masse est terminé."),
}


def _envelope(event: str, data: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """`{"id", "event", "created_at", "data"}`, the body of every delivery of `event`."""
    name = "".join(part.title() for part in event.replace("_", ".").split(".")) + "Event"
    fields = {
        "id": serializers.UUIDField(
            help_text="Identifiant de l'événement, égal à l'en-tête webhook-id."
        ),
        "event": _event_field(event),
        "created_at": serializers.DateTimeField(
            help_text="Instant de l'événement (ISO 8601, heure de Paris avec son décalage)."
        ),
        "data": data(),
        "__doc__": f"Corps d'un envoi « {event} ».",
    }
    return type(name, (serializers.Serializer,), fields)


if set(DATA) != set(EVENTS):  # a new event without its description fails at start-up
    raise ImproperlyConfigured(f"Webhooks sans description : {sorted(set(EVENTS) ^ set(DATA))}")

ENVELOPES = {event: _envelope(event, data) for event, (data, _summary) in DATA.items()}

# SPECTACULAR_SETTINGS["WEBHOOKS"] names this list (one import path for all of them).
WEBHOOKS = [
    OpenApiWebhook(
        name=event,
        decorator=extend_schema(
            tags=[TAG],
            summary=DATA[event][1],
            description=SIGNING,
            request={"application/json": ENVELOPES[event]},
            responses={
                200: OpenApiResponse(description="Reçu (toute réponse 2xx vaut accusé)."),
                410: OpenApiResponse(
                    description="Toute autre réponse est un échec, retenté avec un délai "
                    "croissant ; après la dernière tentative l'abonnement est désactivé."
                ),
            },
        ),
    )
    for event in EVENTS
]
