"""PDF rendering shared by every app's documents: HTML templates to bytes, nothing else.

Pure: a function takes a template and its context and returns bytes; nothing is saved, no state
changes. What a document says (an order's parties, a recovery's amounts) belongs to the app
that owns it; this module only renders, fingerprints and dates.

Renders are deterministic: the same context gives the same bytes. WeasyPrint writes no random
file identifier and no creation date unless the HTML carries a ``dcterms.created`` meta, which
the templates fill through `pdf_created` from the rows, never from the clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import weasyprint
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from weasyprint.urls import URLFetcher

PDF_TEMPLATES_DIR = settings.BASE_DIR / "templates" / "pdf"


def sha256_hex(content: bytes) -> str:
    """The hex SHA-256 of a document's bytes, as stored next to it and printed on signatures."""
    return hashlib.sha256(content).hexdigest()


def pdf_created(instant: dt.datetime | None) -> str:
    """The instant for the PDF's creation date: taken from the rows, never from the clock."""
    if instant is None:
        return ""
    return timezone.localtime(instant, timezone.get_default_timezone()).isoformat(
        timespec="seconds"
    )


def _local_files_only() -> URLFetcher:
    """A fetcher that refuses anything but local files, and stops the render if it refuses.

    The templates reference no resource at all (fonts are system fonts, CSS is inline); a URL
    showing up means a template bug, which must fail rather than silently fetch or drop it.
    """
    return URLFetcher(allowed_protocols=("file",), fail_on_errors=True)


def write_pdf(template_name: str, context: dict[str, Any]) -> bytes:
    """The template rendered in French (legal documents are, whoever asks) as a tagged PDF."""
    with translation.override("fr"):
        html = render_to_string(template_name, context)
    document = weasyprint.HTML(
        string=html, base_url=str(PDF_TEMPLATES_DIR), url_fetcher=_local_files_only()
    )
    return document.write_pdf(pdf_tags=True)
