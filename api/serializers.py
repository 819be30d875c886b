"""What the API reads and writes, field by field. Amounts are integer cents, instants ISO 8601
with their offset, rates decimal strings. Input serializers are strict: an unknown field is an
error (400), never silently ignored."""

from __future__ import annotations

import datetime as dt
import re

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalogue.deadlines import DeadlineKind
from catalogue.models import (
    CalendarVersion,
    Deadline,
    Dispositif,
    Referencing,
    Solution,
    SolutionVersion,
    Tariff,
    Vendor,
)
from payments.models import AspFiling, ClaimKind, FeedbackImport, PaymentClaim, Recovery
from payments.models.recovery import RecoveryCause
from sons.demo_marks import amount_is_demo
from sons.models import (
    ClientKind,
    ClientRelationship,
    CompletionNotice,
    Deployment,
    MomDeclaration,
    OnPreseries,
    PurchaseOrder,
    SignatureMethod,
    VerificationAptitude,
)

from .concurrency import etag_of, etag_of_label
from .models import BulkJob, WebhookDelivery, WebhookSubscription
from .webhooks import EVENTS

UNKNOWN_FIELD = _("Champ inconnu.")
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,64}")
MAX_ID = 2**63 - 1  # the largest id a database column holds: beyond, it is bad input


class StrictSerializer(serializers.Serializer):
    # Refuses fields it does not know (a typo must not pass for an omission). A comment, not a
    # docstring: the schema would give it as the description of every body without one.

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [serializers.ErrorDetail(str(UNKNOWN_FIELD), code="unknown_field")]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


def blank_means_absent(model_field) -> bool:
    """A text column stored blank when it has no value, whose value is typed (one of its
    choices, an email, an URL, a slug, a pattern): the API answers null, never \"\" (a typed
    client refuses \"\" as an enum member or an email)."""
    if not isinstance(model_field, models.CharField) or not model_field.blank:
        return False
    return bool(
        model_field.choices
        or isinstance(model_field, (models.EmailField, models.URLField, models.SlugField))
        or any(isinstance(v, RegexValidator) for v in model_field.validators)
    )


class ApiModelSerializer(serializers.ModelSerializer):
    # A model as the API answers it: a typed text column left blank is null. (A comment, not a
    # docstring: the schema would give it as the description of every serializer without one.)

    def build_standard_field(self, field_name, model_field):
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if blank_means_absent(model_field):
            field_kwargs["allow_null"] = True
        return field_class, field_kwargs

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in blank_as_null_fields(self.Meta.model) - set(self._declared_fields):
            if data.get(name) == "":
                data[name] = None
        return data


def blank_as_null_fields(model) -> frozenset[str]:
    return frozenset(f.name for f in model._meta.concrete_fields if blank_means_absent(f))


class ETagField(serializers.SerializerMethodField):
    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text", _("ETag du contenu actuel, à renvoyer dans If-Match pour modifier.")
        )
        super().__init__(**kwargs)

    def to_representation(self, value):
        return etag_of(value)


extend_schema_field(OpenApiTypes.STR)(ETagField)


# -- catalogue ---------------------------------------------------------------------------------


class CalendarVersionRefSerializer(ApiModelSerializer):
    class Meta:
        model = CalendarVersion
        fields = [
            "id",
            "legal_reference",
            "founding",
            "signed_on",
            "published_on",
            "in_force_on",
            "nor",
        ]
        read_only_fields = fields


class DeadlineInForceSerializer(serializers.Serializer):
    """Every kind of deadline: the one in force, or « non publiée » (nothing is enforced)."""

    kind = serializers.ChoiceField(choices=DeadlineKind.choices, read_only=True)
    label = serializers.CharField(read_only=True)
    published = serializers.BooleanField(
        read_only=True, help_text=_("Faux : aucune échéance publiée, rien ne s'applique.")
    )
    at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text=_(
            "Instant limite ; sans heure dans la source, 0 h le lendemain du jour indiqué "
            "(fin de journée). Null : non publiée."
        ),
    )
    hour_sourced = serializers.BooleanField(read_only=True, allow_null=True)
    shown = serializers.CharField(
        read_only=True,
        help_text=_("« 14/12/2023 à 14:00 », « 30/11/2022 (fin de journée) » ou « non publiée »."),
    )
    calendar_version = CalendarVersionRefSerializer(read_only=True, allow_null=True)


