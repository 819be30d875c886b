"""What the portal's views share: the clock, service refusals shown as messages, downloads."""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from django.contrib import messages
from django.http import FileResponse, Http404
from django.utils import timezone

from core.errors import RuleViolation


def now():
    return timezone.now()


def refused(request, exc: RuleViolation) -> None:
    """A service said no: its message, in the rule's own words."""
    messages.error(request, exc.message)


def download(field_file, filename: str | None = None) -> FileResponse:
    """A stored document as an attachment; 404 when it is not rendered yet."""
    if not field_file:
        raise Http404("Document pas encore disponible.")
    try:
        handle = field_file.open("rb")
    except FileNotFoundError:
        raise Http404("Document introuvable.") from None
    name = filename or PurePosixPath(field_file.name).name
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
