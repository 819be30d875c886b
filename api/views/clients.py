"""The vendor's clients: registered through the API or named on its orders."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action

from api import selectors, services
from api.auth import BulkRateThrottle, TokenRateThrottle
from api.serializers import (
    BulkClientsSerializer,
    BulkJobSerializer,
    ClientSerializer,
    ClientUpdateSerializer,
    ClientWriteSerializer,
)
from sons.models import ClientKind

from .base import ApiViewSet, StrictQuery, ordering_field, valid
from .bulk import bulk_response

TAG = "Clients"


class ClientQuery(StrictQuery):
    kind = serializers.ChoiceField(choices=ClientKind.choices, required=False)
    rpps = serializers.CharField(max_length=11, required=False)
    finess = serializers.CharField(max_length=9, required=False)
    siret = serializers.CharField(max_length=14, required=False)
    search = serializers.CharField(
        max_length=100, required=False, help_text=_("Partie du nom ou de la raison sociale.")
    )
    ordering = ordering_field({"-id": (), "id": ()})


class ClientViewSet(ApiViewSet):
    serializer_class = ClientSerializer
    filter_serializer_class = ClientQuery

    def get_queryset(self):
        return selectors.clients_of(self.vendor)

    def get_throttles(self):
        if self.action == "bulk":
            return [TokenRateThrottle(), BulkRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        tags=[TAG],
        summary="Lister vos clients",
        parameters=[ClientQuery],
        responses=ClientSerializer(many=True),
    )
    def list(self, request):
        query = self.query()
        queryset = self.get_queryset()
        for name in ("kind", "rpps", "finess", "siret"):
            if name in query:
                queryset = queryset.filter(**{name: query[name]})
        if "search" in query:
            queryset = queryset.filter(legal_name__icontains=query["search"])
        return self.list_response(queryset)

    @extend_schema(tags=[TAG], summary="Lire un client (avec son ETag)", responses=ClientSerializer)
    def retrieve(self, request, pk=None):
        client = self.object_or_404(self.get_queryset(), pk)
        return self.with_etag(client, ClientSerializer(client).data)

    @extend_schema(
        tags=[TAG],
        summary="Enregistrer un client",
        description=(
            "Crée le client (201). Un client déjà connu sous le même RPPS, FINESS ou SIRET est "
            "ajouté à vos clients tel qu'il est enregistré (200)."
        ),
        request=ClientWriteSerializer,
        responses={201: ClientSerializer, 200: ClientSerializer},
    )
    def create(self, request):
        data = valid(ClientWriteSerializer, request.data)
        client, created = services.register_client(vendor=self.vendor, data=data)
        return self.with_etag(
            client,
            ClientSerializer(client).data,
            status=201 if created else 200,
            headers={"Location": f"{request.path}{client.pk}/"},
        )

    @extend_schema(
        tags=[TAG],
        summary="Modifier un client (If-Match obligatoire)",
        request=ClientUpdateSerializer,
        responses=ClientSerializer,
    )
    def partial_update(self, request, pk=None):
        client = self.object_or_404(self.get_queryset(), pk)
        changes = valid(ClientUpdateSerializer, request.data)
        client = services.update_client(
            client=client, changes=changes, if_match=request.headers.get("If-Match")
        )
        return self.with_etag(client, ClientSerializer(client).data)

    @extend_schema(
        tags=[TAG],
        summary="Créer ou modifier des clients en masse (tout ou rien)",
        description=(
            "Jusqu'à 10 000 éléments. Sans « id » : création ; avec « id » et « if_match » : "
            "modification. Au-delà de 1 000 éléments (ou avec l'en-tête "
            "« Prefer: respond-async »), le traitement est confié à une tâche : réponse 202 et "
            "suivi à l'adresse Location."
        ),
        request=BulkClientsSerializer,
        responses={200: BulkJobSerializer, 202: BulkJobSerializer},
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        return bulk_response(self, request, BulkClientsSerializer, "clients")
