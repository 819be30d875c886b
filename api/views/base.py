"""What every endpoint of the API shares: token authentication, the caller's vendor, per-token
rate limits, problem details, Idempotency-Key on POST, the record of each call, strict query
parameters and cursor pagination."""

from __future__ import annotations

import time

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers, viewsets
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api import calls, idempotency
from api.auth import IsProgrammeAdmin, IsVendorMember, TokenAuthentication, TokenRateThrottle
from api.concurrency import etag_of
from api.models import ApiCall
from api.pagination import CursorPage
from api.parsers import SafeJSONParser
from core import unavailable


class LenientNegotiation(DefaultContentNegotiation):
    """JSON whatever the Accept header says: the API speaks nothing else."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Exception:
            return (renderers[0], renderers[0].media_type)


class UTF8JSONRenderer(JSONRenderer):
    charset = None


class ApiViewSet(viewsets.GenericViewSet):
    """Base of the vendors' endpoints (a token of a vendor's member)."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsVendorMember]
    throttle_classes = [TokenRateThrottle]
    renderer_classes = [UTF8JSONRenderer]
    parser_classes = [SafeJSONParser]
    content_negotiation_class = LenientNegotiation
    pagination_class = CursorPage
    # (name of the ordering, model ordering): the first is the default.
    orderings: dict[str, tuple[str, ...]] = {"-id": ("-id",), "id": ("id",)}
    filter_serializer_class: type[serializers.Serializer] | None = None
    lookup_value_regex = r"[0-9]{1,18}"

    @property
    def vendor(self):
        return self.request.api_vendor

    # -- dispatch with idempotency and the record of the call --------------------------------

    def dispatch(self, request, *args, **kwargs):
        started = time.perf_counter()
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        record = None
        try:
            self.initial(request, *args, **kwargs)
            if request.method.lower() in self.http_method_names:
                handler = getattr(self, request.method.lower(), self.http_method_not_allowed)
            else:
                handler = self.http_method_not_allowed
            replayed = None
            if request.method == "POST" and handler != self.http_method_not_allowed:
                record, replayed = idempotency.claim(request)
            response = replayed or handler(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        try:
            if record is not None:
                try:
                    idempotency.complete(record, self.response)
                except unavailable.DATABASE_ERRORS:
                    raise
                except Exception:
                    idempotency.release(record)
                    raise
            self._record_call(request, self.response, started)
        except unavailable.DATABASE_ERRORS as exc:
            # The database went away after the answer was made: the answer stands (a 201 whose
            # work committed must not be retried), only its record for replay or audit is lost.
            unavailable.log(request, exc)
        return self.response

    def _record_call(self, request, response, started) -> None:
        token = getattr(request, "api_token", None)
        if token is None:
            return
        duration = int((time.perf_counter() - started) * 1000)
        calls.record(
            ApiCall(
                token=token,
                at=timezone.now(),
                method=request.method[:8],
                path=request.path[:255],
                status_code=response.status_code,
                duration_ms=duration,
                ip_address=request.META.get("REMOTE_ADDR") or None,
            )
        )

    # -- query parameters ------------------------------------------------------------------

    def query(self) -> dict:
        """The validated query parameters of a list (filters, ordering)."""
        if not hasattr(self, "_query"):
            klass = self.filter_serializer_class
            if klass is None:
                self._query = {}
            else:
                data = {k: v for k, v in self.request.query_params.items()}
                for name in ("cursor", "page_size"):
                    data.pop(name, None)
                serializer = klass(data=data, context={"view": self})
                serializer.is_valid(raise_exception=True)
                self._query = serializer.validated_data
        return self._query

    def ordering_for(self, request) -> tuple[str, ...]:
        name = self.query().get("ordering") or next(iter(self.orderings))
        return self.orderings[name]

    def list_response(self, queryset, serializer_class=None):
        page = self.paginate_queryset(queryset)
        serializer = (serializer_class or self.get_serializer_class())(
            page, many=True, context=self.get_serializer_context()
        )
        return self.get_paginated_response(serializer.data)

    def with_etag(self, obj, data, status=200, headers=None) -> Response:
        headers = dict(headers or {})
        headers["ETag"] = etag_of(obj)
        return Response(data, status=status, headers=headers)

    def object_or_404(self, queryset, pk):
        from django.shortcuts import get_object_or_404

        return get_object_or_404(queryset, pk=pk)


class AdminViewSet(ApiViewSet):
    """Base of the programme administrators' endpoints."""

    permission_classes = [IsProgrammeAdmin]

    @property
    def vendor(self):  # administrators act for no vendor
        return None


def ordering_field(orderings: dict[str, tuple[str, ...]]) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=list(orderings),
        required=False,
        help_text=_("Tri des résultats : %(choices)s (le premier par défaut).")
        % {"choices": ", ".join(orderings)},
    )


class StrictQuery(serializers.Serializer):
    """Query parameters: an unknown one is an error, not silently ignored."""

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {
                    name: [
                        serializers.ErrorDetail(
                            _("Paramètre inconnu."),
                            code="unknown_parameter",
                        )
                    ]
                    for name in unknown
                }
            )
        return super().to_internal_value(data)


def valid(serializer_class, data, **kwargs) -> dict:
    """The body checked by `serializer_class` (400 with every field at fault otherwise)."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def field_lookup(queryset, value, field: str, message, key: str = "pk"):
    """An object named in the body: a 400 on that field when it is not one of the caller's."""
    obj = queryset.filter(**{key: value}).first()
    if obj is None:
        raise serializers.ValidationError(
            {field: [serializers.ErrorDetail(str(message), code="does_not_exist")]}
        )
    return obj


class IdOrderingQuery(StrictQuery):
    """The query of a list with no filter: its order only."""

    ordering = ordering_field({"-id": (), "id": ()})
