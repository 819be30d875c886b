"""CSV and XLSX exports of a dashboard list, streamed row by row from a server-side cursor.

Amounts are euros with two decimals computed from the cents with Decimal (never float);
instants are Paris time (ISO 8601 with their offset in the CSV, Paris wall-clock time in XLSX).
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import FileResponse, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from catalogue.deadlines import PARIS

from .lists import DATE, INSTANT, MONEY, Column

CHUNK = 2000
CENT = Decimal("0.01")
XLSX_FORMATS = {MONEY: "#,##0.00\\ [$€-40C]", INSTANT: "dd/mm/yyyy hh:mm", DATE: "dd/mm/yyyy"}


def euros(cents: int) -> Decimal:
    """12345 cents -> Decimal('123.45'), exactly."""
    return (Decimal(cents) / 100).quantize(CENT)


def csv_value(kind: str, value):
    if value is None or value == "":
        return ""
    if kind == MONEY:
        return str(euros(value))
    if kind == INSTANT:
        return value.astimezone(PARIS).isoformat(timespec="seconds")
    if kind == DATE:
        return value.isoformat()
    return str(value)


def xlsx_value(kind: str, value):
    if value is None or value == "":
        return None
    if kind == MONEY:
        return euros(value)
    if kind == INSTANT:
        # A spreadsheet cell holds no time zone: the Paris wall-clock time is written.
        return value.astimezone(PARIS).replace(tzinfo=None)
    if kind == DATE:
        return value
    return str(value)


class _Echo:
    """A file-like object csv.writer writes one line into, returned as is."""

    def write(self, value: str) -> str:
        return value


def csv_response(filename: str, columns: list[Column], rows: Iterable) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff"  # so that spreadsheet programs read the file as UTF-8
        yield writer.writerow([str(c.header) for c in columns])
        for row in rows:
            yield writer.writerow([csv_value(c.kind, c.value(row)) for c in columns])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(filename: str, title: str, columns: list[Column], rows: Iterable) -> FileResponse:
    """A write-only workbook (rows go to a temporary file as they come), then streamed."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=str(column.header))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        cells = []
        for column in columns:
            cell = WriteOnlyCell(sheet, value=xlsx_value(column.kind, column.value(row)))
            if column.kind in XLSX_FORMATS:
                cell.number_format = XLSX_FORMATS[column.kind]
            cells.append(cell)
        sheet.append(cells)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes (and so deletes) it
    book.save(handle)
    handle.seek(0)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"{filename}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def export_name(code: str, slug: str, at: dt.datetime) -> str:
    return f"sons_{code}_{slug}_{at.astimezone(PARIS):%Y%m%d-%H%M}"
