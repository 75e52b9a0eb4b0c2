"""Exports read back with openpyxl and csv: typed cells, BOM, formula neutralisation, permission, audit."""
import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from rollout.audit.models import AuditEntry
from rollout.audit.services import record_event
from rollout.extensions import db
from rollout.reports.exports import Column, csv_bytes, xlsx_bytes

COLUMNS = [
    Column("客户", "name"),
    Column("金额", "amount", "number"),
    Column("数量", "count", "number"),
    Column("签约日", "signed_on", "date"),
    Column("更新时间", "updated_at", "datetime"),
    Column("手机号", "phone"),
    Column("身份证号", "id_number"),
    Column("已签约", "is_signed", "bool"),
    Column("备注", lambda row: row["note"]),
]
ROWS = [
    {"name": "上海华东贸易有限公司", "amount": Decimal("1234567.89"), "count": 42, "signed_on": date(2026, 11, 3),
     "updated_at": datetime(2026, 11, 27, 2, 30), "phone": "13800138000", "id_number": "110101199003071234",
     "is_signed": True, "note": "=HYPERLINK(\"http://evil\",\"点我\")"},
    {"name": "+86 代理商", "amount": None, "count": 0, "signed_on": None, "updated_at": None, "phone": "0012345678901",
     "id_number": "", "is_signed": False, "note": "-1+1"},
    {"name": "@SUM(A1)", "amount": Decimal("-5.50"), "count": -3, "signed_on": None, "updated_at": None,
     "phone": None, "id_number": None, "is_signed": None, "note": "普通备注"},
]


def test_xlsx_text_columns_fit_their_contents(app):
    with app.app_context():
        data, _count = xlsx_bytes(COLUMNS, ROWS + [dict(ROWS[2], note="很长的备注" * 40)])
    sheet = load_workbook(io.BytesIO(data)).active
    widths = {cell.value: sheet.column_dimensions[cell.column_letter].width for cell in sheet[1]}
    assert widths["客户"] == 22  # 上海华东贸易有限公司: ten characters, two columns each, and a margin
    assert widths["身份证号"] == 20 and widths["更新时间"] == 17
    assert widths["备注"] == 50  # a long note does not stretch the sheet


def test_xlsx_cells_are_typed_and_formulas_stay_text(app):
    with app.app_context():
        data, count = xlsx_bytes(COLUMNS, ROWS, sheet_title="客户")
    assert count == 3
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.title == "客户"
    assert [c.value for c in sheet[1]] == [c.header for c in COLUMNS]
    first = {COLUMNS[i].header: cell for i, cell in enumerate(sheet[2])}
    assert first["金额"].data_type == "n" and first["金额"].value == pytest.approx(1234567.89)
    assert first["数量"].value == 42 and isinstance(first["数量"].value, int)
    assert first["签约日"].is_date and first["签约日"].value.date() == date(2026, 11, 3)
    # Stored UTC 02:30 is 10:30 in Asia/Shanghai.
    assert first["更新时间"].is_date and first["更新时间"].value == datetime(2026, 11, 27, 10, 30)
    assert first["手机号"].data_type == "s" and first["手机号"].value == "13800138000"
    assert first["身份证号"].value == "110101199003071234"  # all 18 digits, as text
    assert first["已签约"].value is True
    second = {COLUMNS[i].header: cell for i, cell in enumerate(sheet[3])}
    assert second["手机号"].value == "0012345678901"  # the leading zeros survive
    assert second["金额"].value is None and second["已签约"].value is False
    # Anything that starts like a formula is a text cell with Excel's quote prefix: shown, never run.
    for row in (2, 3, 4):
        for cell in sheet[row]:
            if isinstance(cell.value, str) and cell.value[:1] in "=+-@":
                assert cell.data_type == "s" and cell.quotePrefix, (cell.coordinate, cell.value)
    assert sheet["I2"].value.startswith("=HYPERLINK") and sheet["I2"].data_type == "s"
    assert sheet["B4"].value == pytest.approx(-5.5) and sheet["B4"].data_type == "n"  # negative numbers stay numbers


def test_csv_has_a_bom_chinese_and_neutralised_formulas(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        data, count = csv_bytes(COLUMNS, ROWS)
    assert count == 3
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == [c.header for c in COLUMNS]
    assert rows[1][:8] == ["上海华东贸易有限公司", "1234567.89", "42", "2026-11-03", "2026-11-27 10:30", "13800138000",
                           "110101199003071234", "Yes"]
    assert rows[1][8] == "'=HYPERLINK(\"http://evil\",\"点我\")"
    assert rows[2][0] == "'+86 代理商" and rows[2][8] == "'-1+1" and rows[2][7] == "No"
    assert rows[3][0] == "'@SUM(A1)" and rows[3][1] == "-5.50" and rows[3][2] == "-3"


def _export_events():
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).all()