class DeadlineSerializer(ApiModelSerializer):
    shown = serializers.CharField(read_only=True)

    class Meta:
        model = Deadline
        fields = ["kind", "at", "hour_sourced", "shown"]
        read_only_fields = fields


class CalendarVersionSerializer(ApiModelSerializer):
    pending = serializers.BooleanField(source="is_pending", read_only=True)
    deadlines = DeadlineSerializer(many=True, read_only=True)

    class Meta:
        model = CalendarVersion
        fields = [
            "id",
            "legal_reference",
            "founding",
            "signed_on",
            "published_on",
            "in_force_on",
            "nor",
            "pending",
            "source",
            "deadlines",
        ]
        read_only_fields = fields


class TariffSerializer(ApiModelSerializer):
    class Meta:
        model = Tariff
        fields = [
            "prestation",
            "kind",
            "vat_rate",
            "flat_cents",
            "characteristic",
            "base_amount",
            "cap_cents",
            "is_demo",
        ]
        read_only_fields = fields


@extend_schema_field({"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "example": "14:00"})
class WallClockTimeField(serializers.TimeField):
    """A time of day in Paris, « 14:00 » (a cut-off hour has no offset of its own)."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


class DispositifSerializer(ApiModelSerializer):
    allows_conditional_orders = serializers.BooleanField(read_only=True)
    cutoff_time = WallClockTimeField(read_only=True)

    class Meta:
        model = Dispositif
        fields = [
            "id",
            "code",
            "couloir",
            "software_type",
            "vague",
            "title",
            "advance_rate",
            "acceptance",
            "cutoff_time",
            "allows_conditional_orders",
            "requires_on_preseries",
            "pilot_size",
        ]
        read_only_fields = fields


class DispositifDetailSerializer(DispositifSerializer):
    calendar_in_force = DeadlineInForceSerializer(many=True, read_only=True)
    calendar_history = CalendarVersionSerializer(many=True, read_only=True)
    tariffs = TariffSerializer(many=True, read_only=True)

    class Meta(DispositifSerializer.Meta):
        fields = [
            *DispositifSerializer.Meta.fields,
            "arrete",
            "jorf_date",
            "nor",
            "acceptance_statements",
            "prestation_variants",
            "asp_openings",
            "calendar_in_force",
            "calendar_history",
            "tariffs",
        ]
        read_only_fields = fields


class VendorRefSerializer(ApiModelSerializer):
    class Meta:
        model = Vendor
        fields = ["id", "name", "siret", "kind"]
        read_only_fields = fields


class SolutionVersionSerializer(ApiModelSerializer):
    class Meta:
        model = SolutionVersion
        fields = ["id", "version", "cnda_nil", "released_on"]
        read_only_fields = fields


class SolutionSerializer(ApiModelSerializer):
    editor = VendorRefSerializer(read_only=True)
    versions = SolutionVersionSerializer(many=True, read_only=True)

    class Meta:
        model = Solution
        fields = ["id", "name", "software_type", "editor", "versions"]
        read_only_fields = fields


class ReferencingSerializer(ApiModelSerializer):
    dispositif = serializers.SlugRelatedField(slug_field="code", read_only=True)
    solution = serializers.CharField(source="solution_version.solution.name", read_only=True)
    version = serializers.CharField(source="solution_version.version", read_only=True)

    class Meta:
        model = Referencing
        fields = [
            "id",
            "solution_version",
            "solution",
            "version",
            "dispositif",
            "vendor",
            "status",
            "submitted_at",
            "decided_at",
            "ans_number",
            "referenced_on",
            "rejection_reasons",
            "withdrawal_reason",
            "withdrawn_at",
        ]
        read_only_fields = fields


class ReferencingCreateSerializer(StrictSerializer):
    solution_version = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text=_("Version de solution (de vos solutions).")
    )
    dispositif = serializers.SlugField(max_length=40, help_text=_("Code du dispositif."))


# -- clients ------------------------------------------------------------------------------------

CLIENT_FIELDS = [
    "kind",
    "legal_name",
    "rpps",
    "finess",
    "siret",
    "siren",
    "address",
    "postal_code",
    "city",
    "email",
    "mssante_address",
    "characteristics",
]
CLIENT_UPDATABLE = [
    "address",
    "postal_code",
    "city",
    "email",
    "mssante_address",
    "characteristics",
]


class ClientSerializer(ApiModelSerializer):
    """A client as one vendor sees it: the shared public identity (nature, identifiers, name)
    and that vendor's own record (addresses, MSSanté address, characteristics)."""

    id = serializers.IntegerField(source="client_id", read_only=True)
    kind = serializers.ChoiceField(source="client.kind", choices=ClientKind.choices, read_only=True)
    legal_name = serializers.CharField(source="client.legal_name", read_only=True)
    rpps = serializers.CharField(source="client.rpps", read_only=True)
    finess = serializers.CharField(source="client.finess", read_only=True)
    siret = serializers.CharField(source="client.siret", read_only=True)
    siren = serializers.CharField(source="client.siren", read_only=True)
    etag = ETagField()

    class Meta:
        model = ClientRelationship
        fields = ["id", *CLIENT_FIELDS, "etag"]
        read_only_fields = fields


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "description": "Caractéristiques lues par les barèmes : nombres entiers, ou décimaux "
        "écrits en texte (jamais de flottant).",
    }
)
class CharacteristicsField(serializers.JSONField):
    """Named figures; the names are slugs (what a tariff's characteristic is named)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if isinstance(value, dict):
            for name in value:
                if not isinstance(name, str) or not SLUG.fullmatch(name):
                    raise serializers.ValidationError(
                        _("Nom de caractéristique invalide (lettres, chiffres, - et _)."),
                        code="invalid",
                    )
        return value


class ClientWriteSerializer(StrictSerializer):
    """A new client: its nature, name and the identifiers its nature requires."""

    kind = serializers.ChoiceField(choices=ClientKind.choices)
    legal_name = serializers.CharField(max_length=255)
    rpps = serializers.CharField(max_length=12, required=False, allow_blank=True)
    finess = serializers.CharField(max_length=12, required=False, allow_blank=True)
    siret = serializers.CharField(max_length=20, required=False, allow_blank=True)
    siren = serializers.CharField(max_length=12, required=False, allow_blank=True)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=5, required=False, allow_blank=True)
    city = serializers.CharField(max_length=128, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    mssante_address = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    characteristics = CharacteristicsField(required=False)


class ClientUpdateSerializer(StrictSerializer):
    """What a vendor may change: its own record of the client. The nature, identifiers and name
    are the client's public identity, shared by every vendor, and never change here."""

    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=5, required=False, allow_blank=True)
    city = serializers.CharField(max_length=128, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    mssante_address = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    characteristics = CharacteristicsField(required=False)


# -- orders ----------------------------------------------------------------------------------

DEMO_AMOUNT_HELP = _(
    "Vrai quand le montant vient d'un barème de démonstration (« [DÉMO] ») : fictif, sans "
    "valeur officielle."
)


class OrderSerializer(ApiModelSerializer):
    reference = serializers.CharField(read_only=True)
    dispositif = serializers.SlugRelatedField(slug_field="code", read_only=True)
    client_name = serializers.CharField(source="client.legal_name", read_only=True)
    amount_is_demo = serializers.SerializerMethodField(help_text=DEMO_AMOUNT_HELP)
    etag = ETagField()

    class Meta:
        model = PurchaseOrder
        fields = [
            "id",
            "reference",
            "vendor_reference",
            "client",
            "client_name",
            "dispositif",
            "solution_version",
            "referencing",
            "installation_scenario",
            "prestation_variant",
            "status",
            "created_at",
            "signed_at",
            "signatory_name",
            "signatory_role",
            "signature_method",
            "amount_ht_cents",
            "amount_ttc_cents",
            "amount_is_demo",
            "vat_rate",
            "conditional_until",
            "ended_at",
            "pdf_sha256",
            "etag",
        ]
        read_only_fields = fields

    def get_amount_is_demo(self, order) -> bool:
        return amount_is_demo(order)


# A list of orders is read as plain rows (no model instances), the page of 100 that integrators
# poll most: the same representation as OrderSerializer's, field for field (tested), from the
# columns it shows and the row version its ETag derives from; the client's name, the
# dispositif's code and what says the amount is a demo come in the page's own query, read as
# lookups of `values()` (cheaper to build than annotations).
ORDER_COLUMNS = (
    "id",
    "vendor_reference",
    "client_id",
    "solution_version_id",
    "referencing_id",
    "installation_scenario",
    "prestation_variant",
    "status",
    "created_at",
    "signed_at",
    "signatory_name",
    "signatory_role",
    "signature_method",
    "amount_ht_cents",
    "amount_ttc_cents",
    "vat_rate",
    "conditional_until",
    "ended_at",
    "pdf_sha256",
    "row_version",
    "dispositif__code",
    "client__legal_name",
    "pricing_snapshot__tariff_is_demo",
    "tariff__is_demo",
)


# Typed columns left blank, null in the answer as OrderSerializer writes them.
ORDER_BLANK_AS_NULL = blank_as_null_fields(PurchaseOrder) - set(OrderSerializer._declared_fields)


def _instant(value: dt.datetime | None, zone) -> str | None:
    """As DRF writes an instant: in the current time zone (Paris), ISO 8601 with its offset."""
    if value is None:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def order_rows(rows: list[tuple]) -> list[dict]:
    """The list's items from rows read as named tuples of `ORDER_COLUMNS`
    (`values_list(*ORDER_COLUMNS, named=True)`: no dict made per row; the client's name and the
    dispositif's code come in the page's own query)."""
    zone = timezone.get_current_timezone()
    reference_of, instant = PurchaseOrder.reference_of, _instant
    label = PurchaseOrder._meta.label
    items = []
    for row in rows:
        pk, vat_rate = row.id, row.vat_rate
        snapshot_is_demo = row.pricing_snapshot__tariff_is_demo
        item = {
            "id": pk,
            "reference": reference_of(pk),
            "vendor_reference": row.vendor_reference,
            "client": row.client_id,
            "client_name": row.client__legal_name,
            "dispositif": row.dispositif__code,
            "solution_version": row.solution_version_id,
            "referencing": row.referencing_id,
            "installation_scenario": row.installation_scenario,
            "prestation_variant": row.prestation_variant,
            "status": row.status,
            "created_at": instant(row.created_at, zone),
            "signed_at": instant(row.signed_at, zone),
            "signatory_name": row.signatory_name,
            "signatory_role": row.signatory_role,
            "signature_method": row.signature_method,
            "amount_ht_cents": row.amount_ht_cents,
            "amount_ttc_cents": row.amount_ttc_cents,
            # sons.demo_marks.amount_is_demo: what the snapshot froze, else the tariff.
            "amount_is_demo": bool(
                row.tariff__is_demo if snapshot_is_demo is None else snapshot_is_demo
            ),
            "vat_rate": None if vat_rate is None else str(vat_rate),
            "conditional_until": instant(row.conditional_until, zone),
            "ended_at": instant(row.ended_at, zone),
            "pdf_sha256": row.pdf_sha256,
            "etag": etag_of_label(label, pk, row.row_version),
        }
        for name in ORDER_BLANK_AS_NULL:
            if item.get(name) == "":
                item[name] = None
        items.append(item)
    return items


PRESTATION_VARIANT_HELP = _(
    "Code de la prestation du dispositif (`prestation_variants` du dispositif, ex. « v1_v2 »), "
    "à la création ; vide quand le dispositif n'en offre qu'une."
)


class OrderCreateSerializer(StrictSerializer):
    client = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text=_("Identifiant d'un de vos clients.")
    )
    dispositif = serializers.SlugField(max_length=40, help_text=_("Code du dispositif."))
    solution_version = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text=_("Version de solution que vous distribuez.")
    )
    installation_scenario = serializers.CharField(
        max_length=255, allow_blank=True, help_text=_("Obligatoire : un texte non vide.")
    )
    vendor_reference = serializers.CharField(max_length=64, required=False, allow_blank=True)
    prestation_variant = serializers.CharField(
        max_length=16, required=False, allow_blank=True, help_text=PRESTATION_VARIANT_HELP
    )


