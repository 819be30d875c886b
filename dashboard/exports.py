"""CSV and XLSX exports of a dashboard list, streamed row by row from a server-side cursor,
written by the project's one export writer (core.exports: French conventions, no formula)."""

from core.exports import csv_response, export_name, xlsx_response

CHUNK = 2000

__all__ = ["CHUNK", "csv_response", "export_name", "xlsx_response"]