def test_users_export_applies_the_search_and_is_audited(client_as, company, factory):
    factory.user("staff", department=company["departments"]["sales1"], username="zhangwei",
                 display_name="销售代表 张伟")
    company["staff"].phone = "13900000000"
    db.session.commit()
    response = client_as("admin").get("/admin/users/export.xlsx?q=张伟")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.values)
    assert values[0][:3] == ("Username", "Name", "Email")
    assert [row[0] for row in values[1:]] == ["zhangwei"]
    assert values[1][4] == "销售一组" and values[1][5] == "Staff"
    [event] = _export_events()
    assert event.entity == "users" and "rows=1" in event.detail and "q=张伟" in event.detail
    assert event.username == "admin"

    everyone = client_as("admin").get("/admin/users/export.csv")
    rows = list(csv.reader(io.StringIO(everyone.data.decode("utf-8-sig"))))
    assert len(rows) == 1 + 10
    phones = {row[0]: row[3] for row in rows[1:]}
    assert phones["staff"] == "13900000000"


def test_audit_export_follows_filters_and_department_scope(client_as, company):
    record_event("login", entity="session", user=company["staff"])
    record_event("login", entity="session", user=company["other_staff"])
    record_event("denied", entity="route", user=company["staff"])
    db.session.commit()
    response = client_as("head").get("/audit/export.csv?action=login")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Time", "User", "IP", "Action"]
    # The sales head sees only 销售部's logins: the filter and the scope both apply.
    # Names and actions in words, as the audit page shows them.
    assert [(r[1], r[3]) for r in rows[1:]] == [(company["staff"].display_name, "Login")]  # one row, one login
    event = [e for e in _export_events() if e.entity == "audit_entries"][0]
    assert "csv rows=1" in event.detail and "action=login" in event.detail


def test_audit_export_writes_changes_in_words_and_whole(client_as, company):
    from rollout.audit.services import acting_as
    with acting_as(company["admin"]):
        company["staff"].display_name = "王芳" + "很长的名字" * 14
        company["staff"].department = company["departments"]["sales2"]
        db.session.commit()
    response = client_as("admin").get(f"/audit/export.csv?entity=users&entity_id={company['staff'].id}")
    header, *rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    row = dict(zip(header, rows[0]))
    changes = row["Changes"]
    assert "Display name: " in changes and "很长的名字" * 14 in changes and "…" not in changes
    assert f"Department: {company['departments']['sales1'].name} → {company['departments']['sales2'].name}" in changes
    assert row["Entity"] == "User" and row["Action"] == "Record changed"
    assert row["Record"] == company["staff"].display_name


def test_exports_need_the_export_permission(client_as, company):
    for role, url in (("lead", "/audit/export.xlsx"), ("staff", "/audit/export.xlsx"),
                      ("head", "/admin/users/export.xlsx"), ("lead", "/admin/users/export.csv"),
                      ("trainer", "/audit/export.csv")):
        assert client_as(role).get(url).status_code == 403, (role, url)
    assert _export_events() == []


def test_unknown_format_is_not_found(client_as, company):
    assert client_as("admin").get("/admin/users/export.pdf").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "export")) == 0


def test_list_pages_offer_exports_with_the_current_filters(client_as, company):
    page = client_as("admin").get("/admin/users?q=zhang").get_data(as_text=True)
    assert "/admin/users/export.xlsx?q=zhang" in page and "/admin/users/export.csv?q=zhang" in page
    audit = client_as("admin").get("/audit/?action=login&username=staff").get_data(as_text=True)
    assert "/audit/export.xlsx?" in audit and "action=login" in audit.split("/audit/export.xlsx?")[1][:80]


def test_a_chinese_file_name_keeps_a_usable_ascii_fallback(app):
    from rollout.reports.exports import download_response
    with app.test_request_context():
        header = download_response(b"x", "需求规格说明书.pdf", "application/pdf").headers["Content-Disposition"]
        assert 'filename="download.pdf"' in header and "filename*=UTF-8''%E9%9C%80" in header
        header = download_response(b"x", "rollout-需求-2026.xlsx", "application/pdf").headers["Content-Disposition"]
        assert 'filename="rollout--2026.xlsx"' in header
        # A title typed with a line break or a slash still makes a name (and a header) that works.
        header = download_response(b"x", "签到表 报表解读\r\n第二行/v1.pdf", "application/pdf").headers["Content-Disposition"]
        assert "\n" not in header and "%2F" not in header and "/" not in header.split("filename*=")[1]
        assert "filename*=UTF-8''%E7%AD%BE%E5%88%B0%E8%A1%A8%20" in header