class OrderUpdateSerializer(StrictSerializer):
    vendor_reference = serializers.CharField(max_length=64, required=False, allow_blank=True)
    installation_scenario = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        help_text=_("Modifiable tant que le BDC est brouillon ; jamais vide."),
    )


class OrderSignSerializer(StrictSerializer):
    signatory_name = serializers.CharField(max_length=255)
    signatory_role = serializers.CharField(max_length=128, required=False, allow_blank=True)
    method = serializers.ChoiceField(choices=SignatureMethod.choices)
    signed_at = serializers.DateTimeField(
        required=False,
        help_text=_(
            "Instant de la signature du client (BDC papier ou scanné), ni dans le futur ni avant "
            "la création du BDC ; à défaut, maintenant."
        ),
    )


class OrderCancelSerializer(StrictSerializer):
    sworn_statement = serializers.CharField(
        required=False, allow_blank=True, help_text=_("Obligatoire pour un BDC signé.")
    )
    client_renunciation = serializers.CharField(required=False, allow_blank=True)


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=4000)


class JournalEntrySerializer(serializers.Serializer):
    """One entry of an order's history (sons.history): the journal's fields as written, and the
    same entry in French as the portal and the admin show it."""

    sequence = serializers.IntegerField(
        read_only=True, source="entry.sequence", label=_("Numéro d'ordre")
    )
    recorded_at = serializers.DateTimeField(
        read_only=True, source="entry.recorded_at", label=_("Inscrit au journal")
    )
    actor_label = serializers.CharField(
        read_only=True,
        source="actor",
        label=_("Auteur"),
        help_text=_("« autre partie » pour une personne d'un autre fournisseur (conflit)."),
    )
    object_type = serializers.CharField(
        read_only=True, help_text=_("« sons.verificationaptitude »…")
    )
    object_id = serializers.IntegerField(
        read_only=True, source="entry.object_id", label=_("Identifiant de l'objet")
    )
    object_repr = serializers.CharField(
        read_only=True, source="entry.object_repr", label=_("Objet")
    )
    object_name = serializers.CharField(
        read_only=True,
        label=_("Nom de l'objet"),
        help_text=_("« BDC-00000012 », « VA v2 », « Demande d'avance »…"),
    )
    transition = serializers.CharField(read_only=True, source="entry.transition")
    transition_label = serializers.CharField(
        read_only=True, source="transition", label=_("Transition (libellé)")
    )
    source_state = serializers.CharField(
        read_only=True, source="entry.source_state", label=_("État de départ")
    )
    source_state_label = serializers.CharField(
        read_only=True, source="source", label=_("État de départ (libellé)")
    )
    target_state = serializers.CharField(
        read_only=True, source="entry.target_state", label=_("État d'arrivée")
    )
    target_state_label = serializers.CharField(
        read_only=True, source="target", label=_("État d'arrivée (libellé)")
    )
    acted_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        label=_("Acte du"),
        help_text=_("L'instant de l'acte quand il diffère de l'inscription au journal."),
    )
    reason = serializers.CharField(read_only=True, source="entry.reason", label=_("Motif"))
    snapshot = serializers.JSONField(read_only=True, label=_("Éléments justificatifs"))
    entry_hash = serializers.CharField(
        read_only=True, source="entry.entry_hash", label=_("Empreinte SHA-256")
    )


