"""One financing per client per dispositif (SONS.md, life of a Prestation, step 3): a vendor
reads the conflicts its orders are in (its own part: its order, its answer, its own 10 working
days) and answers (keep, change the client, withdraw) through the portal's command,
`sons.services.conflicts.respond_to_conflict`; administrators read every position and decide a
conflict awaiting a decision through `decide_conflict`, the admin's and the command's. A refusal
answers 409 with the rule's code, the portal's words."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from api import selectors
from sons.models import ClientConflict, ConflictPosition, ConflictStatus, Decision, PurchaseOrder
from sons.services import conflicts as conflict_services

from .base import AdminViewSet, ApiViewSet, StrictQuery, field_lookup, ordering_field, valid

TAG = "Conflits de financement"
ADMIN_TAG = "Administration du programme"
ANSWERS = [Decision.KEEP, Decision.CHANGE, Decision.WITHDRAW]


# -- serializers (this module's own: the conflicts' shape is read here only) --------------------


class PositionSerializer(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id", read_only=True)
    order_reference = serializers.CharField(source="order.reference", read_only=True)
    vendor = serializers.IntegerField(source="order.vendor_id", read_only=True)
    decision_label = serializers.CharField(source="get_decision_display", read_only=True)
    answer_open = serializers.SerializerMethodField()

    class Meta:
        model = ConflictPosition
        fields = [
            "order",
            "order_reference",
            "vendor",
            "decision",
            "decision_label",
            "decided_at",
            "respond_by",
            "answer_open",
            "note",
            "decision_notice_sent_at",
        ]
        read_only_fields = fields

    def get_answer_open(self, position) -> bool:
        """This vendor may still answer: the conflict is open and its own window runs."""
        at = self.context["at"]
        return position.conflict.status == ConflictStatus.OPEN and at < position.respond_by


class ConflictSerializer(serializers.ModelSerializer):
    """A conflict as one vendor reads it: its own positions only, never another vendor's."""

    dispositif = serializers.CharField(source="dispositif.code", read_only=True)
    client_name = serializers.CharField(source="client.legal_name", read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    positions = serializers.SerializerMethodField()
    chosen = serializers.SerializerMethodField()

    class Meta:
        model = ClientConflict
        fields = [
            "id",
            "status",
            "status_label",
            "dispositif",
            "client",
            "client_name",
            "opened_at",
            "respond_by",
            "closed_at",
            "positions",
            "chosen",
            "decision_reason",
        ]
        read_only_fields = fields

    def _positions(self, conflict) -> list[ConflictPosition]:
        vendor = self.context.get("vendor")
        return [
            p for p in conflict.positions.all() if vendor is None or p.order.vendor_id == vendor.pk
        ]

    @extend_schema_field(PositionSerializer(many=True))
    def get_positions(self, conflict) -> list[dict]:
        context = {**self.context}
        return PositionSerializer(self._positions(conflict), many=True, context=context).data

    def get_chosen(self, conflict) -> bool | None:
        """Once decided: whether the order financed is one of the reader's (an administrator
        reads `chosen_order` in the admin view)."""
        if conflict.chosen_order_id is None:
            return None
        return any(p.order_id == conflict.chosen_order_id for p in self._positions(conflict))


class AdminConflictSerializer(ConflictSerializer):
    chosen_order = serializers.IntegerField(
        source="chosen_order_id", read_only=True, allow_null=True
    )

    class Meta(ConflictSerializer.Meta):
        fields = [*ConflictSerializer.Meta.fields, "chosen_order"]
        read_only_fields = fields


class ConflictAnswerSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[(d.value, d.label) for d in ANSWERS],
        help_text=_("keep (maintenir), change (corriger le client), withdraw (retirer)."),
    )
    note = serializers.CharField(
        max_length=4000,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Précisions ; la déclaration sur l'honneur, obligatoire pour un retrait."),
    )
    new_client = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        help_text=_("Pour « change » : le client exact (l'un des vôtres)."),
    )


class ConflictDecisionSerializer(serializers.Serializer):
    chosen_order = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    reason = serializers.CharField(max_length=4000)


class ConflictQuery(StrictQuery):
    status = serializers.ChoiceField(choices=ConflictStatus.choices, required=False)
    dispositif = serializers.SlugField(max_length=40, required=False)
    ordering = ordering_field({"-id": (), "id": ()})


def _conflicts():
    return ClientConflict.objects.select_related("client", "dispositif").prefetch_related(
        Prefetch(
            "positions",
            queryset=ConflictPosition.objects.select_related("order", "conflict").order_by(
                "order_id"
            ),
        )
    )


