"""The vendor's webhook subscriptions and the log of their deliveries."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api import destinations, selectors, services
from api.models import WebhookDelivery
from api.serializers import (
    WebhookDeliverySerializer,
    WebhookSubscriptionCreatedSerializer,
    WebhookSubscriptionSerializer,
    WebhookSubscriptionUpdateSerializer,
    WebhookSubscriptionWriteSerializer,
)

from .base import ApiViewSet, IdOrderingQuery, StrictQuery, ordering_field, valid

TAG = "Webhooks"


class DeliveryQuery(StrictQuery):
    state = serializers.ChoiceField(choices=WebhookDelivery.State.choices, required=False)
    ordering = ordering_field({"-id": (), "id": ()})


def checked_destination(data: dict) -> dict:
    """The body's `url` must be a public HTTPS destination (api/destinations.py): a 400 on the
    field `url` with the rule's code otherwise."""
    if "url" in data:
        try:
            destinations.check(data["url"])
        except destinations.DestinationRefused as exc:
            raise serializers.ValidationError(
                {"url": [serializers.ErrorDetail(exc.message, code=exc.code)]}
            ) from None
    return data


class WebhookViewSet(ApiViewSet):
    filter_serializer_class = IdOrderingQuery
    serializer_class = WebhookSubscriptionSerializer
    http_method_names = ["get", "post", "patch", "delete"]

    def get_queryset(self):
        return selectors.subscriptions_of(self.vendor)

    @extend_schema(
        tags=[TAG],
        summary="Lister vos abonnements",
        parameters=[IdOrderingQuery],
        responses=WebhookSubscriptionSerializer(many=True),
    )
    def list(self, request):
        return self.list_response(self.get_queryset())

    @extend_schema(
        tags=[TAG],
        summary="Lire un abonnement (avec son ETag)",
        responses=WebhookSubscriptionSerializer,
    )
    def retrieve(self, request, pk=None):
        subscription = self.object_or_404(self.get_queryset(), pk)
        return self.with_etag(subscription, WebhookSubscriptionSerializer(subscription).data)

    @extend_schema(
        tags=[TAG],
        summary="S'abonner à des événements (le secret de signature n'est montré qu'ici)",
        request=WebhookSubscriptionWriteSerializer,
        responses={201: WebhookSubscriptionCreatedSerializer},
    )
    def create(self, request):
        data = checked_destination(valid(WebhookSubscriptionWriteSerializer, request.data))
        subscription = services.subscribe(vendor=self.vendor, **data)
        return self.with_etag(
            subscription, WebhookSubscriptionCreatedSerializer(subscription).data, status=201
        )

    @extend_schema(
        tags=[TAG],
        summary="Modifier ou réactiver un abonnement (If-Match obligatoire)",
        request=WebhookSubscriptionUpdateSerializer,
        responses=WebhookSubscriptionSerializer,
    )
    def partial_update(self, request, pk=None):
        subscription = self.object_or_404(self.get_queryset(), pk)
        changes = checked_destination(valid(WebhookSubscriptionUpdateSerializer, request.data))
        subscription = services.update_subscription(
            subscription=subscription, changes=changes, if_match=request.headers.get("If-Match")
        )
        return self.with_etag(subscription, WebhookSubscriptionSerializer(subscription).data)

    @extend_schema(
        tags=[TAG],
        summary="Changer le secret de signature (et passer aux Standard Webhooks)",
        description=(
            "Un nouveau secret « whsec_… », montré ici seulement, signe désormais chaque envoi, "
            "envois en attente compris ; pendant 24 heures l'ancien signe aussi (une seconde "
            "signature dans webhook-signature, ou l'ancien en-tête X-Sons-Signature), puis il "
            "cesse. Un abonnement créé avant les Standard Webhooks passe avec lui aux en-têtes "
            "webhook-id, webhook-timestamp et webhook-signature."
        ),
        request=None,
        responses=WebhookSubscriptionCreatedSerializer,
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        subscription = services.rotate_subscription_secret(
            subscription=self.object_or_404(self.get_queryset(), pk)
        )
        return self.with_etag(subscription, WebhookSubscriptionCreatedSerializer(subscription).data)

    @extend_schema(tags=[TAG], summary="Supprimer un abonnement", responses={204: None})
    def destroy(self, request, pk=None):
        services.unsubscribe(subscription=self.object_or_404(self.get_queryset(), pk))
        return Response(status=204)

    @extend_schema(
        tags=[TAG],
        summary="Journal des envois d'un abonnement",
        parameters=[DeliveryQuery],
        responses=WebhookDeliverySerializer(many=True),
    )
    @action(detail=True, methods=["get"], filter_serializer_class=DeliveryQuery)
    def deliveries(self, request, pk=None):
        subscription = self.object_or_404(self.get_queryset(), pk)
        queryset = subscription.deliveries.all()
        query = self.query()
        if "state" in query:
            queryset = queryset.filter(state=query["state"])
        return self.list_response(queryset, WebhookDeliverySerializer)