# -- deployments, acceptance ---------------------------------------------------------------


class DeploymentSerializer(ApiModelSerializer):
    class Meta:
        model = Deployment
        fields = [
            "id",
            "order",
            "status",
            "firm_date",
            "firm_date_confirmed_at",
            "started_at",
            "installed_at",
            "verified_at",
            "abandoned_at",
            "abandon_reason",
        ]
        read_only_fields = fields


class DeploymentCreateSerializer(StrictSerializer):
    firm_date = serializers.DateField(help_text=_("Date ferme de réalisation convenue."))


class VaDecisionSerializer(serializers.Serializer):
    outcome = serializers.CharField(read_only=True)
    decided_at = serializers.DateTimeField(read_only=True)
    signer_name = serializers.CharField(read_only=True)
    signer_role = serializers.CharField(read_only=True)
    identity_method = serializers.CharField(read_only=True)
    non_blocking_reserves = serializers.CharField(read_only=True)
    blocking_reserves = serializers.CharField(read_only=True)


class VaSerializer(ApiModelSerializer):
    decision = serializers.SerializerMethodField()

    class Meta:
        model = VerificationAptitude
        fields = [
            "id",
            "order",
            "version",
            "status",
            "delivered_summary",
            "statements",
            "mssante_address",
            "issued_at",
            "pdf_sha256",
            "signed_pdf_sha256",
            "decision",
        ]
        read_only_fields = fields

    @extend_schema_field(VaDecisionSerializer(allow_null=True))
    def get_decision(self, va):
        decision = getattr(va, "decision", None)
        return VaDecisionSerializer(decision).data if decision is not None else None


