"""The programme administrators' read-and-decide endpoints: referencing decisions, pre-series
validation, recoveries. Tokens of Django staff users only."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api.serializers import (
    PreseriesSerializer,
    ReasonSerializer,
    RecoveryCreateSerializer,
    RecoverySerializer,
    ReferenceDecisionSerializer,
    ReferencingSerializer,
    SettleSerializer,
)
from catalogue import services as catalogue_services
from catalogue.models import Referencing, ReferencingStatus
from payments.models import Recovery
from payments.models.recovery import RecoveryStatus
from payments.services import recovery as recovery_services
from sons.models import OnPreseries, PreseriesStatus, PurchaseOrder
from sons.services import gates

from .base import AdminViewSet, StrictQuery, field_lookup, ordering_field, valid

TAG = "Administration du programme"


class AdminReferencingQuery(StrictQuery):
    status = serializers.ChoiceField(choices=ReferencingStatus.choices, required=False)
    dispositif = serializers.SlugField(max_length=40, required=False)
    ordering = ordering_field({"-id": (), "id": ()})


class AdminReferencingViewSet(AdminViewSet):
    serializer_class = ReferencingSerializer
    filter_serializer_class = AdminReferencingQuery

    def get_queryset(self):
        return Referencing.objects.select_related("dispositif", "solution_version__solution")

    def fresh(self, pk):
        return Response(ReferencingSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(
        tags=[TAG],
        summary="Lister les dossiers de référencement",
        parameters=[AdminReferencingQuery],
        responses=ReferencingSerializer(many=True),
    )
    def list(self, request):
        query = self.query()
        queryset = self.get_queryset()
        if "status" in query:
            queryset = queryset.filter(status=query["status"])
        if "dispositif" in query:
            queryset = queryset.filter(dispositif__code=query["dispositif"])
        return self.list_response(queryset)

    @extend_schema(tags=[TAG], summary="Lire un dossier", responses=ReferencingSerializer)
    def retrieve(self, request, pk=None):
        return Response(ReferencingSerializer(self.object_or_404(self.get_queryset(), pk)).data)

    @extend_schema(
        tags=[TAG],
        summary="Mettre le dossier en instruction",
        request=None,
        responses=ReferencingSerializer,
    )
    @action(detail=True, methods=["post"], url_path="start-review")
    def start_review(self, request, pk=None):
        catalogue_services.start_review(
            referencing=self.object_or_404(self.get_queryset(), pk), actor=request.user
        )
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG],
        summary="Référencer (numéro ANS)",
        request=ReferenceDecisionSerializer,
        responses=ReferencingSerializer,
    )
    @action(detail=True, methods=["post"])
    def reference(self, request, pk=None):
        referencing = self.object_or_404(self.get_queryset(), pk)
        data = valid(ReferenceDecisionSerializer, request.data)
        catalogue_services.reference_solution(
            referencing=referencing,
            actor=request.user,
            ans_number=data["ans_number"],
            referenced_on=data.get("referenced_on"),
        )
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG],
        summary="Refuser (motivé)",
        request=ReasonSerializer,
        responses=ReferencingSerializer,
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        referencing = self.object_or_404(self.get_queryset(), pk)
        data = valid(ReasonSerializer, request.data)
        catalogue_services.reject_referencing(
            referencing=referencing, actor=request.user, reasons=data["reason"]
        )
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG],
        summary="Retirer un référencement (motivé)",
        request=ReasonSerializer,
        responses=ReferencingSerializer,
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        referencing = self.object_or_404(self.get_queryset(), pk)
        data = valid(ReasonSerializer, request.data)
        catalogue_services.withdraw_referencing(
            referencing=referencing, actor=request.user, reason=data["reason"]
        )
        return self.fresh(pk)


class PreseriesQuery(StrictQuery):
    status = serializers.ChoiceField(choices=PreseriesStatus.choices, required=False)
    ordering = ordering_field({"-id": (), "id": ()})


class AdminPreseriesViewSet(AdminViewSet):
    serializer_class = PreseriesSerializer
    filter_serializer_class = PreseriesQuery

    def get_queryset(self):
        return OnPreseries.objects.select_related("solution_version__solution")

    def fresh(self, pk):
        return Response(PreseriesSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(
        tags=[TAG],
        summary="Lister les préséries Ordonnance numérique",
        parameters=[PreseriesQuery],
        responses=PreseriesSerializer(many=True),
    )
    def list(self, request):
        query = self.query()
        queryset = self.get_queryset()
        if "status" in query:
            queryset = queryset.filter(status=query["status"])
        return self.list_response(queryset)

    @extend_schema(tags=[TAG], summary="Lire une présérie", responses=PreseriesSerializer)
    def retrieve(self, request, pk=None):
        return Response(PreseriesSerializer(self.object_or_404(self.get_queryset(), pk)).data)

    @extend_schema(
        tags=[TAG], summary="Valider la présérie", request=None, responses=PreseriesSerializer
    )
    @action(detail=True, methods=["post"])
    def validate(self, request, pk=None):
        gates.validate_preseries(
            preseries=self.object_or_404(self.get_queryset(), pk), actor=request.user
        )
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG],
        summary="Rejeter la présérie (motivé)",
        request=ReasonSerializer,
        responses=PreseriesSerializer,
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        preseries = self.object_or_404(self.get_queryset(), pk)
        data = valid(ReasonSerializer, request.data)
        gates.reject_preseries(preseries=preseries, actor=request.user, reasons=data["reason"])
        return self.fresh(pk)


class RecoveryQuery(StrictQuery):
    status = serializers.ChoiceField(choices=RecoveryStatus.choices, required=False)
    order = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    ordering = ordering_field({"-id": (), "id": ()})


class AdminRecoveryViewSet(AdminViewSet):
    serializer_class = RecoverySerializer
    filter_serializer_class = RecoveryQuery

    def get_queryset(self):
        return Recovery.objects.all()

    def fresh(self, pk, status=200):
        return Response(RecoverySerializer(self.get_queryset().get(pk=pk)).data, status=status)

    @extend_schema(
        tags=[TAG],
        summary="Lister les recouvrements",
        parameters=[RecoveryQuery],
        responses=RecoverySerializer(many=True),
    )
    def list(self, request):
        query = self.query()
        queryset = self.get_queryset()
        if "status" in query:
            queryset = queryset.filter(status=query["status"])
        if "order" in query:
            queryset = queryset.filter(order_id=query["order"])
        return self.list_response(queryset)

    @extend_schema(tags=[TAG], summary="Lire un recouvrement", responses=RecoverySerializer)
    def retrieve(self, request, pk=None):
        return Response(RecoverySerializer(self.object_or_404(self.get_queryset(), pk)).data)

    @extend_schema(
        tags=[TAG],
        summary="Ouvrir un recouvrement sur un BDC",
        request=RecoveryCreateSerializer,
        responses={201: RecoverySerializer},
    )
    def create(self, request):
        data = valid(RecoveryCreateSerializer, request.data)
        order = field_lookup(PurchaseOrder.objects.all(), data["order"], "order", _("BDC inconnu."))
        recovery = recovery_services.open_recovery(
            order=order, cause=data["cause"], reason=data["reason"], actor=request.user
        )
        return self.fresh(recovery.pk, status=201)

    @extend_schema(
        tags=[TAG],
        summary="Notifier le recouvrement (avis au fournisseur)",
        request=None,
        responses=RecoverySerializer,
    )
    @action(detail=True, methods=["post"])
    def notify(self, request, pk=None):
        recovery_services.notify_recovery(
            recovery=self.object_or_404(self.get_queryset(), pk), actor=request.user
        )
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG],
        summary="Constater le remboursement",
        request=SettleSerializer,
        responses=RecoverySerializer,
    )
    @action(detail=True, methods=["post"])
    def settle(self, request, pk=None):
        recovery = self.object_or_404(self.get_queryset(), pk)
        data = valid(SettleSerializer, request.data)
        recovery_services.settle_recovery(
            recovery=recovery, settled_cents=data["settled_cents"], actor=request.user
        )
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG],
        summary="Annuler le recouvrement (motivé)",
        request=ReasonSerializer,
        responses=RecoverySerializer,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        recovery = self.object_or_404(self.get_queryset(), pk)
        data = valid(ReasonSerializer, request.data)
        recovery_services.cancel_recovery(
            recovery=recovery, reason=data["reason"], actor=request.user
        )
        return self.fresh(pk)
