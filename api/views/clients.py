"""The vendor's clients: the shared identity with the vendor's own record of each (registered
through the API or the portal, or named on its orders)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action

from api import selectors
from api.auth import BulkRateThrottle, TokenRateThrottle
from api.bulk import run_command
from api.concurrency import matches
from api.serializers import (
    BulkClientsSerializer,
    BulkJobSerializer,
    ClientSerializer,
    ClientUpdateSerializer,
    ClientWriteSerializer,
)
from sons.models import ClientKind
from sons.services import clients as client_services

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

    # The client's id is the shared identity's: lists are ordered by it.
    orderings = {"-id": ("-client_id",), "id": ("client_id",)}

    def get_queryset(self):
        return selectors.client_records_of(self.vendor)

    def record_or_404(self, pk):
        return get_object_or_404(self.get_queryset(), client_id=pk)

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
                queryset = queryset.filter(**{f"client__{name}": query[name]})
        if "search" in query:
            queryset = queryset.filter(client__legal_name__icontains=query["search"])
        return self.list_response(queryset)

    @extend_schema(tags=[TAG], summary="Lire un client (avec son ETag)", responses=ClientSerializer)
    def retrieve(self, request, pk=None):
        record = self.record_or_404(pk)
        return self.with_etag(record, ClientSerializer(record).data)

    @extend_schema(
        tags=[TAG],
        summary="Enregistrer un client",
        description=(
            "Enregistre le client parmi les vôtres (201), avec vos coordonnées et ses "
            "caractéristiques. Un client déjà connu sous le même RPPS, FINESS ou SIRET garde son "
            "identité (nature, identifiants, nom) ; vos coordonnées restent les vôtres : aucun "
            "autre fournisseur ne les lit ni ne les modifie. Un client que vous aviez déjà "
            "enregistré est renvoyé tel que vous l'avez enregistré (200), ses champs vides "
            "complétés par ceux de la requête."
        ),
        request=ClientWriteSerializer,
        responses={201: ClientSerializer, 200: ClientSerializer},
    )
    def create(self, request):
        data = valid(ClientWriteSerializer, request.data)
        (result,) = run_command(
            client_services.save_clients, vendor=self.vendor, items=[data], actor=request.user
        )
        record, created = self.record_or_404(result["id"]), result["created"]
        return self.with_etag(
            record,
            ClientSerializer(record).data,
            status=201 if created else 200,
            headers={"Location": f"{request.path}{record.client_id}/"},
        )

    @extend_schema(
        tags=[TAG],
        summary="Modifier un client (If-Match obligatoire)",
        request=ClientUpdateSerializer,
        responses=ClientSerializer,
    )
    def partial_update(self, request, pk=None):
        record = self.record_or_404(pk)
        changes = valid(ClientUpdateSerializer, request.data)
        run_command(
            client_services.save_clients,
            vendor=self.vendor,
            items=[
                {"id": record.client_id, "if_match": request.headers.get("If-Match"), **changes}
            ],
            actor=request.user,
            precondition=matches,
        )
        record = self.record_or_404(pk)
        return self.with_etag(record, ClientSerializer(record).data)

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