class VaCreateSerializer(StrictSerializer):
    delivered_summary = serializers.CharField(
        max_length=4000, help_text=_("La prestation réalisée, que le client vérifie.")
    )


class MomSerializer(ApiModelSerializer):
    class Meta:
        model = MomDeclaration
        fields = [
            "id",
            "order",
            "declared_at",
            "mssante_address",
            "statement",
            "signer_name",
            "signer_role",
            "identity_method",
        ]
        read_only_fields = fields


class MomCreateSerializer(StrictSerializer):
    signer_name = serializers.CharField(max_length=255)
    signer_role = serializers.CharField(max_length=128)
    statement = serializers.CharField(max_length=4000)


class CompletionNoticeSerializer(ApiModelSerializer):
    """The vendor's notice to the ASP that the prestation is complete (« notification
    d'achèvement »): by the end of réalisation, the solde filed or the completion notified."""

    class Meta:
        model = CompletionNotice
        fields = ["id", "order", "notified_at", "notified_by", "statement"]
        read_only_fields = fields


class CompletionCreateSerializer(StrictSerializer):
    statement = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text=_("Déclaration d'achèvement (facultative : une phrase par défaut sinon)."),
    )


# -- claims, filings -------------------------------------------------------------------------


class ClaimSerializer(ApiModelSerializer):
    order_reference = serializers.SerializerMethodField()
    amount_is_demo = serializers.SerializerMethodField(help_text=DEMO_AMOUNT_HELP)
    filing_name = serializers.CharField(source="filing.name", read_only=True, allow_null=True)

    class Meta:
        model = PaymentClaim
        fields = [
            "id",
            "order",
            "order_reference",
            "kind",
            "status",
            "amends",
            "amount_ht_cents",
            "amount_ttc_cents",
            "amount_is_demo",
            "created_at",
            "ready_at",
            "filing",
            "filing_name",
            "line_number",
            "submitted_at",
            "validated_at",
            "paid_on",
            "paid_amount_cents",
            "agency_reason",
            "invoice_number",
            "invoice_date",
            "invoice_amount_ttc_cents",
            "invoice_sha256",
            "deadline_missed_at",
            "deadline_missed_reason",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "deadline_missed_reason": {
                "help_text": _(
                    "Pourquoi la demande est écartée des dépôts : l'échéance de dépôt en vigueur "
                    "passée à l'instant du dépôt (vide sinon)."
                )
            }
        }

    def get_order_reference(self, claim) -> str:
        return PurchaseOrder.reference_of(claim.order_id)

    def get_amount_is_demo(self, claim) -> bool:
        return amount_is_demo(claim)


