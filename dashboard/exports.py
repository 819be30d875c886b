"""CSV and XLSX exports of a dashboard list, streamed row by row from a server-side cursor,
written by the project's one export writer (core.exports: French conventions, no formula).

An amount priced on a demo tariff is never read as the State's figure, in a file either: right
after a list's first amount, a column says « [DÉMO] » on every row whose amount is a demo value
(`sons.demo_marks`, the one answer), so the figure stays a number a spreadsheet can sum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core import exports
from core.exports import MONEY, TEXT, Column, export_name
from sons.demo_marks import DEMO_MARK, amount_is_demo

CHUNK = 2000
DEMO_HEADER = "Montant de démonstration"

__all__ = ["CHUNK", "DEMO_HEADER", "csv_response", "export_name", "marked", "xlsx_response"]


def _demo_mark(row: Any) -> str:
    try:
        return DEMO_MARK if amount_is_demo(row) else ""
    except TypeError:  # a row that holds no amount of an order
        return ""


def marked(columns: list) -> list:
    """`columns` with the demo mark's column after the first amount (none without amounts)."""
    for position, column in enumerate(columns):
        if column.kind == MONEY:
            mark = Column(DEMO_HEADER, _demo_mark, TEXT)
            return [*columns[: position + 1], mark, *columns[position + 1 :]]
    return list(columns)


def csv_response(filename: str, columns: list, rows: Iterable):
    return exports.csv_response(filename, marked(columns), rows)


def xlsx_response(filename: str, title: str, columns: list, rows: Iterable):
    return exports.xlsx_response(filename, title, marked(columns), rows)
