"""Deployments, VA and MOM of the vendor's orders."""

from __future__ import annotations

import importlib

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api import selectors
from api.errors import ApiProblem
from api.serializers import DeploymentSerializer, MomSerializer, ReasonSerializer, VaSerializer
from sons.models import DeploymentStatus, VaStatus
from sons.services import acceptance, deployments

from .base import ApiViewSet, StrictQuery, ordering_field, valid


def order_id_field() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)


class DeploymentQuery(StrictQuery):
    order = order_id_field()
    status = serializers.ChoiceField(choices=DeploymentStatus.choices, required=False)
    ordering = ordering_field({"-id": (), "id": ()})


class DeploymentViewSet(ApiViewSet):
    serializer_class = DeploymentSerializer
    filter_serializer_class = DeploymentQuery

    def get_queryset(self):
        return selectors.deployments_of(self.vendor)

    @extend_schema(
        tags=["Déploiements"],
        summary="Lister vos déploiements",
        parameters=[DeploymentQuery],
        responses=DeploymentSerializer(many=True),
    )
    def list(self, request):
        query = self.query()
        queryset = self.get_queryset()
        if "order" in query:
            queryset = queryset.filter(order_id=query["order"])
        if "status" in query:
            queryset = queryset.filter(status=query["status"])
        return self.list_response(queryset)

    @extend_schema(
        tags=["Déploiements"], summary="Lire un déploiement", responses=DeploymentSerializer
    )
    def retrieve(self, request, pk=None):
        return Response(DeploymentSerializer(self.object_or_404(self.get_queryset(), pk)).data)

    def _step(self, request, pk, service, **kwargs):
        deployment = self.object_or_404(self.get_queryset(), pk)
        deployment = service(deployment=deployment, actor=request.user, **kwargs)
        return Response(DeploymentSerializer(deployment).data)

    @extend_schema(
        tags=["Déploiements"],
        summary="Commencer le déploiement",
        request=None,
        responses=DeploymentSerializer,
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._step(request, pk, deployments.start_deployment)

    @extend_schema(
        tags=["Déploiements"],
        summary="Déclarer la solution installée",
        request=None,
        responses=DeploymentSerializer,
    )
    @action(detail=True, methods=["post"])
    def install(self, request, pk=None):
        return self._step(request, pk, deployments.install_deployment)

    @extend_schema(
        tags=["Déploiements"],
        summary="Déclarer le déploiement vérifié",
        request=None,
        responses=DeploymentSerializer,
    )
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        return self._step(request, pk, deployments.verify_deployment)

    @extend_schema(
        tags=["Déploiements"],
        summary="Abandonner le déploiement (motivé)",
        request=ReasonSerializer,
        responses=DeploymentSerializer,
    )
    @action(detail=True, methods=["post"])
    def abandon(self, request, pk=None):
        data = valid(ReasonSerializer, request.data)
        return self._step(request, pk, deployments.abandon_deployment, reason=data["reason"])


class VaQuery(StrictQuery):
    order = order_id_field()
    status = serializers.ChoiceField(choices=VaStatus.choices, required=False)
    ordering = ordering_field({"-id": (), "id": ()})


def resend_link(*, va, actor) -> None:
    """The signing app's « re-send the link » (loaded lazily: it owns the links)."""
    try:
        module = importlib.import_module("signing.services")
        send = module.send_va_link
    except (ImportError, AttributeError):
        raise ApiProblem(
            409,
            "va_link_unavailable",
            _("L'envoi des liens de signature n'est pas disponible sur ce serveur."),
        ) from None
    send(va=va, actor=actor)


class VaViewSet(ApiViewSet):
    serializer_class = VaSerializer
    filter_serializer_class = VaQuery

    def get_queryset(self):
        return selectors.vas_of(self.vendor).select_related("decision")

    def fresh(self, pk) -> Response:
        return Response(VaSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(
        tags=["VA et MOM"],
        summary="Lister vos VA (dont celles en attente de signature)",
        parameters=[VaQuery],
        responses=VaSerializer(many=True),
    )
    def list(self, request):
        query = self.query()
        queryset = self.get_queryset()
        if "order" in query:
            queryset = queryset.filter(order_id=query["order"])
        if "status" in query:
            queryset = queryset.filter(status=query["status"])
        return self.list_response(queryset)

    @extend_schema(
        tags=["VA et MOM"], summary="Lire une VA et son état de signature", responses=VaSerializer
    )
    def retrieve(self, request, pk=None):
        return Response(VaSerializer(self.object_or_404(self.get_queryset(), pk)).data)

    @extend_schema(
        tags=["VA et MOM"],
        summary="Émettre une VA restée en brouillon",
        request=None,
        responses=VaSerializer,
    )
    @action(detail=True, methods=["post"])
    def issue(self, request, pk=None):
        va = self.object_or_404(self.get_queryset(), pk)
        acceptance.issue_va(va=va, actor=request.user)
        return self.fresh(pk)

    @extend_schema(
        tags=["VA et MOM"],
        summary="Renvoyer au client le lien de signature de la VA",
        request=None,
        responses=VaSerializer,
    )
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        resend_link(va=self.object_or_404(self.get_queryset(), pk), actor=request.user)
        return self.fresh(pk)


class MomQuery(StrictQuery):
    order = order_id_field()
    ordering = ordering_field({"-id": (), "id": ()})


class MomViewSet(ApiViewSet):
    serializer_class = MomSerializer
    filter_serializer_class = MomQuery

    def get_queryset(self):
        return selectors.moms_of(self.vendor)

    @extend_schema(
        tags=["VA et MOM"],
        summary="Lister vos déclarations de MOM",
        parameters=[MomQuery],
        responses=MomSerializer(many=True),
    )
    def list(self, request):
        query = self.query()
        queryset = self.get_queryset()
        if "order" in query:
            queryset = queryset.filter(order_id=query["order"])
        return self.list_response(queryset)

    @extend_schema(tags=["VA et MOM"], summary="Lire une MOM", responses=MomSerializer)
    def retrieve(self, request, pk=None):
        return Response(MomSerializer(self.object_or_404(self.get_queryset(), pk)).data)