# The kinds a claim is opened for and a filing is built for (a compensation follows a removal).
FILABLE_KINDS = [
    (k, label)
    for k, label in ClaimKind.choices
    if k in (ClaimKind.AVANCE, ClaimKind.SOLDE, ClaimKind.SECONDAIRE)
]


class ClaimCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=FILABLE_KINDS)


class InvoiceSerializer(StrictSerializer):
    number = serializers.CharField(max_length=64)
    date = serializers.DateField()
    amount_ttc_cents = serializers.IntegerField(min_value=1, max_value=10**13)
    pdf = serializers.FileField(help_text=_("La facture, en PDF."))


class FilingSerializer(ApiModelSerializer):
    dispositif = serializers.SlugRelatedField(slug_field="code", read_only=True)
    files_ready = serializers.SerializerMethodField()

    class Meta:
        model = AspFiling
        fields = [
            "id",
            "name",
            "dispositif",
            "kind",
            "sequence",
            "schema_version",
            "status",
            "created_at",
            "line_count",
            "total_ttc_cents",
            "json_sha256",
            "zip_sha256",
            "files_ready",
            "transmitted_at",
            "acknowledged_at",
            "set_aside_at",
            "set_aside_reason",
        ]
        read_only_fields = fields

    def get_files_ready(self, filing) -> bool:
        return bool(filing.json_sha256 and filing.zip_sha256)


