"""Spreadsheet and CSV export of any list, safe against formula injection, audited.

A list page describes its columns once (``Column(header, value, kind)``) and
hands its filtered query to ``export_response``.  Cells are typed by kind:
``text`` (always a string cell, so long digit strings such as phone or ID
numbers keep every digit), ``number`` (int, float or Decimal), ``date``,
``datetime`` (stored naive UTC, written in the display timezone) and
``bool``.  Text that starts like a formula (=, +, -, @, tab, CR) is
neutralised: in CSV with a leading apostrophe, in XLSX as a string cell with
Excel's quote-prefix flag, which is how Excel itself stores text typed as
'=... (shown and kept as text, never evaluated).
"""
from __future__ import annotations

import csv
import io
import itertools
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import quote

from flask import Response, abort
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from rollout.audit.services import record_event
from rollout.timeutil import local_today, to_local

FORMATS = ("xlsx", "csv")
KINDS = ("text", "number", "date", "datetime", "bool")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_WIDTHS = {"date": 12, "datetime": 17, "number": 12, "bool": 8}
_MAX_WIDTH = 50
#: Rows read to size the text columns.
WIDTH_SAMPLE = 200


@dataclass
class Column:
    """One export column: its header and how to get the value from a row."""
    header: str
    value: Callable | str
    #: text, number, date, datetime or bool (decides the cell type)
    kind: str = "text"

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")

    def get(self, row):
        if callable(self.value):
            return self.value(row)
        if isinstance(row, dict):
            return row.get(self.value)
        return getattr(row, self.value, None)


def looks_like_formula(value: str) -> bool:
    return bool(value) and value.startswith(_FORMULA_STARTS)


def neutralise(value: str) -> str:
    """Stop a spreadsheet from running text that starts like a formula (prefix an apostrophe)."""
    return "'" + value if looks_like_formula(value) else value


def _local(value):
    # Stored datetimes are naive UTC; a spreadsheet has no timezone, so write local time.
    # Whole minutes are what a reader wants; sub-second parts only clutter the cell.
    return to_local(value).replace(tzinfo=None, microsecond=0) if isinstance(value, datetime) else value


def typed_value(value, kind: str):
    """The Python value a cell of ``kind`` gets (text for anything that does not fit the kind)."""
    if value is None or value == "":
        return None
    if kind == "number" and isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    if kind == "datetime" and isinstance(value, datetime):
        return _local(value)
    if kind == "date" and isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    if kind == "bool":
        return bool(value)
    if isinstance(value, datetime):
        return _local(value).strftime("%Y-%m-%d %H:%M")
    return str(value)


def _display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: Chinese characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def column_widths(columns: list[Column], sample: list[list]) -> list[int]:
    """Widths that fit the header and the sampled values, within reason (a long note does not stretch the sheet)."""
    widths = []
    for index, column in enumerate(columns):
        header = _display_width(str(column.header)) + 2
        if column.kind in _WIDTHS:
            widths.append(max(_WIDTHS[column.kind], header))
            continue
        longest = max((_display_width(row[index]) for row in sample if isinstance(row[index], str)), default=0)
        widths.append(min(max(10, header, longest + 2), _MAX_WIDTH))
    return widths


def _xlsx_cell(sheet, value):
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # text stays text: long digit strings keep every digit
        if looks_like_formula(value):
            cell.quotePrefix = True
    elif isinstance(value, datetime):
        cell.number_format = "yyyy-mm-dd hh:mm"
    elif isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"
    elif isinstance(value, (float, Decimal)):
        cell.number_format = "#,##0.00"
    elif isinstance(value, int) and not isinstance(value, bool):
        cell.number_format = "0"
    return cell


def xlsx_bytes(columns: list[Column], rows: Iterable, sheet_title: str = "Export") -> tuple[bytes, int]:
    """Write rows to an XLSX workbook with typed cells; return the bytes and the row count."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(sheet_title))
    sheet.freeze_panes = "A2"
    values = ([typed_value(column.get(row), column.kind) for column in columns] for row in rows)
    # A write-only sheet takes its widths before its rows: size them on the first rows.
    sample = list(itertools.islice(values, WIDTH_SAMPLE))
    for index, width in enumerate(column_widths(columns, sample), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=str(column.header))
        cell.data_type = "s"
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    count = 0
    for row_values in itertools.chain(sample, values):
        sheet.append([_xlsx_cell(sheet, value) for value in row_values])
        count += 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), count


def _sheet_title(title: str) -> str:
    cleaned = "".join("_" if ch in '[]:*?/\\' else ch for ch in str(title))
    return cleaned[:31] or "Export"


def csv_text(value, kind: str) -> str:
    """One CSV field: typed values as plain text, everything else neutralised."""
    value = typed_value(value, kind)
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, (int, float, Decimal, date)):
        return str(value)
    return neutralise(value)


def csv_bytes(columns: list[Column], rows: Iterable) -> tuple[bytes, int]:
    """UTF-8 with BOM so Excel opens Chinese text correctly; formulas neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(str(c.header)) for c in columns])
    count = 0
    for row in rows:
        writer.writerow([csv_text(column.get(row), column.kind) for column in columns])
        count += 1
    return ("\ufeff" + buffer.getvalue()).encode("utf-8"), count


def export_response(name: str, columns: list[Column], rows: Iterable, fmt: str, entity: str | None = None,
                    filters: dict | None = None) -> Response:
    """Build a download of ``rows`` in ``fmt`` and record the export with its row count and filters.

    The caller has checked the ``data.export`` permission and applied the
    list's filters and access scope to ``rows``.
    """
    if fmt not in FORMATS:
        abort(404)  # the format comes from the address: an unknown one is a page that does not exist
    if fmt == "xlsx":
        data, count = xlsx_bytes(columns, rows, sheet_title=name)
        mimetype = XLSX_MIME
    else:
        data, count = csv_bytes(columns, rows)
        mimetype = CSV_MIME
    detail = f"{fmt} rows={count}"
    used = {k: v for k, v in sorted((filters or {}).items()) if v not in (None, "")}
    if used:
        detail += " filters=" + ",".join(f"{k}={v}" for k, v in used.items())
    record_event("export", entity=entity or name, detail=detail[:1000])
    return download_response(data, f"{name}-{local_today().isoformat()}.{fmt}", mimetype)


def download_response(data: bytes, filename: str, mimetype: str) -> Response:
    """An attachment download with a UTF-8 file name (RFC 6266)."""
    # Names are made of titles people typed: line breaks would break the header, slashes the saved file.
    filename = " ".join("".join(" " if ch in "/\\" or not ch.isprintable() else ch for ch in filename).split())
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    # Browsers that ignore filename* get an ASCII name; a Chinese name leaves no letters, so "download".
    ascii_stem = stem.encode("ascii", "ignore").decode().replace('"', "").strip(" -_") or "download"
    ascii_name = f"{ascii_stem}.{extension}" if extension else ascii_stem
    response = Response(data, content_type=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}")
    return response
