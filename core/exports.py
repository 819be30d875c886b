"""The one writer of every CSV and XLSX file the engine produces (portal, dashboard, admin).

Files are opened by people in a French spreadsheet program, so they follow its conventions:
« ; » between fields, a decimal comma, dates as dd/mm/yyyy and instants as dd/mm/yyyy hh:mm in
Paris time, UTF-8 with a byte order mark. Text typed by someone else (a client's name, a
reference) must never run as a formula: in CSV a text cell starting with =, +, -, @, a tab or a
carriage return is prefixed with an apostrophe (OWASP, « CSV injection »); in XLSX text cells are
written as text, never as formulas. Amounts are written from integer cents with Decimal.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from .clock import PARIS

TEXT = "text"
MONEY = "money"  # integer cents
INSTANT = "instant"  # aware datetime
DATE = "date"
NUMBER = "number"  # integer

CENT = Decimal("0.01")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_FORMATS = {MONEY: "#,##0.00\\ [$€-40C]", INSTANT: "dd/mm/yyyy hh:mm", DATE: "dd/mm/yyyy"}
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    """A column of an export: its French header, the kind of its values, and how a row gives
    its value (`value(row)`). Any object with these three attributes will do (the dashboard's
    list columns carry a link as well)."""

    header: str
    value: Callable[[Any], Any]
    kind: str = TEXT


def euros(cents: int) -> Decimal:
    """12345 cents -> Decimal('123.45'), exactly."""
    return (Decimal(cents) / 100).quantize(CENT)


def neutralised(text: str) -> str:
    """`text` as a spreadsheet shows it without running it."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_value(kind: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if kind == MONEY:
        return str(euros(value)).replace(".", ",")
    if kind == INSTANT:
        return f"{value.astimezone(PARIS):%d/%m/%Y %H:%M}"
    if kind == DATE:
        return f"{value:%d/%m/%Y}"
    if kind == NUMBER:
        return str(int(value))
    return neutralised(str(value))


def xlsx_cell(sheet, kind: str, value: Any) -> WriteOnlyCell:
    if value is None or value == "":
        return WriteOnlyCell(sheet, value=None)
    if kind == MONEY:
        cell = WriteOnlyCell(sheet, value=euros(value))
    elif kind == INSTANT:
        # A spreadsheet cell holds no time zone: the Paris wall-clock time is written.
        cell = WriteOnlyCell(sheet, value=value.astimezone(PARIS).replace(tzinfo=None))
    elif kind == DATE:
        cell = WriteOnlyCell(sheet, value=value)
    elif kind == NUMBER:
        cell = WriteOnlyCell(sheet, value=int(value))
    else:
        cell = WriteOnlyCell(sheet, value=None)
        # Set after construction: openpyxl takes a string starting with « = » for a formula.
        cell._value = str(value)
        cell.data_type = "s"
    if kind in XLSX_FORMATS:
        cell.number_format = XLSX_FORMATS[kind]
    return cell


class _Echo:
    """A file-like object csv.writer writes one line into, returned as is."""

    def write(self, value: str) -> str:
        return value


def csv_lines(columns: list[Column], rows: Iterable) -> Iterator[str]:
    """The file, line by line (the first carries the byte order mark)."""
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff" + writer.writerow([neutralised(str(c.header)) for c in columns])
    for row in rows:
        yield writer.writerow([csv_value(c.kind, c.value(row)) for c in columns])


def csv_bytes(columns: list[Column], rows: Iterable) -> bytes:
    return "".join(csv_lines(columns, rows)).encode("utf-8")


def csv_response(filename: str, columns: list[Column], rows: Iterable) -> StreamingHttpResponse:
    """Streamed: as long as the rows are, in constant memory."""
    response = StreamingHttpResponse(csv_lines(columns, rows), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(filename: str, title: str, columns: list[Column], rows: Iterable) -> FileResponse:
    """A write-only workbook (rows go to a temporary file as they come), then streamed."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31])
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = xlsx_cell(sheet, TEXT, str(column.header))
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append([xlsx_cell(sheet, c.kind, c.value(row)) for c in columns])
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes (and so deletes) it
    book.save(handle)
    handle.seek(0)
    return FileResponse(
        handle, as_attachment=True, filename=f"{filename}.xlsx", content_type=XLSX_CONTENT_TYPE
    )


def export_name(code: str, slug: str, at: dt.datetime) -> str:
    return f"sons_{code}_{slug}_{at.astimezone(PARIS):%Y%m%d-%H%M}"