class LeftOutSerializer(serializers.Serializer):
    """A ready claim left out of the filing: its filing deadline had passed."""

    claim_id = serializers.IntegerField()
    order_reference = serializers.CharField()
    kind = serializers.ChoiceField(choices=ClaimKind.choices)
    reason = serializers.CharField()


class FilingCreateSerializer(StrictSerializer):
    dispositif = serializers.SlugField(max_length=40)
    kind = serializers.ChoiceField(choices=FILABLE_KINDS)


class FeedbackUploadSerializer(StrictSerializer):
    file = serializers.FileField(help_text=_("Le fichier de retour de l'ASP (JSON)."))


class FeedbackImportSerializer(ApiModelSerializer):
    class Meta:
        model = FeedbackImport
        fields = ["id", "file_name", "sha256", "imported_at", "item_count", "moved_count"]
        read_only_fields = fields


# -- administrators ---------------------------------------------------------------------------


class PreseriesSerializer(ApiModelSerializer):
    solution = serializers.CharField(source="solution_version.solution.name", read_only=True)
    version = serializers.CharField(source="solution_version.version", read_only=True)

    class Meta:
        model = OnPreseries
        fields = [
            "id",
            "solution_version",
            "solution",
            "version",
            "status",
            "pilots",
            "submitted_at",
            "decided_at",
            "rejection_reasons",
        ]
        read_only_fields = fields


class RecoverySerializer(ApiModelSerializer):
    class Meta:
        model = Recovery
        fields = [
            "id",
            "order",
            "cause",
            "status",
            "received_cents",
            "offset_cents",
            "amount_cents",
            "opened_at",
            "reason",
            "notified_at",
            "closed_at",
            "settled_cents",
            "notice_sha256",
        ]
        read_only_fields = fields


class RecoveryCreateSerializer(StrictSerializer):
    order = serializers.IntegerField(min_value=1)
    cause = serializers.ChoiceField(choices=RecoveryCause.choices)
    reason = serializers.CharField(max_length=4000)


class SettleSerializer(StrictSerializer):
    settled_cents = serializers.IntegerField(min_value=1, max_value=10**13)


class ReferenceDecisionSerializer(StrictSerializer):
    ans_number = serializers.CharField(max_length=64)
    referenced_on = serializers.DateField(required=False)


# -- bulk, webhooks, me --------------------------------------------------------------------


class BulkSignatureSerializer(StrictSerializer):
    """The client's signature of a BDC created by the same item (a paper BDC, a scan)."""

    signed_at = serializers.DateTimeField(
        help_text=_("Instant de la signature, qui n'est pas dans le futur.")
    )
    signatory_name = serializers.CharField(max_length=255)
    signatory_role = serializers.CharField(max_length=128, required=False, allow_blank=True)
    method = serializers.ChoiceField(choices=SignatureMethod.choices)


