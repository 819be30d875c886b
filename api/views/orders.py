"""Orders (BDC): read, create, correct, and every state change as an explicit action that calls
the same service as the portal; a refusal answers 409 with the rule's code."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api import selectors
from api.auth import BulkRateThrottle, TokenRateThrottle
from api.bulk import run_command
from api.concurrency import matches
from api.serializers import (
    ORDER_COLUMNS,
    BulkCompletionsSerializer,
    BulkJobSerializer,
    BulkOrdersSerializer,
    ClaimCreateSerializer,
    ClaimSerializer,
    CompletionCreateSerializer,
    CompletionNoticeSerializer,
    DeploymentCreateSerializer,
    DeploymentSerializer,
    JournalEntrySerializer,
    MomCreateSerializer,
    MomSerializer,
    OrderCancelSerializer,
    OrderCreateSerializer,
    OrderSerializer,
    OrderSignSerializer,
    OrderUpdateSerializer,
    ReasonSerializer,
    VaCreateSerializer,
    VaSerializer,
    order_rows,
)
from payments.models import PaymentClaim
from payments.services import claims as claim_services
from sons.history import order_history
from sons.models import (
    CompletionNotice,
    OrderStatus,
    PurchaseOrder,
    VerificationAptitude,
)
from sons.services import acceptance, completion, deployments
from sons.services import orders as order_services
from sons.services.acceptance import Signer

from .base import ApiViewSet, StrictQuery, ordering_field, valid
from .bulk import bulk_response

TAG = "BDC"
ORDERINGS = {
    "-id": ("-id",),
    "id": ("id",),
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
}


class OrderQuery(StrictQuery):
    dispositif = serializers.SlugField(
        max_length=40, required=False, help_text=_("Code du dispositif.")
    )
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    client = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    vendor_reference = serializers.CharField(max_length=64, required=False)
    signed_after = serializers.DateTimeField(required=False)
    signed_before = serializers.DateTimeField(required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    ordering = ordering_field(ORDERINGS)


# The list's columns, resolved once (each page clones this queryset, nothing evaluates it).
ORDER_ROWS = PurchaseOrder.objects.values_list(*ORDER_COLUMNS, named=True)


def api_signer(request, name: str, role: str) -> Signer:
    """The person who declares through the API, identified by the token they use."""
    return Signer(
        name=name,
        role=role,
        identity_method=f"jeton d'API {request.api_token.prefix}",
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.headers.get("User-Agent", "").replace("\x00", "")[:512],
    )


class OrderViewSet(ApiViewSet):
    serializer_class = OrderSerializer
    filter_serializer_class = OrderQuery
    orderings = ORDERINGS

    def get_queryset(self):
        return selectors.orders_of(self.vendor).select_related("dispositif", "client")

    def get_throttles(self):
        if self.action in ("bulk", "bulk_completions"):
            return [TokenRateThrottle(), BulkRateThrottle()]
        return super().get_throttles()

    def order(self, pk) -> PurchaseOrder:
        return self.object_or_404(self.get_queryset(), pk)

    def fresh(self, pk, status=200) -> Response:
        order = self.get_queryset().get(pk=pk)
        return self.with_etag(order, OrderSerializer(order).data, status=status)

    @extend_schema(
        tags=[TAG],
        summary="Lister vos BDC (filtres, tri, pagination par curseur)",
        parameters=[OrderQuery],
        responses=OrderSerializer(many=True),
    )
    def list(self, request):
        query = self.query()
        filters = {
            "dispositif": "dispositif__code",
            "status": "status",
            "client": "client_id",
            "vendor_reference": "vendor_reference",
            "signed_after": "signed_at__gte",
            "signed_before": "signed_at__lt",
            "created_after": "created_at__gte",
            "created_before": "created_at__lt",
        }
        queryset = selectors.orders_of(
            self.vendor,
            ORDER_ROWS,
            **{lookup: query[name] for name, lookup in filters.items() if name in query},
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(order_rows(page))

    @extend_schema(tags=[TAG], summary="Lire un BDC (avec son ETag)", responses=OrderSerializer)
    def retrieve(self, request, pk=None):
        order = self.order(pk)
        return self.with_etag(order, OrderSerializer(order).data)

    @extend_schema(
        tags=[TAG],
        summary="Créer un BDC brouillon",
        request=OrderCreateSerializer,
        responses={201: OrderSerializer},
    )
    def create(self, request):
        data = valid(OrderCreateSerializer, request.data)
        (result,) = run_command(
            order_services.save_orders, vendor=self.vendor, items=[data], actor=request.user
        )
        order = PurchaseOrder(pk=result["id"])
        response = self.fresh(order.pk, status=201)
        response["Location"] = f"{request.path}{order.pk}/"
        return response

    @extend_schema(
        tags=[TAG],
        summary="Corriger un BDC (If-Match obligatoire)",
        request=OrderUpdateSerializer,
        responses=OrderSerializer,
    )
    def partial_update(self, request, pk=None):
        order = self.order(pk)
        changes = valid(OrderUpdateSerializer, request.data)
        run_command(
            order_services.save_orders,
            vendor=self.vendor,
            items=[{"id": order.pk, "if_match": request.headers.get("If-Match"), **changes}],
            actor=request.user,
            precondition=matches,
        )
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG],
        summary=(
            "Journal du BDC et de ce qui en dépend (déploiements, VA, MOM, conflits, demandes, "
            "recouvrements), avec les libellés en français"
        ),
        responses=JournalEntrySerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def journal(self, request, pk=None):
        order = self.order(pk)
        history = order_history(order, vendor=self.vendor)
        return Response(JournalEntrySerializer(history, many=True).data)

    @extend_schema(
        tags=[TAG],
        summary="Enregistrer la signature du client (ferme, ou sous condition de référencement)",
        request=OrderSignSerializer,
        responses=OrderSerializer,
    )
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        order = self.order(pk)
        data = valid(OrderSignSerializer, request.data)
        run_command(
            order_services.record_signatures,
            items=[
                {
                    "order": order,
                    "signed_at": data.get("signed_at") or timezone.now(),
                    "signatory_name": data["signatory_name"],
                    "signatory_role": data.get("signatory_role", ""),
                    "method": data["method"],
                }
            ],
            actor=request.user,
        )
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG],
        summary="Confirmer un BDC signé sous condition (solution désormais référencée)",
        request=None,
        responses=OrderSerializer,
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        order_services.confirm_conditional_order(order=self.order(pk), actor=request.user)
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG],
        summary="Annuler un BDC (déclaration sur l'honneur s'il est signé)",
        request=OrderCancelSerializer,
        responses=OrderSerializer,
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        order = self.order(pk)
        data = valid(OrderCancelSerializer, request.data)
        order_services.cancel_order(
            order=order,
            actor=request.user,
            sworn_statement=data.get("sworn_statement", ""),
            client_renunciation=data.get("client_renunciation", ""),
        )
        return self.fresh(pk)

    @extend_schema(
        tags=[TAG],
        summary="Déclarer la défaillance (le client et l'ASP sont prévenus)",
        request=ReasonSerializer,
        responses=OrderSerializer,
    )
    @action(detail=True, methods=["post"], url_path="declare-default")
    def declare_default(self, request, pk=None):
        order = self.order(pk)
        data = valid(ReasonSerializer, request.data)
        order_services.declare_default(order=order, actor=request.user, reason=data["reason"])
        return self.fresh(pk)

    @extend_schema(
        tags=["Déploiements"],
        summary="Planifier le déploiement (date ferme de réalisation)",
        request=DeploymentCreateSerializer,
        responses={201: DeploymentSerializer},
    )
    @action(detail=True, methods=["post"], url_path="deployments")
    def schedule_deployment(self, request, pk=None):
        order = self.order(pk)
        data = valid(DeploymentCreateSerializer, request.data)
        deployment = deployments.schedule_deployment(
            order=order, firm_date=data["firm_date"], actor=request.user
        )
        return Response(DeploymentSerializer(deployment).data, status=201)

    @extend_schema(
        tags=["VA et MOM"],
        summary="Émettre une VA (nouvelle version après un refus) : le client reçoit son lien",
        request=VaCreateSerializer,
        responses={201: VaSerializer},
    )
    @action(detail=True, methods=["post"], url_path="vas")
    def issue_va(self, request, pk=None):
        order = self.order(pk)
        data = valid(VaCreateSerializer, request.data)
        with transaction.atomic():
            va = acceptance.create_va(
                order=order, delivered_summary=data["delivered_summary"], actor=request.user
            )
            acceptance.issue_va(va=va, actor=request.user)
        va = VerificationAptitude.objects.select_related("decision").get(pk=va.pk)
        return Response(VaSerializer(va).data, status=201)

    @extend_schema(
        tags=["VA et MOM"],
        summary="Déclarer la mise en ordre de marche (MOM), où le dispositif l'admet",
        request=MomCreateSerializer,
        responses={201: MomSerializer},
    )
    @action(detail=True, methods=["post"], url_path="mom")
    def declare_mom(self, request, pk=None):
        order = self.order(pk)
        data = valid(MomCreateSerializer, request.data)
        mom = acceptance.declare_mom(
            order=order,
            signer=api_signer(request, data["signer_name"], data["signer_role"]),
            statement=data["statement"],
            actor=request.user,
        )
        return Response(MomSerializer(mom).data, status=201)

    @extend_schema(
        tags=["VA et MOM"],
        summary="Notifier à l'ASP l'achèvement de la prestation (avant la fin de réalisation)",
        description=(
            "À la fin de réalisation, le fournisseur doit avoir déposé sa demande de solde ou "
            "notifié à l'ASP l'achèvement de sa prestation ; la VA du client peut suivre, le "
            "solde reste dû avant la fin des demandes de solde. Une notification par BDC, "
            "signé ferme. Refus : 409 avec le code de la règle (order_not_signed, "
            "completion_already_notified, realisation_deadline_passed)."
        ),
        request=CompletionCreateSerializer,
        responses={201: CompletionNoticeSerializer},
    )
    @action(detail=True, methods=["post"], url_path="completion")
    def notify_completion(self, request, pk=None):
        order = self.order(pk)
        data = valid(CompletionCreateSerializer, request.data)
        (result,) = run_command(
            completion.notify_completions,
            vendor=self.vendor,
            items=[{"order": order, "statement": data.get("statement", "")}],
            actor=request.user,
        )
        notice = CompletionNotice.objects.get(pk=result["id"])
        return Response(CompletionNoticeSerializer(notice).data, status=201)

    @extend_schema(
        tags=["Demandes de paiement"],
        summary="Ouvrir une demande de paiement (avance, solde, prestation secondaire)",
        request=ClaimCreateSerializer,
        responses={201: ClaimSerializer},
    )
    @action(detail=True, methods=["post"], url_path="claims")
    def open_claim(self, request, pk=None):
        order = self.order(pk)
        data = valid(ClaimCreateSerializer, request.data)
        claim = claim_services.open_claim(order=order, kind=data["kind"], actor=request.user)
        claim = PaymentClaim.objects.select_related("filing").get(pk=claim.pk)
        return Response(ClaimSerializer(claim).data, status=201)

    @extend_schema(
        tags=[TAG],
        summary="Créer ou modifier des BDC en masse (tout ou rien)",
        description=(
            "Jusqu'à 10 000 éléments. Sans « id » : création d'un brouillon, ou d'un BDC signé "
            "avec « signature » (BDC papier que le client a déjà signé) ; avec « id » et "
            "« if_match » : correction. Les règles et leurs codes sont ceux de chaque porte "
            "(portail, fichier, création unitaire). Au-delà de 1 000 éléments (ou avec l'en-tête "
            "« Prefer: respond-async »), le traitement est confié à une tâche : réponse 202 et "
            "suivi à l'adresse Location."
        ),
        request=BulkOrdersSerializer,
        responses={200: BulkJobSerializer, 202: BulkJobSerializer},
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        return bulk_response(self, request, BulkOrdersSerializer, "orders")

    @extend_schema(
        tags=["VA et MOM"],
        summary="Notifier l'achèvement de plusieurs prestations en masse (tout ou rien)",
        description=(
            "Un élément par BDC : {« order » : id du BDC, « statement » : déclaration "
            "facultative}. Les règles et leurs codes sont ceux de chaque porte (portail, "
            "fichier, notification unitaire). Au-delà de 1 000 éléments (ou avec l'en-tête "
            "« Prefer: respond-async »), le traitement est confié à une tâche : réponse 202 et "
            "suivi à l'adresse Location."
        ),
        request=BulkCompletionsSerializer,
        responses={200: BulkJobSerializer, 202: BulkJobSerializer},
    )
    @action(detail=False, methods=["post"], url_path="completions")
    def bulk_completions(self, request):
        return bulk_response(self, request, BulkCompletionsSerializer, "completions")
