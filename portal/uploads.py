"""What the portal accepts as an uploaded file, judged by its content, not its name.

- a CSV is text: no NUL or other control bytes, and it decodes as UTF-8 (or Windows-1252, which
  French spreadsheets still save);
- an XLSX is a zip holding an XLSX workbook (`[Content_Types].xml`, `xl/workbook.xml`), whose
  members, once decompressed, stay under PORTAL_XLSX_MAX_UNCOMPRESSED_BYTES in all and under
  PORTAL_XLSX_MAX_RATIO times their compressed size each: a zip bomb (a few kilobytes that
  inflate to gigabytes) is refused before openpyxl opens it. The sizes checked are the ones the
  zip declares; Python's zipfile never inflates a member past its declared size (it stops and
  fails the CRC), so they bound what openpyxl can read;
- a PDF starts with « %PDF- »;
- each has a size cap.

Refusals carry a rule code and a French sentence, shown under the form's field.
"""

from __future__ import annotations

import io
import re
import zipfile

from django.conf import settings
from django.utils.translation import gettext as _

XLSX_MEMBERS = ("[Content_Types].xml", "xl/workbook.xml")
XLSX_MAX_MEMBERS = 10_000
# A member this small may compress as much as it likes.
RATIO_FLOOR_BYTES = 1024 * 1024
# C0 control characters other than tab, line feed, form feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class UploadRefused(ValueError):
    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(message)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",").replace(",0", "")


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise UploadRefused(
            "file_too_large",
            _("Le fichier fait %(size)s Mo : %(max)s Mo au plus.")
            % {"size": _mb(size), "max": _mb(max_bytes)},
        )


def csv_text(content: bytes) -> str:
    """The text of a CSV file; UploadRefused when the bytes are not text."""
    if content.startswith((b"PK\x03\x04", b"%PDF")) or b"\x00" in content:
        raise UploadRefused(
            "file_not_text",
            _("Ce fichier n'est pas un fichier texte CSV (déposez un XLSX sous le nom .xlsx)."),
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            # Spreadsheets on French Windows still save CSV in Windows-1252.
            text = content.decode("cp1252")
        except UnicodeDecodeError:
            raise UploadRefused(
                "file_not_text",
                _("Ce fichier CSV n'est ni en UTF-8 ni en Windows-1252 : enregistrez-le en UTF-8."),
            ) from None
    if _CONTROL.search(text):
        raise UploadRefused(
            "file_not_text",
            _("Ce fichier contient des caractères de contrôle : ce n'est pas un CSV."),
        )
    return text


def max_uncompressed() -> int:
    return getattr(settings, "PORTAL_XLSX_MAX_UNCOMPRESSED_BYTES", 100 * 1024 * 1024)


def max_ratio() -> int:
    return getattr(settings, "PORTAL_XLSX_MAX_RATIO", 200)


def check_xlsx(content: bytes) -> None:
    """An XLSX workbook that is safe to open; UploadRefused otherwise."""
    not_xlsx = UploadRefused(
        "file_not_xlsx", _("Ce fichier n'est pas un classeur XLSX (Excel, LibreOffice).")
    )
    if not content.startswith(b"PK\x03\x04"):
        raise not_xlsx
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise not_xlsx from None
    if len(members) > XLSX_MAX_MEMBERS:
        raise UploadRefused(
            "file_zip_bomb", _("Ce classeur contient trop de fichiers internes pour être lu.")
        )
    names = {m.filename for m in members}
    if not all(name in names for name in XLSX_MEMBERS):
        raise not_xlsx
    total = sum(m.file_size for m in members)
    if total > max_uncompressed():
        raise UploadRefused(
            "file_zip_bomb",
            _(
                "Décompressé, ce classeur ferait %(size)s Mo : %(max)s Mo au plus. Enregistrez "
                "les lignes en CSV ou en plusieurs fichiers."
            )
            % {"size": _mb(total), "max": _mb(max_uncompressed())},
        )
    for member in members:
        if member.file_size <= RATIO_FLOOR_BYTES:
            continue
        ratio = member.file_size // max(member.compress_size, 1)
        if ratio > max_ratio():
            raise UploadRefused(
                "file_zip_bomb",
                _(
                    "Ce classeur se décompresse de façon anormale (%(name)s : %(ratio)s fois sa "
                    "taille) : il est refusé."
                )
                % {
                    "name": member.filename[:100],
                    "ratio": member.file_size // max(member.compress_size, 1),
                },
            )


def check_pdf(content: bytes) -> None:
    if not content.startswith(b"%PDF-"):
        raise UploadRefused("file_not_pdf", _("Ce fichier n'est pas un PDF."))


def check_upload(name: str, content: bytes) -> None:
    """The bulk order file by its extension and its content (other extensions are left to the
    import, which refuses them with its own message)."""
    lower = name.lower()
    if lower.endswith(".xlsx"):
        check_xlsx(content)
    elif lower.endswith((".csv", ".txt")):
        csv_text(content)
