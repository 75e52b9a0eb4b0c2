"""Reading files: encodings, separators, header rows, Excel cells as shown, and every kind of bad file."""
import zipfile
from datetime import date, datetime

import pytest

from rollout.imports import readers
from rollout.imports.readers import ImportFileError, cell_text, inspect_file, iter_rows
from tests.rollout.imports.helpers import write_csv, write_xlsx

ROWS = [["客户名称", "手机", "城市"], ["北京星辰科技有限公司", "13800138000", "北京"], ["上海云帆", "021-62345678", "上海"]]


def _read(path, **options):
    info = inspect_file(path, path.name, **options)
    return info, list(iter_rows(path, info))


@pytest.mark.parametrize("encoding, expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030"), ("utf-16", "utf-16"),
])
def test_encodings_are_detected(tmp_path, encoding, expected):
    info, rows = _read(write_csv(tmp_path, ROWS, encoding=encoding))
    assert info.encoding == expected
    assert info.headers == ["客户名称", "手机", "城市"]
    assert rows[0] == (2, ["北京星辰科技有限公司", "13800138000", "北京"])


def test_user_override_of_encoding_is_checked(tmp_path):
    path = write_csv(tmp_path, ROWS, encoding="gbk")
    with pytest.raises(ImportFileError, match="cannot be read as utf-8"):
        inspect_file(path, path.name, encoding="utf-8")
    assert inspect_file(path, path.name, encoding="gbk").headers[0] == "客户名称"


@pytest.mark.parametrize("separator", [",", ";", "\t", "，"])
def test_separators_are_detected(tmp_path, separator):
    info, rows = _read(write_csv(tmp_path, ROWS, separator=separator))
    assert info.separator == separator
    assert rows[1][1] == ["上海云帆", "021-62345678", "上海"]


def test_title_row_and_blank_rows_are_skipped(tmp_path):
    path = write_csv(tmp_path, [["2023年客户名单"], [""], *ROWS[:2], ["", "", ""], ROWS[2]])
    info, rows = _read(path)
    assert info.header_row == 3
    assert [number for number, _cells in rows] == [4, 6]
    assert info.row_count == 2


