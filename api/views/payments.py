"""Payment claims, filings to the paying agency (build, download, transmit) and the agency's
feedback files."""

from __future__ import annotations

from django.http import FileResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from pydantic import ValidationError as PydanticValidationError
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from api import selectors
from api.errors import ApiProblem
from api.serializers import (
    ClaimSerializer,
    FeedbackImportSerializer,
    FeedbackUploadSerializer,
    FilingCreateSerializer,
    FilingSerializer,
    InvoiceSerializer,
    LeftOutSerializer,
    ReasonSerializer,
)
from catalogue.models import Dispositif
from payments.asp.feedback import AspFeedback
from payments.models import AspFiling, ClaimKind, ClaimStatus, FilingStatus
from payments.services import claims as claim_services
from payments.services import filings as filing_services
from payments.services.filings import FeedbackRefused

from .base import ApiViewSet, StrictQuery, field_lookup, ordering_field, valid
from .delivery import order_id_field

TAG_CLAIMS = "Demandes de paiement"
TAG_FILINGS = "Dépôts ASP"
MAX_FEEDBACK_BYTES = 20 * 1024 * 1024


class ClaimQuery(StrictQuery):
    order = order_id_field()
    kind = serializers.ChoiceField(choices=ClaimKind.choices, required=False)
    status = serializers.ChoiceField(choices=ClaimStatus.choices, required=False)
    ordering = ordering_field({"-id": (), "id": ()})


class ClaimViewSet(ApiViewSet):
    serializer_class = ClaimSerializer
    filter_serializer_class = ClaimQuery

    def get_queryset(self):
        return selectors.claims_of(self.vendor).select_related("filing", "order__tariff")

    def fresh(self, pk) -> Response:
        return Response(ClaimSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(
        tags=[TAG_CLAIMS],
        summary="Lister vos demandes de paiement",
        parameters=[ClaimQuery],
        responses=ClaimSerializer(many=True),
    )
    def list(self, request):
        query = self.query()
        queryset = self.get_queryset()
        for name, lookup in (("order", "order_id"), ("kind", "kind"), ("status", "status")):
            if name in query:
                queryset = queryset.filter(**{lookup: query[name]})
        return self.list_response(queryset)

    @extend_schema(tags=[TAG_CLAIMS], summary="Lire une demande", responses=ClaimSerializer)
    def retrieve(self, request, pk=None):
        return Response(ClaimSerializer(self.object_or_404(self.get_queryset(), pk)).data)

    @extend_schema(
        tags=[TAG_CLAIMS],
        summary="Joindre la facture globale (solde, prestation secondaire)",
        request={"multipart/form-data": InvoiceSerializer},
        responses=ClaimSerializer,
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    def invoice(self, request, pk=None):
        claim = self.object_or_404(self.get_queryset(), pk)
        data = valid(InvoiceSerializer, request.data)
        pdf = data["pdf"]
        if pdf.size > MAX_FEEDBACK_BYTES:
            raise ApiProblem(
                413, "file_too_large", _("Fichier trop volumineux (20 Mo au plus)."), field="pdf"
            )
        claim_services.attach_invoice(
            claim=claim,
            number=data["number"],
            date=data["date"],
            amount_ttc_cents=data["amount_ttc_cents"],
            pdf=pdf.read(),
            actor=request.user,
        )
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG_CLAIMS],
        summary="Vérifier toutes les règles et marquer la demande prête à déposer",
        request=None,
        responses=ClaimSerializer,
    )
    @action(detail=True, methods=["post"], url_path="make-ready")
    def make_ready(self, request, pk=None):
        claim_services.make_ready(
            claim=self.object_or_404(self.get_queryset(), pk), actor=request.user
        )
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG_CLAIMS],
        summary="Annuler une demande non déposée",
        request=ReasonSerializer,
        responses=ClaimSerializer,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        claim = self.object_or_404(self.get_queryset(), pk)
        data = valid(ReasonSerializer, request.data)
        claim_services.cancel_claim(claim=claim, actor=request.user, reason=data["reason"])
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG_CLAIMS],
        summary="Reprendre en brouillon une demande « à modifier » par l'ASP",
        request=None,
        responses=ClaimSerializer,
    )
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        claim = self.object_or_404(self.get_queryset(), pk)
        filing_services.reopen_claim(claim=claim, actor=request.user)
        return self.fresh(pk)


class FilingQuery(StrictQuery):
    dispositif = serializers.SlugField(max_length=40, required=False)
    kind = serializers.ChoiceField(choices=ClaimKind.choices, required=False)
    status = serializers.ChoiceField(choices=FilingStatus.choices, required=False)
    ordering = ordering_field({"-id": (), "id": ()})


class FilingListSerializer(serializers.Serializer):
    filings = FilingSerializer(many=True, read_only=True)
    left_out = LeftOutSerializer(
        many=True,
        read_only=True,
        help_text=_("Les demandes prêtes écartées car hors délai, avec leur motif."),
    )


def _download(field, filing: AspFiling, content_type: str, extension: str):
    if not getattr(filing, f"{field}_sha256"):
        raise ApiProblem(
            409,
            "filing_not_rendered",
            _("Les fichiers du dépôt ne sont pas encore prêts : réessayez dans un instant."),
            headers={"Retry-After": "5"},
        )
    response = FileResponse(
        getattr(filing, f"{field}_file").open("rb"),
        content_type=content_type,
        as_attachment=True,
        filename=f"{filing.name}.{extension}",
    )
    response["Digest"] = f"sha-256={getattr(filing, f'{field}_sha256')}"
    return response


