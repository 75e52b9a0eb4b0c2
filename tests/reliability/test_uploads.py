"""Uploads: content sniffed, sizes capped, zip bombs and XML entity attacks refused, names sanitised,
files stored outside the static folder under random names and served as attachments."""
import io
import os
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from rollout import create_app  # noqa: F401  (models registered by the app fixture)
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.imports import readers

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
XXE = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(f'<!ENTITY lol{n} "{("&lol%s;" % (n - 1 if n > 1 else "")) * 10}">'.encode()
                     for n in range(1, 10))
          + b"]>")


def _xlsx(tmp_path, replace=None) -> Path:
    workbook = Workbook()
    workbook.active.append(["客户名称", "联系方式"])
    workbook.active.append(["北京星辰科技", "13800138000"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = tmp_path / "book.xlsx"
    if replace is None:
        path.write_bytes(buffer.getvalue())
        return path
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            out.writestr(item, replace(item.filename, source.read(item.filename)))
    return path


# --- imports --------------------------------------------------------------------------------
def test_import_trusts_content_not_the_extension(tmp_path):
    picture = tmp_path / "customers.csv"
    picture.write_bytes(PNG)
    with pytest.raises(readers.ImportFileError):
        readers.sniff_kind(picture, "customers.csv")
    text = tmp_path / "customers.xlsx"
    text.write_text("客户名称\n北京星辰科技\n", encoding="utf-8")
    with pytest.raises(readers.ImportFileError, match="not an Excel workbook"):
        readers.sniff_kind(text, "customers.xlsx")
    with pytest.raises(readers.ImportFileError):
        readers.sniff_kind(picture, "customers.exe")


def test_import_refuses_an_xlsx_zip_bomb(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (20 * 1024 * 1024))  # 20 MB of zeros → ~20 KB
    assert path.stat().st_size < 200 * 1024
    with pytest.raises(readers.ImportFileError, match="zip bomb"):
        readers.check_zip_safety(path)


@pytest.mark.parametrize("doctype", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_import_of_an_xlsx_with_xml_entities_leaks_nothing(tmp_path, doctype):
    def poison(name, data):
        if name == "xl/worksheets/sheet1.xml":
            body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
            return doctype + body.replace(b"13800138000", b"&xxe;" if doctype is XXE else b"&lol9;")
        return data
    path = _xlsx(tmp_path, poison)
    try:
        info = readers.inspect_file(path, "book.xlsx")
        rows = [cells for _n, cells in readers.iter_rows(path, info)]
    except Exception as error:  # refusing the file is fine; what matters is what never happens below
        assert not isinstance(error, MemoryError)
        return
    text = repr(rows)
    assert "root:" not in text and "lol" * 100 not in text


# --- process maps (BPMN) ----------------------------------------------------------------------
@pytest.mark.parametrize("doctype", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_bpmn_import_refuses_xml_entities(doctype, company):
    from processmaps.bpmn import BpmnError, import_bpmn
    document = doctype + b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">' \
        b'<process id="p" name="&xxe;"/></definitions>'
    with pytest.raises(BpmnError):
        import_bpmn(document, company["admin"])
    db.session.rollback()


def test_bpmn_import_caps_the_size(company):
    from processmaps.bpmn import MAX_BPMN_BYTES, BpmnError, import_bpmn
    with pytest.raises(BpmnError, match="too large"):
        import_bpmn(b"<definitions>" + b" " * MAX_BPMN_BYTES + b"</definitions>", company["admin"])


# --- surveys (XLSForm) ------------------------------------------------------------------------
@pytest.mark.parametrize("doctype", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
def test_xlsform_import_with_xml_entities_leaks_nothing(tmp_path, doctype, company):
    from surveys.xlsform import import_xlsform
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    sheet.append(["type", "name", "label"])
    sheet.append(["text", "q1", "PLACEHOLDER"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    poisoned = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, zipfile.ZipFile(poisoned, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if b"PLACEHOLDER" in data:
                body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
                data = doctype + body.replace(b"PLACEHOLDER", b"&xxe;" if doctype is XXE else b"&lol9;")
            out.writestr(item, data)
    try:
        survey = import_xlsform(poisoned.getvalue(), company["admin"], "test")
    except (ServiceError, ValueError):
        db.session.rollback()
        return
    labels = " ".join(str(q.label) for q in survey.questions)
    db.session.rollback()
    assert "root:" not in labels and "lol" * 100 not in labels


# --- change request attachments ---------------------------------------------------------------
def _draft(client):
    response = client.post("/changes/new", data={"title": "附件测试", "description": "说明", "reason": "原因",
                                                 "kind": "normal", "urgency": "medium", "impact": "low"})
    assert response.status_code == 302, response.status_code
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def test_change_attachments_are_sniffed_capped_renamed_and_served_as_downloads(app, client_as):
    from changes.models import ChangeAttachment
    client = client_as("staff")
    request_id = _draft(client)
    # A script dressed up as a PDF by its name is refused (content decides).
    refused = client.post(f"/changes/{request_id}/attachments",
                          data={"file": (io.BytesIO(b"<script>alert(1)</script>"), "report.pdf")})
    assert refused.status_code in (302, 422)
    assert db.session.query(ChangeAttachment).count() == 0
    # Too large for the cap.
    app.config["CHANGE_ATTACHMENT_MAX_BYTES"] = 1024
    try:
        big = client.post(f"/changes/{request_id}/attachments",
                          data={"file": (io.BytesIO(b"%PDF-" + b"0" * 4096), "big.pdf")})
        assert db.session.query(ChangeAttachment).count() == 0, big.status_code
    finally:
        app.config.pop("CHANGE_ATTACHMENT_MAX_BYTES")
    # A real PDF with a hostile name: accepted, the name sanitised, the file stored elsewhere.
    client.post(f"/changes/{request_id}/attachments",
                data={"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "../../etc/\x07passwd<script>.pdf")})
    attachment = db.session.query(ChangeAttachment).one()
    assert "/" not in attachment.original_name and "\x07" not in attachment.original_name
    assert attachment.stored_name != attachment.original_name and len(attachment.stored_name) >= 32
    upload_root = os.path.realpath(app.config["UPLOAD_FOLDER"])
    stored = [os.path.join(folder, name) for folder, _d, names in os.walk(upload_root) for name in names
              if name == attachment.stored_name]
    assert stored and not os.path.realpath(stored[0]).startswith(os.path.realpath(app.static_folder))
    download = client.get(f"/changes/attachments/{attachment.id}")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers.get("X-Content-Type-Options") == "nosniff"
