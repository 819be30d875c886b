"""The catalogue as a vendor sees it: dispositifs with their calendars, its solutions and its
referencing dossiers; and who the caller is."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api import selectors
from api.auth import IsProgrammeAdmin, IsVendorMember
from api.serializers import (
    DispositifDetailSerializer,
    DispositifSerializer,
    MeSerializer,
    ReferencingCreateSerializer,
    ReferencingSerializer,
    SolutionSerializer,
    VendorRefSerializer,
)
from catalogue import services as catalogue_services
from catalogue.access import is_programme_admin, membership_of
from catalogue.deadlines import DeadlineKind
from catalogue.models import Couloir, Dispositif, ReferencingStatus
from catalogue.selectors import calendar_history, calendar_in_force, shown_deadline

from .base import ApiViewSet, IdOrderingQuery, StrictQuery, field_lookup, ordering_field, valid

TAG_CATALOGUE = "Catalogue"


class DispositifQuery(StrictQuery):
    vague = serializers.IntegerField(required=False, min_value=1, max_value=99)
    couloir = serializers.ChoiceField(choices=Couloir.choices, required=False)
    ordering = ordering_field({"code": (), "-code": ()})


class DispositifDetailQuery(StrictQuery):
    at = serializers.DateTimeField(
        required=False,
        help_text=_("Instant auquel juger le calendrier en vigueur (maintenant par défaut)."),
    )


class DispositifViewSet(ApiViewSet):
    """Dispositifs: read by any token (the catalogue is public)."""

    permission_classes = [IsVendorMember | IsProgrammeAdmin]
    serializer_class = DispositifSerializer
    filter_serializer_class = DispositifQuery
    orderings = {"code": ("code",), "-code": ("-code",)}
    lookup_field = "code"
    lookup_value_regex = r"[-a-zA-Z0-9_]{1,40}"

    def get_queryset(self):
        return Dispositif.objects.all()

    @extend_schema(
        tags=[TAG_CATALOGUE],
        summary="Lister les dispositifs",
        parameters=[DispositifQuery],
        responses=DispositifSerializer(many=True),
    )
    def list(self, request):
        query = self.query()
        queryset = self.get_queryset()
        if "vague" in query:
            queryset = queryset.filter(vague=query["vague"])
        if "couloir" in query:
            queryset = queryset.filter(couloir=query["couloir"])
        return self.list_response(queryset)

    @extend_schema(
        tags=[TAG_CATALOGUE],
        summary="Lire un dispositif, son calendrier en vigueur et son historique",
        parameters=[
            DispositifDetailQuery,
            OpenApiParameter("code", str, OpenApiParameter.PATH, description="Code du dispositif"),
        ],
        responses=DispositifDetailSerializer,
    )
    def retrieve(self, request, code=None):
        dispositif = get_object_or_404(Dispositif, code=code)
        query = DispositifDetailQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        at = query.validated_data.get("at") or timezone.now()
        in_force = calendar_in_force(dispositif=dispositif, at=at)
        dispositif.calendar_in_force = [
            {
                "kind": kind.value,
                "label": str(kind.label),
                "published": applied is not None,
                "at": applied.at if applied else None,
                "hour_sourced": applied.hour_sourced if applied else None,
                "shown": shown_deadline(applied),
                "calendar_version": applied.version if applied else None,
            }
            for kind in DeadlineKind
            for applied in [in_force.get(kind.value)]
        ]
        dispositif.calendar_history = calendar_history(dispositif=dispositif)
        return Response(DispositifDetailSerializer(dispositif).data)


class SolutionViewSet(ApiViewSet):
    filter_serializer_class = IdOrderingQuery
    serializer_class = SolutionSerializer

    def get_queryset(self):
        return (
            selectors.solutions_of(self.vendor)
            .select_related("editor")
            .prefetch_related("versions")
        )

    @extend_schema(
        tags=[TAG_CATALOGUE],
        summary="Lister vos solutions (éditées ou distribuées sous mandat) et leurs versions",
        parameters=[IdOrderingQuery],
        responses=SolutionSerializer(many=True),
    )
    def list(self, request):
        return self.list_response(self.get_queryset())

    @extend_schema(tags=[TAG_CATALOGUE], summary="Lire une solution", responses=SolutionSerializer)
    def retrieve(self, request, pk=None):
        return Response(SolutionSerializer(self.object_or_404(self.get_queryset(), pk)).data)


class ReferencingQuery(StrictQuery):
    status = serializers.ChoiceField(choices=ReferencingStatus.choices, required=False)
    dispositif = serializers.SlugField(max_length=40, required=False)
    ordering = ordering_field({"-id": (), "id": ()})


class ReferencingViewSet(ApiViewSet):
    serializer_class = ReferencingSerializer
    filter_serializer_class = ReferencingQuery

    def get_queryset(self):
        return selectors.referencings_of(self.vendor).select_related(
            "dispositif", "solution_version__solution"
        )

    @extend_schema(
        tags=[TAG_CATALOGUE],
        summary="Lister vos dossiers de référencement",
        parameters=[ReferencingQuery],
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

    @extend_schema(
        tags=[TAG_CATALOGUE],
        summary="Lire un dossier de référencement",
        responses=ReferencingSerializer,
    )
    def retrieve(self, request, pk=None):
        return Response(ReferencingSerializer(self.object_or_404(self.get_queryset(), pk)).data)

    @extend_schema(
        tags=[TAG_CATALOGUE],
        summary="Ouvrir un dossier de référencement (brouillon)",
        request=ReferencingCreateSerializer,
        responses={201: ReferencingSerializer},
    )
    def create(self, request):
        data = valid(ReferencingCreateSerializer, request.data)
        version = field_lookup(
            selectors.versions_of(self.vendor).select_related("solution"),
            data["solution_version"],
            "solution_version",
            _("Version de solution inconnue parmi les vôtres."),
        )
        dispositif = field_lookup(
            Dispositif.objects.all(),
            data["dispositif"],
            "dispositif",
            _("Dispositif inconnu."),
            key="code",
        )
        referencing = catalogue_services.create_referencing(
            solution_version=version, dispositif=dispositif, vendor=self.vendor, actor=request.user
        )
        return Response(
            ReferencingSerializer(self.get_queryset().get(pk=referencing.pk)).data, status=201
        )

    @extend_schema(
        tags=[TAG_CATALOGUE],
        summary="Déposer le dossier (avant l'échéance du dépôt en vigueur)",
        request=None,
        responses=ReferencingSerializer,
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        referencing = self.object_or_404(self.get_queryset(), pk)
        catalogue_services.submit_referencing(referencing=referencing, actor=request.user)
        return Response(ReferencingSerializer(self.get_queryset().get(pk=pk)).data)


class MeViewSet(ApiViewSet):
    permission_classes = [IsVendorMember | IsProgrammeAdmin]

    @extend_schema(
        tags=["Compte"], summary="Qui suis-je (jeton, fournisseur)", responses=MeSerializer
    )
    def retrieve_me(self, request):
        token = request.api_token
        membership = membership_of(request.user)
        return Response(
            MeSerializer(
                {
                    "username": request.user.get_username(),
                    "vendor": VendorRefSerializer(token.vendor).data if token.vendor else None,
                    "role": membership.role if membership else None,
                    "programme_admin": is_programme_admin(request.user),
                    "token_prefix": token.prefix,
                    "token_name": token.name,
                    "token_expires_at": token.expires_at,
                }
            ).data
        )
