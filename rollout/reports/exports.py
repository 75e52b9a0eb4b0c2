"""Spreadsheet and CSV export of any list, safe against formula injection, audited."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from rollout.audit.services import record_event

FORMATS = ("xlsx", "csv")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Column:
    """One export column: its header and how to get the value from a row."""
    header: str
    value: Callable | str
    #: text, number, date, datetime (decides the cell type)
    kind: str = "text"

    def get(self, row):
        if callable(self.value):
            return self.value(row)
        if isinstance(row, dict):
            return row.get(self.value)
        return getattr(row, self.value, None)


def neutralise(value: str) -> str:
    """Stop a spreadsheet from running text that starts like a formula."""
    return "'" + value if value and value.startswith(_FORMULA_STARTS) else value


def _cell_value(value, kind: str):
    if value is None:
        return None
    if kind == "number" and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value) if isinstance(value, Decimal) else value
    if kind in ("date", "datetime") and isinstance(value, (date, datetime)):
        return value
    if isinstance(value, bool):
        return "✓" if value else ""
    return neutralise(str(value))


def xlsx_bytes(columns: list[Column], rows: Iterable, sheet_title: str = "Export") -> tuple[bytes, int]:
    """Write rows to an XLSX workbook with typed cells; return the bytes and the row count."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title[:31] or "Export")
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=neutralise(str(column.header)))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in rows:
        cells = []
        for column in columns:
            value = _cell_value(column.get(row), column.kind)
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text: long digit strings keep every digit
            elif column.kind == "date" and value is not None:
                cell.number_format = "yyyy-mm-dd"
            elif column.kind == "datetime" and value is not None:
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif column.kind == "number" and value is not None:
                cell.number_format = "#,##0.00" if isinstance(value, float) else "0"
            cells.append(cell)
        sheet.append(cells)
        count += 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), count


def csv_bytes(columns: list[Column], rows: Iterable) -> tuple[bytes, int]:
    """UTF-8 with BOM so Excel opens Chinese text correctly; formulas neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutralise(str(c.header)) for c in columns])
    count = 0
    for row in rows:
        values = []
        for column in columns:
            value = column.get(row)
            if value is None:
                values.append("")
            elif isinstance(value, datetime):
                values.append(value.strftime("%Y-%m-%d %H:%M"))
            elif isinstance(value, (int, float, Decimal, date)) and not isinstance(value, bool):
                values.append(str(value))
            else:
                values.append(neutralise(str(value)))
        writer.writerow(values)
        count += 1
    return ("\ufeff" + buffer.getvalue()).encode("utf-8"), count


def export_response(name: str, columns: list[Column], rows: Iterable, fmt: str, entity: str | None = None,
                    filters: dict | None = None) -> Response:
    """Build a download of ``rows`` in ``fmt`` and record the export with its row count."""
    if fmt not in FORMATS:
        fmt = "xlsx"
    if fmt == "xlsx":
        data, count = xlsx_bytes(columns, rows, sheet_title=name)
        mimetype = XLSX_MIME
    else:
        data, count = csv_bytes(columns, rows)
        mimetype = "text/csv; charset=utf-8"
    detail = f"{fmt} rows={count}"
    if filters:
        detail += " filters=" + ",".join(f"{k}={v}" for k, v in sorted(filters.items()) if v not in (None, ""))
    record_event("export", entity=entity or name, detail=detail[:1000])
    return download_response(data, f"{name}.{fmt}", mimetype)


def download_response(data: bytes, filename: str, mimetype: str) -> Response:
    """An attachment download with a UTF-8 file name (RFC 6266)."""
    from urllib.parse import quote
    ascii_name = filename.encode("ascii", "ignore").decode() or "download"
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}")
    return response
