"""What the portal's views share: the clock, service refusals shown as messages, downloads."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse
from django.utils import timezone

from core.errors import RuleViolation
from core.files import attachment


def now():
    return timezone.now()


def refused(request, exc: RuleViolation) -> None:
    """A service said no: its message, in the rule's own words."""
    messages.error(request, exc.message)


def download(field_file, filename: str | None = None) -> FileResponse:
    """A stored document as an attachment, streamed from the storage; 404 when it is not
    rendered yet. The caller has found it in the vendor's own objects."""
    return attachment(field_file, filename)
