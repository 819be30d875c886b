"""A stored file handed to a person: streamed from the storage, as an attachment.

The one way a view gives out a document (BDC, VA, filing, invoice, upload) once it has checked
who asks: the file is opened through its storage (the local folder or the object storage,
whichever machine wrote it), never through a local path nor through the storage's own URL.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404


def download_name(field_file: FieldFile) -> str:
    """The file's own name, without the storage's folders."""
    return PurePosixPath(field_file.name).name


def attachment(
    field_file: FieldFile, filename: str | None = None, *, content_type: str | None = None
) -> FileResponse:
    """`field_file` as a download (`Content-Disposition: attachment`), its type from its name
    unless given; 404 when there is none yet (not rendered) or the storage does not hold it."""
    if not field_file:
        raise Http404("Document pas encore disponible.")
    try:
        handle = field_file.storage.open(field_file.name, "rb")
    except FileNotFoundError:
        raise Http404("Document introuvable.") from None
    name = filename or download_name(field_file)
    content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
