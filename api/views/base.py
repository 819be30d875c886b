"""What every endpoint of the API shares: token authentication, the caller's vendor, per-token
rate limits, problem details, Idempotency-Key on POST, the record of each call, strict query
parameters and cursor pagination."""

from __future__ import annotations

import time
from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers, viewsets
from rest_framework.fields import SkipField, get_error_detail
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from api import calls, idempotency
from api.auth import IsProgrammeAdmin, IsVendorMember, TokenAuthentication, TokenRateThrottle
from api.concurrency import etag_of
from api.models import ApiCall
from api.pagination import CursorPage
from api.parsers import SafeJSONParser
from api.renderers import JSONRenderer
from core import unavailable

# Read by the pagination (api.pagination.CursorPage), not by a list's filters.
PAGINATION_PARAMETERS = ("cursor", "page_size")


class LenientNegotiation(DefaultContentNegotiation):
    """JSON whatever the Accept header says: the API speaks nothing else."""

    def select_renderer(self, request, renderers, format_suffix=None):
        # Nothing asked for (no Accept, or */*, no format): the one renderer, without parsing.
        if (
            len(renderers) == 1
            and format_suffix is None
            and request.META.get("HTTP_ACCEPT", "*/*") == "*/*"
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return (renderers[0], renderers[0].media_type)
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Exception:
            return (renderers[0], renderers[0].media_type)


class ApiViewSet(viewsets.GenericViewSet):
    """Base of the vendors' endpoints (a token of a vendor's member)."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsVendorMember]
    throttle_classes = [TokenRateThrottle]
    renderer_classes = [JSONRenderer]
    parser_classes = [SafeJSONParser]
    content_negotiation_class = LenientNegotiation
    pagination_class = CursorPage
    # (name of the ordering, model ordering): the first is the default.
    orderings: dict[str, tuple[str, ...]] = {"-id": ("-id",), "id": ("id",)}
    filter_serializer_class: type[StrictQuery] | None = None
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
                for name in PAGINATION_PARAMETERS:
                    data.pop(name, None)
                self._query = klass.validated(data)
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
    """Query parameters: an unknown one is an error, not silently ignored.

    A list validates its parameters with `validated`, through fields built once per class
    (instantiating a serializer deep-copies every declared field on each request), with the
    errors `is_valid` gives. The fields are plain ones: a query class declares no `validate`,
    `validate_<field>` nor validators (refused when the class is defined)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        meta = getattr(cls, "Meta", None)
        if (
            cls.validate is not serializers.Serializer.validate
            or any(
                name.startswith("validate_") and not hasattr(serializers.Serializer, name)
                for name in dir(cls)
            )
            or getattr(meta, "validators", None)
        ):
            raise TypeError(f"{cls.__name__}: query parameters are validated field by field.")

    @classmethod
    def validated(cls, data: Mapping[str, str]) -> dict:
        """`data` validated as `cls(data=data).is_valid(raise_exception=True)` does (the same
        ValidationError, the same validated data), by fields built once for the class."""
        bound = cls.__dict__.get("_bound_fields")
        if bound is None:
            # Bound to an instance of their own, never to a request's: validating a value
            # changes nothing in a field, so every request (and thread) may share them.
            own = cls()
            fields = tuple((name, f) for name, f in own.fields.items() if not f.read_only)
            bound = cls._bound_fields = (own, fields)
        own, fields = bound
        _refuse_unknown(data, own.fields)
        validated, errors = {}, {}
        for name, field in fields:
            try:
                value = field.run_validation(field.get_value(data))
            except serializers.ValidationError as exc:
                errors[name] = exc.detail
            except DjangoValidationError as exc:
                errors[name] = get_error_detail(exc)
            except SkipField:
                pass
            else:
                own.set_value(validated, field.source_attrs, value)
        if errors:
            raise serializers.ValidationError(errors)
        return validated

    def to_internal_value(self, data):
        _refuse_unknown(data, self.fields)
        return super().to_internal_value(data)


def _refuse_unknown(data, names) -> None:
    unknown = sorted(set(data) - set(names))
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