def test_mixed_encodings_are_refused_with_line_numbers(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("客户名称,城市\n北京星辰,北京\n".encode("utf-8") + "上海云帆,上海\n".encode("gbk"))
    with pytest.raises(ImportFileError, match="mixes encodings: line 1 is UTF-8 but line 3"):
        inspect_file(path, path.name)


def _first_lines_one_by_one(data: bytes):
    """(first UTF-8 line with non-ASCII text, first GB18030 line, first line in neither), line by line."""
    first_utf8 = first_gb = first_bad = None
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        for encoding in ("utf-8", "gb18030"):
            try:
                line.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            encoding = None
        if encoding == "utf-8":
            first_utf8 = first_utf8 or number
        elif encoding == "gb18030":
            first_gb = first_gb or number
        else:
            first_bad = first_bad or number
    return first_utf8, first_gb, first_bad


def test_block_detection_finds_the_lines_line_by_line_reading_finds(tmp_path, monkeypatch):
    """Random files mixing UTF-8, GBK and undecodable lines, read in blocks of a few lines."""
    import random
    monkeypatch.setattr(readers, "_CHUNK", 64)
    rng = random.Random(1)
    pieces = ["abc,def", "北京,科技", "上海", "x\r", "", "é"]
    path = tmp_path / "mixed.csv"
    for _ in range(400):
        lines = []
        for _line in range(rng.randrange(1, 40)):
            text = ",".join(rng.choice(pieces) for _ in range(rng.randrange(1, 4)))
            encoding = rng.choice(["utf-8", "gbk", "bad"])
            lines.append(text.encode("utf-8") + b"\x80\xff" if encoding == "bad" else text.encode(encoding))
        data = b"\n".join(lines) + (b"\n" if rng.random() < 0.5 else b"")
        path.write_bytes(data)
        found = [None, None, None]
        for first_line, block in readers._line_blocks(path):
            if not block.isascii():
                found = [a or b for a, b in zip(found, readers._first_lines(first_line, block))]
        assert tuple(found) == _first_lines_one_by_one(data), data


@pytest.mark.parametrize("content, name, message", [
    (b"", "empty.csv", "empty"),
    ("客户名称,手机\n".encode(), "headers.csv", "no data rows"),
    (b"\n\n  \n", "blank.csv", "every row is blank"),
    (b"%PDF-1.7 binary", "report.csv", "not a text file"),
    (b"PK\x03\x04rest", "data.csv", "zip or Excel file"),
    ("客户名称\n北京\n".encode(), "data.xlsx", "not an Excel workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old.xlsx", "old .xls"),
    (b"name\nx\n", "data.pdf", "Only .xlsx, .csv and .txt"),
])
def test_bad_files_get_clear_messages(tmp_path, content, name, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message):
        inspect_file(path, name)


def test_zip_bomb_is_refused_before_opening(tmp_path, monkeypatch):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", "0" * (20 * 1024 * 1024))
    with pytest.raises(ImportFileError, match="zip bomb"):
        inspect_file(path, path.name)
    monkeypatch.setattr(readers, "MAX_XLSX_UNCOMPRESSED", 1024)
    with pytest.raises(ImportFileError, match="unpacks to more than"):
        inspect_file(path, path.name)


def test_xlsx_cells_read_as_shown(tmp_path):
    path = write_xlsx(tmp_path, [
        ["客户名称", "手机", "座机", "签约日期", "金额", "编号", "比例"],
        ["北京星辰", 13800138000, "010-62345678", datetime(2024, 1, 5), 1234.5, 12345678901234, 0.155],
        ["上海云帆", 13900139000.0, 1062345678, 45296, 3, 7, 1],
    ], formats={"C3": "00000000000", "E2": "#,##0.00", "G2": "0.0%"})
    info, rows = _read(path)
    assert info.kind == "xlsx"
    assert rows[0][1] == ["北京星辰", "13800138000", "010-62345678", "2024-01-05", "1,234.50", "12345678901234", "15.5%"]
    assert rows[1][1][:4] == ["上海云帆", "13900139000", "01062345678", "45296"]


def test_a_workbook_is_parsed_once_and_then_read_from_its_row_copy(tmp_path, monkeypatch):
    """Inspecting a sheet keeps its cell texts; the preview, dry run and run read those, not the workbook."""
    path = write_xlsx(tmp_path, [["标题：客户清单"], [], ["客户名称", "手机"], ["北京星辰", 13800138000],
                                 ["多行\n地址, 带逗号", "=\"0\"&\"10\""], [None, None], ["上海\t云帆", 2]],
                      formats={"B4": "00000000000"})
    info, direct = _read(path)
    copy = readers.row_copy_path(path, None)
    assert copy.exists() and not list(tmp_path.glob("*.part"))
    monkeypatch.setattr(readers, "_xlsx_rows", lambda *_: pytest.fail("the workbook was parsed again"))
    assert list(iter_rows(path, info)) == direct
    assert [number for number, _row in direct] == [4, 5, 7] and direct[1][1][0] == "多行\n地址, 带逗号"
    again = inspect_file(path, path.name, header_row=1)  # a new header row reads the copy too
    assert again.headers == ["标题：客户清单"] and again.row_count == 4
    readers.remove_kept_file(path)
    assert list(tmp_path.iterdir()) == []


def test_a_sheet_read_only_in_part_leaves_no_copy(tmp_path):
    path = write_xlsx(tmp_path, ROWS + [[f"客户{number}", "13800138000", "北京"] for number in range(30)])
    with pytest.raises(ImportFileError):
        inspect_file(path, path.name, header_row=20)  # refused after the first rows, before the end
    assert not readers.row_copy_path(path, None).exists() and not list(tmp_path.glob("*.part"))
    info, rows = _read(path)
    assert rows[-1] == (33, ["客户29", "13800138000", "北京"]) and readers.row_copy_path(path, None).exists()


@pytest.mark.parametrize("value, number_format, expected", [
    (1.38e10, "General", "13800000000"), (1.5e-7, "General", "0.00000015"), (True, "General", "TRUE"),
    (date(2024, 1, 5), "General", "2024-01-05"), (datetime(2024, 1, 5, 9, 30), "General", "2024-01-05 09:30"),
    (42, "000000", "000042"), (0.25, "0%", "25%"), (1234567.891, "#,##0.00", "1,234,567.89"),
])
def test_cell_text(value, number_format, expected):
    assert cell_text(value, number_format) == expected


def test_large_file_streams(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("客户名称,手机\n")
        for number in range(60000):
            handle.write(f"客户{number},138{number:08d}\n")
    info = inspect_file(path, path.name)
    assert info.row_count == 60000
    last = None
    for last in iter_rows(path, info):
        pass
    assert last == (60001, ["客户59999", "13800059999"])