def _filtered(queryset, query: dict):
    if "status" in query:
        queryset = queryset.filter(status=query["status"])
    if "dispositif" in query:
        queryset = queryset.filter(dispositif__code=query["dispositif"])
    return queryset.order_by("id" if query.get("ordering") == "id" else "-id")


# -- the vendor's door ------------------------------------------------------------------------


class ConflictViewSet(ApiViewSet):
    serializer_class = ConflictSerializer
    filter_serializer_class = ConflictQuery

    def get_queryset(self):
        return _conflicts().filter(positions__order__vendor=self.vendor).distinct()

    def get_serializer_context(self):
        from django.utils import timezone

        return {**super().get_serializer_context(), "vendor": self.vendor, "at": timezone.now()}

    def read(self, pk, status=200) -> Response:
        conflict = self.object_or_404(self.get_queryset(), pk)
        return Response(
            ConflictSerializer(conflict, context=self.get_serializer_context()).data,
            status=status,
        )

    @extend_schema(
        tags=[TAG],
        summary="Lister les conflits où figurent vos BDC",
        parameters=[ConflictQuery],
        responses=ConflictSerializer(many=True),
    )
    def list(self, request):
        return self.list_response(_filtered(self.get_queryset(), self.query()))

    @extend_schema(tags=[TAG], summary="Lire un conflit (votre part)", responses=ConflictSerializer)
    def retrieve(self, request, pk=None):
        return self.read(pk)

    @extend_schema(
        tags=[TAG],
        summary="Répondre au conflit : maintenir, corriger le client ou retirer votre BDC",
        request=ConflictAnswerSerializer,
        responses=ConflictSerializer,
    )
    @action(detail=True, methods=["post"], url_path="answer")
    def answer(self, request, pk=None):
        conflict = self.object_or_404(self.get_queryset(), pk)
        data = valid(ConflictAnswerSerializer, request.data)
        # The vendor's order in this conflict: its claiming one (at most one live per client).
        positions = [p for p in conflict.positions.all() if p.order.vendor_id == self.vendor.pk]
        order = next(
            (p.order for p in positions if p.order.client_id == conflict.client_id),
            positions[0].order,
        )
        new_client = None
        if "new_client" in data:
            new_client = field_lookup(
                selectors.clients_of(self.vendor),
                data["new_client"],
                "new_client",
                _("Client inconnu."),
            )
        conflict_services.respond_to_conflict(
            order=order,
            decision=data["decision"],
            note=data["note"],
            new_client=new_client,
            actor=request.user,
        )
        return self.read(pk)


# -- the administrators' door -----------------------------------------------------------------


class AdminConflictViewSet(AdminViewSet):
    serializer_class = AdminConflictSerializer
    filter_serializer_class = ConflictQuery

    def get_queryset(self):
        return _conflicts()

    def get_serializer_context(self):
        from django.utils import timezone

        return {**super().get_serializer_context(), "vendor": None, "at": timezone.now()}

    def read(self, pk) -> Response:
        conflict = self.object_or_404(self.get_queryset(), pk)
        return Response(
            AdminConflictSerializer(conflict, context=self.get_serializer_context()).data
        )

    @extend_schema(
        tags=[ADMIN_TAG],
        summary="Lister les conflits de financement",
        parameters=[ConflictQuery],
        responses=AdminConflictSerializer(many=True),
    )
    def list(self, request):
        return self.list_response(_filtered(self.get_queryset(), self.query()))

    @extend_schema(
        tags=[ADMIN_TAG],
        summary="Lire un conflit de financement",
        responses=AdminConflictSerializer,
    )
    def retrieve(self, request, pk=None):
        return self.read(pk)

    @extend_schema(
        tags=[ADMIN_TAG],
        summary="Désigner la commande financée d'un conflit en attente de décision",
        request=ConflictDecisionSerializer,
        responses=AdminConflictSerializer,
    )
    @action(detail=True, methods=["post"], url_path="decide")
    def decide(self, request, pk=None):
        conflict = self.object_or_404(self.get_queryset(), pk)
        data = valid(ConflictDecisionSerializer, request.data)
        chosen = field_lookup(
            PurchaseOrder.objects.filter(positions__conflict=conflict),
            data["chosen_order"],
            "chosen_order",
            _("Ce BDC ne figure pas dans ce conflit."),
        )
        conflict_services.decide_conflict(
            conflict=conflict, chosen_order=chosen, reason=data["reason"], actor=request.user
        )
        return self.read(pk)