class BulkOrderItemSerializer(StrictSerializer):
    """One order to create (no ``id``) or to update (``id`` and ``if_match``)."""

    id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    if_match = serializers.CharField(max_length=100, required=False)
    client = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    dispositif = serializers.SlugField(max_length=40, required=False)
    solution_version = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    installation_scenario = serializers.CharField(max_length=255, required=False, allow_blank=True)
    vendor_reference = serializers.CharField(max_length=64, required=False, allow_blank=True)
    prestation_variant = serializers.CharField(
        max_length=16, required=False, allow_blank=True, help_text=PRESTATION_VARIANT_HELP
    )
    signature = BulkSignatureSerializer(
        required=False,
        help_text=_("À la création seulement : le BDC que le client a déjà signé."),
    )


class BulkClientItemSerializer(ClientWriteSerializer):
    """One client to create (no ``id``) or to update (``id`` and ``if_match``)."""

    id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    if_match = serializers.CharField(max_length=100, required=False)
    kind = serializers.ChoiceField(choices=ClientKind.choices, required=False)
    legal_name = serializers.CharField(max_length=255, required=False)


class BulkOrdersSerializer(StrictSerializer):
    items = BulkOrderItemSerializer(many=True, allow_empty=False)


class BulkCompletionItemSerializer(StrictSerializer):
    """One order whose completion is notified to the ASP."""

    order = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    statement = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class BulkCompletionsSerializer(StrictSerializer):
    items = BulkCompletionItemSerializer(many=True, allow_empty=False)


class BulkClientsSerializer(StrictSerializer):
    items = BulkClientItemSerializer(many=True, allow_empty=False)


class BulkItemErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(read_only=True)
    field = serializers.CharField(read_only=True, allow_null=True)
    code = serializers.CharField(read_only=True)
    message = serializers.CharField(read_only=True)


class BulkItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(read_only=True)
    id = serializers.IntegerField(read_only=True)
    created = serializers.BooleanField(read_only=True)


class BulkJobSerializer(ApiModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    results = BulkItemResultSerializer(source="result", many=True, read_only=True)
    errors = BulkItemErrorSerializer(many=True, read_only=True)

    class Meta:
        model = BulkJob
        fields = [
            "id",
            "kind",
            "state",
            "item_count",
            "created_at",
            "started_at",
            "finished_at",
            "results",
            "errors",
        ]
        read_only_fields = fields


class WebhookSubscriptionSerializer(ApiModelSerializer):
    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "events",
            "description",
            "is_active",
            "created_at",
            "disabled_at",
            "disabled_reason",
        ]
        read_only_fields = fields


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text=_("Secret de signature HMAC-SHA256 : conservez-le, il n'est montré qu'ici."),
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookSubscriptionWriteSerializer(StrictSerializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=[(e, e) for e in EVENTS]),
        allow_empty=False,
        max_length=len(EVENTS),
    )
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)


class WebhookSubscriptionUpdateSerializer(StrictSerializer):
    url = serializers.URLField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=[(e, e) for e in EVENTS]),
        allow_empty=False,
        max_length=len(EVENTS),
        required=False,
    )
    description = serializers.CharField(max_length=255, required=False, allow_blank=True)
    is_active = serializers.BooleanField(
        required=False, help_text=_("Réactiver un abonnement désactivé après des échecs.")
    )


class WebhookDeliverySerializer(ApiModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "event_id",
            "state",
            "attempts",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "response_status",
            "last_error",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)
    vendor = VendorRefSerializer(read_only=True, allow_null=True)
    role = serializers.CharField(read_only=True, allow_null=True)
    programme_admin = serializers.BooleanField(read_only=True)
    token_prefix = serializers.CharField(read_only=True)
    token_name = serializers.CharField(read_only=True)
    token_expires_at = serializers.DateTimeField(read_only=True)