class FilingViewSet(ApiViewSet):
    serializer_class = FilingSerializer
    filter_serializer_class = FilingQuery

    def get_queryset(self):
        return selectors.filings_of(self.vendor).select_related("dispositif")

    @extend_schema(
        tags=[TAG_FILINGS],
        summary="Lister vos dépôts ASP",
        parameters=[FilingQuery],
        responses=FilingSerializer(many=True),
    )
    def list(self, request):
        query = self.query()
        queryset = self.get_queryset()
        if "dispositif" in query:
            queryset = queryset.filter(dispositif__code=query["dispositif"])
        for name in ("kind", "status"):
            if name in query:
                queryset = queryset.filter(**{name: query[name]})
        return self.list_response(queryset)

    @extend_schema(tags=[TAG_FILINGS], summary="Lire un dépôt", responses=FilingSerializer)
    def retrieve(self, request, pk=None):
        return Response(FilingSerializer(self.object_or_404(self.get_queryset(), pk)).data)

    @extend_schema(
        tags=[TAG_FILINGS],
        summary="Construire les dépôts des demandes prêtes (un dispositif, une nature)",
        request=FilingCreateSerializer,
        responses={201: FilingListSerializer, 200: FilingListSerializer},
    )
    def create(self, request):
        data = valid(FilingCreateSerializer, request.data)
        dispositif = field_lookup(
            Dispositif.objects.all(),
            data["dispositif"],
            "dispositif",
            _("Dispositif inconnu."),
            key="code",
        )
        filings = filing_services.build_filings(
            vendor=self.vendor, dispositif=dispositif, kind=data["kind"], actor=request.user
        )
        fresh = self.get_queryset().filter(pk__in=[f.pk for f in filings]).order_by("sequence")
        left_out = LeftOutSerializer([vars(c) for c in filings.left_out], many=True).data
        return Response(
            {"filings": FilingSerializer(fresh, many=True).data, "left_out": left_out},
            status=201 if filings else 200,
        )

    @extend_schema(
        tags=[TAG_FILINGS],
        summary="Télécharger le fichier JSON du dépôt",
        responses={
            (200, "application/json"): OpenApiResponse(
                {"type": "object", "additionalProperties": True},
                "Le fichier JSON du dépôt, conforme au schéma publié (payments/schemas/)",
            )
        },
    )
    @action(detail=True, methods=["get"], url_path="json")
    def json_file(self, request, pk=None):
        filing = self.object_or_404(self.get_queryset(), pk)
        return _download("json", filing, "application/json", "json")

    @extend_schema(
        tags=[TAG_FILINGS],
        summary="Télécharger les pièces jointes (zip, avec MANIFEST.sha256)",
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, "Archive zip")},
    )
    @action(detail=True, methods=["get"], url_path="zip")
    def zip_file(self, request, pk=None):
        filing = self.object_or_404(self.get_queryset(), pk)
        return _download("zip", filing, "application/zip", "zip")

    @extend_schema(
        tags=[TAG_FILINGS],
        summary="Marquer le dépôt transmis à l'ASP",
        request=None,
        responses=FilingSerializer,
    )
    @action(detail=True, methods=["post"])
    def transmit(self, request, pk=None):
        filing = self.object_or_404(self.get_queryset(), pk)
        filing_services.require_transmitted(
            filing_services.transmit_filing(filing=filing, actor=request.user)
        )
        return Response(FilingSerializer(self.get_queryset().get(pk=pk)).data)


class FeedbackViewSet(ApiViewSet):
    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=[TAG_FILINGS],
        summary="Déposer un fichier de retour de l'ASP (appliqué en entier ou refusé en entier)",
        request={"multipart/form-data": FeedbackUploadSerializer},
        responses={201: FeedbackImportSerializer, 200: FeedbackImportSerializer},
    )
    def create(self, request):
        upload = valid(FeedbackUploadSerializer, request.data)["file"]
        if upload.size > MAX_FEEDBACK_BYTES:
            raise ApiProblem(
                413, "file_too_large", _("Fichier trop volumineux (20 Mo au plus)."), field="file"
            )
        content = upload.read()
        try:
            feedback = AspFeedback.model_validate_json(content)
        except PydanticValidationError as exc:
            errors = [
                {
                    "field": "file." + ".".join(str(p) for p in error["loc"]),
                    "code": "feedback_invalid",
                    "message": error["msg"],
                }
                for error in exc.errors()[:100]
            ]
            raise ApiProblem(
                400,
                "feedback_invalid",
                _("Le fichier de retour n'est pas conforme à son schéma."),
                field="file",
                extra={"errors": errors},
            ) from None
        names = {item.filing for item in feedback.items}
        own = set(
            selectors.filings_of(self.vendor).filter(name__in=names).values_list("name", flat=True)
        )
        unknown = [
            f"décision {n} ({item.filing}, ligne {item.line_number}) : dépôt inconnu"
            for n, item in enumerate(feedback.items, start=1)
            if item.filing not in own
        ]
        if unknown:
            raise FeedbackRefused(unknown)
        known_before = selectors.feedback_known(content)
        result = filing_services.import_feedback(
            content=content, file_name=upload.name.replace("\x00", "")[:255], actor=request.user
        )
        return Response(FeedbackImportSerializer(result).data, status=200 if known_before else 201)
