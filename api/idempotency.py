"""Idempotency-Key on every POST: the same key and body give back the first answer; the same
key with another body is refused (422); a key still being processed answers 409.

The key is claimed by inserting a row in its own transaction before the work starts, so two
concurrent requests with one key cannot both run: the unique constraint lets one through.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import string

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from .errors import ApiProblem
from .models import IdempotencyRecord

logger = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Content-Type", "Location", "ETag", "Retry-After")
# A request that never finished (its process died) frees its key after this long.
STALE_AFTER = dt.timedelta(minutes=10)
ALLOWED = set(string.ascii_letters + string.digits + "-_.:~+/=")


def retention() -> dt.timedelta:
    return dt.timedelta(hours=getattr(settings, "API_IDEMPOTENCY_HOURS", 24))


def owner_of(request) -> str:
    vendor = getattr(request, "api_vendor", None)
    return f"vendor:{vendor.pk}" if vendor is not None else f"user:{request.user.pk}"


def fingerprint(request) -> str:
    """The request's method, path and body, in a form where key order and spacing of the JSON
    do not matter; uploaded files count by their SHA-256."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    data = request.data
    if hasattr(data, "lists"):
        items = sorted((k, sorted(str(v) for v in vs)) for k, vs in data.lists())
        digest.update(json.dumps(items, ensure_ascii=False).encode())
    else:
        digest.update(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode())
    for name in sorted(request.FILES):
        for upload in request.FILES.getlist(name):
            file_hash = hashlib.sha256()
            for chunk in upload.chunks():
                file_hash.update(chunk)
            upload.seek(0)
            digest.update(f"\n{name}:{file_hash.hexdigest()}".encode())
    return digest.hexdigest()


def _key_of(request) -> str:
    key = request.headers.get(HEADER)
    if key is None or not key.strip():
        raise ApiProblem(
            400,
            "idempotency_key_required",
            _("Chaque POST porte un en-tête Idempotency-Key (une valeur unique, ex. un UUID)."),
            field=HEADER,
        )
    key = key.strip()
    if len(key) > 255 or not set(key) <= ALLOWED:
        raise ApiProblem(
            400,
            "idempotency_key_invalid",
            _("La clé d'idempotence fait au plus 255 caractères (lettres, chiffres, - _ . :)."),
            field=HEADER,
        )
    return key


def claim(request) -> tuple[IdempotencyRecord | None, HttpResponse | None]:
    """Claims the request's key: (record to complete, None) to go on, or (None, response) to
    answer at once with the first answer."""
    key = _key_of(request)
    owner = owner_of(request)
    request_hash = fingerprint(request)
    now = timezone.now()
    for _attempt in range(2):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    owner=owner,
                    key=key,
                    method=request.method,
                    path=request.path[:255],
                    request_hash=request_hash,
                    state=IdempotencyRecord.State.IN_PROGRESS,
                    created_at=now,
                )
            return record, None
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
            if existing is None:
                continue  # removed meanwhile (expired or failed): claim it again
            expired = existing.created_at < now - retention()
            stale = (
                existing.state == IdempotencyRecord.State.IN_PROGRESS
                and existing.created_at < now - STALE_AFTER
            )
            if expired or stale:
                IdempotencyRecord.objects.filter(pk=existing.pk).delete()
                continue
            if existing.request_hash != request_hash:
                raise ApiProblem(
                    422,
                    "idempotency_key_reused",
                    _(
                        "Cette clé d'idempotence a déjà servi pour une autre requête : "
                        "utilisez une nouvelle clé pour une nouvelle opération."
                    ),
                    field=HEADER,
                ) from None
            if existing.state == IdempotencyRecord.State.IN_PROGRESS:
                raise ApiProblem(
                    409,
                    "idempotency_key_in_progress",
                    _("Une requête avec cette clé est en cours : réessayez dans un instant."),
                    field=HEADER,
                    headers={"Retry-After": "1"},
                ) from None
            return None, replay(existing)
    raise ApiProblem(
        409,
        "idempotency_key_in_progress",
        _("Une requête avec cette clé est en cours : réessayez dans un instant."),
        field=HEADER,
        headers={"Retry-After": "1"},
    )


def replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body or b""), status=record.response_status or 200
    )
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def complete(record: IdempotencyRecord, response) -> None:
    """Stores the answer (rendered) for replay; a 5xx frees the key so the client may retry."""
    if response.status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    body = b"" if getattr(response, "streaming", False) else response.content
    headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.DONE,
        response_status=response.status_code,
        response_headers=headers,
        response_body=body,
        completed_at=timezone.now(),
    )


def release(record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).delete()


def purge(*, before: dt.datetime | None = None) -> int:
    """Forgets keys older than the retention period."""
    before = before or timezone.now() - retention()
    deleted, _detail = IdempotencyRecord.objects.filter(created_at__lt=before).delete()
    logger.info("idempotency_purged count=%s", deleted)
    return deleted
