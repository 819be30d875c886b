"""Bulk requests (orders, clients, notices of completion) and their jobs."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from api import bulk
from api.errors import ApiProblem, flatten
from api.models import BulkJob
from api.serializers import BulkJobSerializer

from .base import ApiViewSet

ITEM_PATH = re.compile(r"^items\[(\d+)\]\.?(.*)$")


def max_items() -> int:
    return getattr(settings, "API_BULK_MAX_ITEMS", 10_000)


def sync_max_items() -> int:
    return getattr(settings, "API_BULK_SYNC_MAX_ITEMS", 1_000)


def _with_index(errors: list[dict]) -> list[dict]:
    out = []
    for error in errors:
        match = ITEM_PATH.match(error["field"] or "")
        index = int(match.group(1)) if match else None
        out.append({"index": index, **error})
    return out


def _item_errors(errors: list[dict]) -> list[dict]:
    """Per-item errors of a bulk, with the field's full path in the request too."""
    return [
        {
            "index": e["index"],
            "field": f"items[{e['index']}].{e['field']}" if e["field"] else f"items[{e['index']}]",
            "code": e["code"],
            "message": e["message"],
        }
        for e in errors
    ]


def bulk_response(view: ApiViewSet, request, serializer_class, kind: str) -> Response:
    raw_items = request.data.get("items") if isinstance(request.data, dict) else None
    if isinstance(raw_items, list) and len(raw_items) > max_items():
        raise ApiProblem(
            400,
            "too_many_items",
            _("Au plus %(max)s éléments par requête (%(count)s reçus).")
            % {"max": max_items(), "count": len(raw_items)},
            field="items",
        )
    serializer = serializer_class(data=request.data)
    if not serializer.is_valid():
        errors = _with_index(flatten(serializer.errors))
        if isinstance(raw_items, list):
            errors += _item_errors(bulk.missing_fields(raw_items, kind))
            errors.sort(key=lambda e: (e["index"] is None, e["index"] or 0))
        raise ApiProblem(
            400,
            "invalid_input",
            _("%(count)s erreur(s) dans la requête, rien n'a été enregistré.")
            % {"count": len(errors)},
            field=errors[0]["field"] if errors else "items",
            extra={"errors": errors},
        )
    items = [dict(item) for item in serializer.validated_data["items"]]
    prefer = request.headers.get("Prefer", "")
    if len(items) > sync_max_items() or "respond-async" in prefer:
        job = bulk.start_job(vendor=view.vendor, user=request.user, kind=kind, items=items)
        job.refresh_from_db()
        return Response(
            BulkJobSerializer(job).data,
            status=202,
            headers={"Location": _job_url(job), "Preference-Applied": "respond-async"},
        )
    job = BulkJob.objects.create(
        vendor=view.vendor,
        user=request.user,
        kind=kind,
        item_count=len(items),
        state=BulkJob.State.RUNNING,
        started_at=timezone.now(),
    )
    outcome = bulk.run_bulk(kind=kind, vendor=view.vendor, actor=request.user, items=items)
    job.state = BulkJob.State.FAILED if outcome.errors else BulkJob.State.SUCCEEDED
    job.result, job.errors, job.finished_at = outcome.results, outcome.errors, timezone.now()
    job.save(update_fields=["state", "result", "errors", "finished_at"])
    if outcome.failure == "invalid":
        raise ApiProblem(
            400,
            "bulk_invalid",
            _("%(count)s élément(s) invalide(s), rien n'a été enregistré.")
            % {"count": len({e["index"] for e in outcome.errors})},
            field=_item_errors(outcome.errors)[0]["field"],
            extra={"errors": _item_errors(outcome.errors), "job": str(job.public_id)},
        )
    if outcome.failure == "refused":
        raise ApiProblem(
            409,
            "bulk_refused",
            _("%(count)s élément(s) refusé(s) par les règles, rien n'a été enregistré.")
            % {"count": len({e["index"] for e in outcome.errors})},
            field=_item_errors(outcome.errors)[0]["field"],
            extra={"errors": _item_errors(outcome.errors), "job": str(job.public_id)},
        )
    return Response(BulkJobSerializer(job).data, status=200, headers={"Location": _job_url(job)})


def _job_url(job: BulkJob) -> str:
    return f"/api/v1/bulk-jobs/{job.public_id}/"


class BulkJobViewSet(ApiViewSet):
    serializer_class = BulkJobSerializer
    lookup_value_regex = r"[0-9a-fA-F-]{32,36}"

    @extend_schema(
        tags=["Traitements en masse"],
        summary="Suivre un traitement en masse",
        parameters=[
            OpenApiParameter(
                "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Identifiant"
            )
        ],
        responses=BulkJobSerializer,
    )
    def retrieve(self, request, pk=None):
        try:
            public_id = uuid.UUID(pk)
        except ValueError:
            raise Http404 from None
        job = get_object_or_404(BulkJob, public_id=public_id, vendor=self.vendor)
        return Response(BulkJobSerializer(job).data)
