"""Reading uploaded files as rows of the text the user sees, streaming, never loading them whole.

``inspect_file`` checks a file completely before anything is written (type by its
magic bytes, zip-bomb limits, encoding of every line, emptiness) and returns a
``SourceInfo`` with what it detected; ``iter_rows`` then streams the data rows.

A workbook's cells are turned into text once: while ``inspect_file`` reads a sheet it writes
the texts beside the kept file as a UTF-8 CSV (its "row copy"), and every later read (preview,
dry run, the run, another header row) streams that copy instead of parsing the workbook again
(100,000 rows: 0.2 s instead of 12 s).  ``remove_kept_file`` deletes a kept file with its copies.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import os
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from operator import itemgetter
from pathlib import Path

from flask_babel import lazy_gettext as _l

from rollout.errors import ServiceError

CSV, XLSX = "csv", "xlsx"
#: Encodings a user may choose in the preview (GB18030 is the superset of GBK and GB2312).
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "gbk", "big5", "utf-16", "utf-16-le", "utf-16-be", "latin-1")
SEPARATORS = {",": _l("Comma ,"), ";": _l("Semicolon ;"), "\t": _l("Tab"), "，": _l("Full-width comma ，")}
#: Zip-bomb limits for .xlsx: total uncompressed size and the compression ratio of any large member.
MAX_XLSX_UNCOMPRESSED = 600 * 1024 * 1024
MAX_COMPRESSION_RATIO = 150
MAX_COLUMNS = 300
HEADER_SEARCH_ROWS = 10
_CHUNK = 1024 * 1024
csv.field_size_limit(1024 * 1024)


class ImportFileError(ServiceError):
    """The file cannot be imported as it is; the message says why and what to do."""

    def __init__(self, message):
        super().__init__(str(message), "file")


@dataclass
class SourceInfo:
    """What inspection found out about a file; the user may override encoding, separator and header row."""
    kind: str
    encoding: str | None = None
    #: True when the encoding came from charset-normalizer's guess rather than a sure rule.
    encoding_guessed: bool = False
    separator: str | None = None
    #: 1-based row number of the header row in the file.
    header_row: int = 1
    headers: list[str] = field(default_factory=list)
    #: Non-blank data rows below the header.
    row_count: int = 0
    sheet: str | None = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "encoding": self.encoding, "encoding_guessed": self.encoding_guessed,
                "separator": self.separator, "header_row": self.header_row, "headers": self.headers,
                "row_count": self.row_count, "sheet": self.sheet}

    @classmethod
    def from_dict(cls, data: dict) -> SourceInfo:
        return cls(**{key: data.get(key) for key in ("kind", "encoding", "encoding_guessed", "separator",
                                                        "header_row", "headers", "row_count", "sheet")})


# --- file type -------------------------------------------------------------------
def sniff_kind(path: Path, filename: str) -> str:
    """csv or xlsx, decided by the file's first bytes and checked against its extension."""
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError(_l("The file is empty."))
    with path.open("rb") as handle:
        head = handle.read(8)
    suffix = Path(filename or "").suffix.lower()
    if suffix not in (".xlsx", ".xlsm", ".csv", ".txt", ".tsv"):
        raise ImportFileError(_l("Only .xlsx, .csv and .txt files can be imported."))
    is_zip = head.startswith(b"PK\x03\x04")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(_l("This is an old .xls workbook or a password-protected file. "
                                 "Open it in Excel and save it as .xlsx (without a password)."))
    if suffix in (".xlsx", ".xlsm"):
        if not is_zip:
            raise ImportFileError(_l("The file is named .xlsx but is not an Excel workbook. "
                                     "If it is a CSV file, rename it to .csv."))
        return XLSX
    if is_zip:
        raise ImportFileError(_l("The file is named %(suffix)s but is a zip or Excel file. "
                                 "Rename it to .xlsx if it is a workbook.", suffix=suffix))
    for magic in (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x7fELF", b"MZ"):
        if head.startswith(magic):
            raise ImportFileError(_l("The file is not a text file; save the data as CSV or .xlsx."))
    return CSV


# --- CSV: encoding ------------------------------------------------------------------
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _bom_encoding(path: Path) -> str | None:
    with path.open("rb") as handle:
        head = handle.read(4)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return None


def _line_blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file in blocks of whole lines (about _CHUNK bytes each), with each block's first line number."""
    line, rest = 1, b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                if rest:
                    yield line, rest
                return
            block = rest + chunk
            cut = block.rfind(b"\n") + 1
            block, rest = block[:cut], block[cut:]
            if block:
                yield line, block
                line += block.count(b"\n")


#: In text decoded from UTF-8 with surrogateescape: a byte that is not UTF-8, and a whole line
#: that is UTF-8 with some non-ASCII text in it.  Neither encoding below ever puts a newline
#: byte inside a character, so lines read the same in a block as one by one.  The line pattern
#: starts with its newline (searched in the text after a "\n"): a pattern starting with a
#: character is tried only where that character is, one with ^ at every position of the block.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_UTF8_LINE = re.compile("\n(?=[^\n]*[^\x00-\x7f])[^\n\udc80-\udcff]*(?![^\n])")


def _first_lines(first_line: int, block: bytes) -> tuple[int | None, int | None, int | None]:
    """(first UTF-8 line, first GB18030 line, first line in neither) of a block with non-ASCII text.

    Whole blocks are decoded at C speed; only a block with an undecodable line is read line by line.
    """
    text = "\n" + block.decode("utf-8", "surrogateescape")
    not_utf8 = _NOT_UTF8.search(text)
    utf8 = _UTF8_LINE.search(text)
    utf8_line = first_line + text.count("\n", 1, utf8.start() + 1) if utf8 else None
    if not_utf8 is None:
        return utf8_line, None, None
    try:
        block.decode("gb18030")
        return utf8_line, first_line + text.count("\n", 1, not_utf8.start()), None
    except UnicodeDecodeError:
        pass
    first_gb = first_bad = None
    for number, line in enumerate(block.split(b"\n"), start=first_line):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            continue
        except UnicodeDecodeError:
            pass
        try:
            line.decode("gb18030")
            first_gb = first_gb or number
        except UnicodeDecodeError:
            first_bad = first_bad or number
    return utf8_line, first_gb, first_bad


def _check_decodes(path: Path, encoding: str) -> None:
    """Decode the whole file strictly (streaming); raise with the line that fails."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    line = 1
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                partial = chunk[: error.start]
                bad_line = line + partial.count(b"\n") if "16" not in encoding and "32" not in encoding else None
                if bad_line:
                    raise ImportFileError(_l("The file cannot be read as %(encoding)s (line %(line)d). "
                                             "Choose another encoding.", encoding=encoding, line=bad_line))
                raise ImportFileError(_l("The file cannot be read as %(encoding)s. Choose another encoding.",
                                         encoding=encoding))
            line += text.count("\n")
            if not chunk:
                return


def detect_encoding(path: Path) -> tuple[str, bool]:
    """(encoding, guessed): BOM first, then strict UTF-8, then GB18030, then charset-normalizer's guess.

    Every line is checked, so a file mixing UTF-8 and GBK lines is refused with both line
    numbers instead of being imported half garbled.
    """
    bom = _bom_encoding(path)
    if bom:
        _check_decodes(path, bom)
        return bom, False
    with path.open("rb") as handle:
        sample = handle.read(4096)
    if b"\x00" in sample:
        odd_nuls = sample[1::2].count(0)
        even_nuls = sample[0::2].count(0)
        if odd_nuls > len(sample) // 4 and even_nuls < odd_nuls // 8:
            _check_decodes(path, "utf-16-le")
            return "utf-16-le", False
        if even_nuls > len(sample) // 4 and odd_nuls < even_nuls // 8:
            _check_decodes(path, "utf-16-be")
            return "utf-16-be", False
        raise ImportFileError(_l("The file contains binary data; save the data as CSV or .xlsx."))
    first_utf8 = first_gb = first_bad = None
    for first_line, block in _line_blocks(path):
        if block.isascii():
            continue
        utf8, gb, bad = _first_lines(first_line, block)
        first_utf8, first_gb, first_bad = first_utf8 or utf8, first_gb or gb, first_bad or bad
    if first_utf8 and (first_gb or first_bad):
        raise ImportFileError(_l("The file mixes encodings: line %(utf8)d is UTF-8 but line %(other)d is not. "
                                 "Save the whole file again in one encoding (UTF-8 is best).",
                                 utf8=first_utf8, other=first_gb or first_bad))
    if first_bad is None:
        return ("gb18030", False) if first_gb else ("utf-8", False)
    from charset_normalizer import from_path
    best = from_path(str(path), steps=5, chunk_size=4096).best()
    if best is not None and best.encoding:
        guess = codecs.lookup(best.encoding).name
        try:
            _check_decodes(path, guess)
            return guess, True
        except ImportFileError:
            pass
    raise ImportFileError(_l("The encoding of the file could not be recognised (line %(line)d). "
                             "Save it as UTF-8 CSV or choose the encoding.", line=first_bad))


# --- CSV: separator and rows ------------------------------------------------------------
def _text_lines(path: Path, encoding: str, limit: int = 30) -> list[str]:
    lines = []
    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        for line in handle:
            if line.strip():
                lines.append(line)
            if len(lines) >= limit:
                break
    return lines


def detect_separator(lines: list[str]) -> str:
    """The candidate appearing the same number of times on most lines (comma, semicolon, tab, '，')."""
    best, best_score = ",", (0, 0)
    for candidate in ("\t", "，", ";", ","):
        counts = [line.count(candidate) for line in lines]
        common = Counter(c for c in counts if c > 0).most_common(1)
        if not common:
            continue
        count, frequency = common[0]
        score = (frequency, count)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _csv_rows(path: Path, encoding: str, separator: str) -> Iterator[tuple[int, list[str]]]:
    with path.open("r", encoding=encoding, errors="strict", newline="") as handle:
        reader = csv.reader(handle, delimiter=separator)
        try:
            for number, row in enumerate(reader, start=1):
                yield number, row
        except csv.Error as error:
            raise ImportFileError(_l("The CSV file is malformed near row %(row)d: %(error)s",
                                     row=reader.line_num, error=str(error)))
        except UnicodeDecodeError:
            raise ImportFileError(_l("The file cannot be read as %(encoding)s. Choose another encoding.",
                                     encoding=encoding))


# --- XLSX ------------------------------------------------------------------------------
def check_zip_safety(path: Path) -> None:
    """Refuse workbooks that would unpack to far more than their size (zip bombs) or are not workbooks."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            names = {member.filename for member in members}
            if "xl/workbook.xml" not in names:
                raise ImportFileError(_l("The file is a zip archive but not an Excel workbook."))
            total = sum(member.file_size for member in members)
            if total > MAX_XLSX_UNCOMPRESSED:
                raise ImportFileError(_l("The workbook unpacks to more than %(mb)d MB; it is refused as unsafe. "
                                         "Split it or save it as CSV.", mb=MAX_XLSX_UNCOMPRESSED // 1024 // 1024))
            for member in members:
                if member.file_size > 1024 * 1024 and member.file_size > MAX_COMPRESSION_RATIO * max(member.compress_size, 1):
                    raise ImportFileError(_l("The workbook is compressed suspiciously well (a possible zip bomb); "
                                             "it is refused. Save it as CSV instead."))
    except zipfile.BadZipFile:
        raise ImportFileError(_l("The workbook is damaged and cannot be opened."))


def _decimals(number_format: str) -> int:
    if "." not in number_format:
        return 0
    tail = number_format.split(".", 1)[1]
    return len(tail) - len(tail.lstrip("0#"))


def cell_text(value, number_format: str | None = "General") -> str:
    """A cell as the text Excel shows: leading zeros of 0-padded formats, no 1.38E+10, dates as dates."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if not isinstance(value, (int, float, Decimal)):
        return str(value)
    number_format = number_format or "General"
    plain = number_format.split(";", 1)[0]
    if plain and set(plain) == {"0"} and len(plain) > 1 and float(value).is_integer():
        return f"{int(value):0{len(plain)}d}"
    if "%" in plain:
        return f"{float(value) * 100:.{_decimals(plain)}f}%"
    decimals = _decimals(plain) if any(ch in plain for ch in "0#") and plain != "General" else None
    if decimals is not None and (decimals or not float(value).is_integer()):
        text = f"{float(value):,.{decimals}f}" if "," in plain else f"{float(value):.{decimals}f}"
        return text
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}" if "," in plain else str(value)
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def _open_sheet(path: Path, sheet: str | None):
    import openpyxl
    check_zip_safety(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for damaged or encrypted files
        raise ImportFileError(_l("The workbook is damaged or protected and cannot be opened."))
    names = [ws.title for ws in workbook.worksheets if getattr(ws, "sheet_state", "visible") == "visible"]
    if not names:
        workbook.close()
        raise ImportFileError(_l("The workbook has no visible sheet."))
    name = sheet if sheet in workbook.sheetnames else names[0]
    return workbook, workbook[name]


def _xlsx_rows(path: Path, sheet: str | None) -> Iterator[tuple[int, list[str]]]:
    workbook, worksheet = _open_sheet(path, sheet)
    try:
        for number, cells in enumerate(worksheet.iter_rows(), start=1):
            yield number, [cell_text(cell.value, getattr(cell, "number_format", None)) for cell in cells[:MAX_COLUMNS]]
    except ImportFileError:
        raise
    except Exception:
        raise ImportFileError(_l("The workbook is damaged and cannot be read completely."))
    finally:
        workbook.close()


def row_copy_path(path: Path, sheet: str | None) -> Path:
    """Where the cell texts of one sheet of the workbook at ``path`` are kept."""
    digest = hashlib.sha1((sheet or "").encode("utf-8")).hexdigest()[:12]
    return path.with_name(f"{path.name}.{digest}.rows")


def _copying(rows: Iterator[tuple[int, list[str]]], copy: Path) -> Iterator[tuple[int, list[str]]]:
    """``rows`` passed on unchanged, written to ``copy`` as they go; the copy appears only once
    every row is in it (written under another name, then renamed), so a half copy is never read."""
    partial = copy.with_name(f"{copy.name}.{os.getpid()}.part")
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            write = csv.writer(handle).writerow
            for number, row in rows:
                write([number, *row])
                yield number, row
        os.replace(partial, copy)
    finally:
        partial.unlink(missing_ok=True)


def _copied_rows(copy: Path) -> Iterator[tuple[int, list[str]]]:
    with copy.open("r", encoding="utf-8", newline="") as handle:
        for number, *row in csv.reader(handle):
            yield int(number), row


def dry_run_path(path: Path) -> Path:
    """Where the last dry run of the import of the kept upload at ``path`` is kept."""
    return path.with_name(f"{path.name}.check.json")


def remove_kept_file(path: Path) -> None:
    """Delete a kept upload, the row copies made from it and its last dry run."""
    path.unlink(missing_ok=True)
    dry_run_path(path).unlink(missing_ok=True)
    for copy in path.parent.glob(f"{path.name}.*.rows"):
        copy.unlink(missing_ok=True)


def sheet_names(path: Path) -> list[str]:
    workbook, _worksheet = _open_sheet(path, None)
    try:
        return [ws.title for ws in workbook.worksheets]
    finally:
        workbook.close()


# --- both --------------------------------------------------------------------------
def _is_blank(row: list[str]) -> bool:
    return not "".join(row).strip()  # one C call per row instead of a generator over its cells


def raw_rows(path: Path, info: SourceInfo) -> Iterator[tuple[int, list[str]]]:
    """Every row of the file (row number, cells as text), blank rows included."""
    if info.kind == XLSX:
        copy = row_copy_path(path, info.sheet)
        return _copied_rows(copy) if copy.exists() else _xlsx_rows(path, info.sheet)
    return _csv_rows(path, info.encoding, info.separator)


def _looks_numeric(text: str) -> bool:
    return text.replace(".", "", 1).replace("-", "").replace(",", "").strip().isdigit()


def detect_header_row(rows: list[tuple[int, list[str]]], score_header: Callable[[str], bool] | None = None) -> int:
    """The row that looks like column names: wide, text-only, distinct, ideally known names."""
    if not rows:
        return 1
    widest = max(sum(1 for c in row if c.strip()) for _, row in rows)
    best_number, best_score = rows[0][0], -1.0
    for number, row in rows:
        cells = [c.strip() for c in row if c.strip()]
        if len(cells) < max(1, widest * 0.5):
            continue
        if any(_looks_numeric(c) for c in cells) or len(set(cells)) < len(cells):
            continue
        known = sum(1 for c in cells if score_header and score_header(c))
        score = known * 10 + len(cells)
        if score > best_score:
            best_number, best_score = number, score
        if known >= 2:
            break
    return best_number


def inspect_file(path: Path, filename: str, encoding: str | None = None, separator: str | None = None,
                 header_row: int | None = None, sheet: str | None = None,
                 score_header: Callable[[str], bool] | None = None) -> SourceInfo:
    """Check the whole file and detect how to read it; raise ImportFileError with a clear message."""
    kind = sniff_kind(path, filename)
    info = SourceInfo(kind=kind, sheet=sheet)
    if kind == CSV:
        if encoding:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise ImportFileError(_l("Unknown encoding %(encoding)s.", encoding=encoding))
            _check_decodes(path, encoding)
            info.encoding = encoding
        else:
            info.encoding, info.encoding_guessed = detect_encoding(path)
        info.separator = separator if separator in SEPARATORS else detect_separator(_text_lines(path, info.encoding))
    first_rows: list[tuple[int, list[str]]] = []
    rows = raw_rows(path, info)
    if kind == XLSX and not row_copy_path(path, sheet).exists():
        rows = _copying(rows, row_copy_path(path, sheet))
    try:
        for number, row in rows:
            if not _is_blank(row):
                first_rows.append((number, row))
                if len(first_rows) >= HEADER_SEARCH_ROWS:
                    break
        if not first_rows:
            raise ImportFileError(_l("The file has no data: every row is blank."))
        header = _choose_header(first_rows, info, header_row, score_header)
        # The rest only counted, the rows that are not blank, in C calls (no Python code per row).
        rest = sum(map(bool, map(str.strip, map("".join, map(itemgetter(1), rows)))))
    finally:
        rows.close()  # now, not when the collector finds it: the file is closed, a half row copy removed
    count_after_header = sum(1 for n, _ in first_rows if n > info.header_row) + rest
    info.headers = _unique_headers(header)
    info.row_count = count_after_header
    if not any(info.headers):
        raise ImportFileError(_l("The header row %(row)d is empty; choose the row with the column names.",
                                 row=info.header_row))
    if info.row_count == 0:
        raise ImportFileError(_l("The file has column names but no data rows."))
    return info


def _choose_header(first_rows, info: SourceInfo, header_row, score_header) -> list[str]:
    if header_row:
        info.header_row = int(header_row)
        for number, row in first_rows:
            if number == info.header_row:
                return row
        raise ImportFileError(_l("Row %(row)d is blank or not among the first rows; choose another header row.",
                                 row=info.header_row))
    info.header_row = detect_header_row(first_rows, score_header)
    return next(row for number, row in first_rows if number == info.header_row)


def _unique_headers(row: list[str]) -> list[str]:
    """Header names trimmed, with empty ones named by position and repeated ones numbered."""
    seen: Counter = Counter()
    headers = []
    last = max((i for i, c in enumerate(row) if c.strip()), default=-1)
    for index, cell in enumerate(row[: last + 1]):
        name = " ".join(cell.split()) or f"#{index + 1}"
        seen[name] += 1
        headers.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return headers


def iter_rows(path: Path, info: SourceInfo) -> Iterator[tuple[int, list[str]]]:
    """The data rows below the header (row number, cells), blank rows skipped."""
    width = len(info.headers)
    header_row = info.header_row
    for number, row in raw_rows(path, info):
        if number <= header_row or not "".join(row).strip():  # _is_blank, without a call per row
            continue
        if len(row) < width:
            row = row + [""] * (width - len(row))
        yield number, row
