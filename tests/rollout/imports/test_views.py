"""The import pages as a user sees them: upload, preview, mapping, dry run, run, undo, error report, access."""
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.imports import services
from rollout.imports.models import ImportBatch, ImportChunk, MappingTemplate
from rollout.plans.models import Customer
from tests.rollout.imports.helpers import two_sheet_workbook, upload, write_csv

CSV = ("客户名称,手机,邮箱,签约日期,城市\r\n"
       "\u3000北京星辰科技有限公司 ,+86 138-0013-8000,INFO@XC.COM,2024年1月5日,北京\r\n"
       "上海云帆,12345,bad@,2024/1/5,上海\r\n"
       "广州ＡＢＣ贸易,020-83456789,,20240105,广州\r\n").encode("gb18030")


def _post_file(client, data=CSV, name="客户.csv", **fields):
    form = {"target": "customers", "department_id": "0", "template_id": "0", "encoding": "",
            "file": (io.BytesIO(data), name), **fields}
    return client.post("/imports/upload", data=form, content_type="multipart/form-data")


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_upload_preview_shows_before_and_after(client_as):
    from rollout.plans import services as plans
    plans.save_field(None, "signed_on", "签约日期", "date", [], False)  # a custom field, matched by its label
    db.session.commit()
    client = client_as("admin")
    response = _post_file(client)
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "GB18030" in html
    assert "13800138000" in html and "+86 138-0013-8000" in html  # before → after
    assert "info@xc.com" in html and "2024-01-05" in html and "广州ABC贸易" in html
    assert "invalid phone number" in html


@pytest.mark.parametrize("data, name, message", [
    (b"", "empty.csv", "The file is empty."),
    ("客户名称,手机\r\n".encode(), "headers.csv", "no data rows"),
    (b"PK\x03\x04junk", "fake.csv", "zip or Excel file"),
    (b"not a workbook", "fake.xlsx", "not an Excel workbook"),
])
def test_bad_files_are_refused_with_422_and_nothing_written(client_as, data, name, message):
    client = client_as("admin")
    response = _post_file(client, data, name)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _count(ImportBatch) == 0


def test_a_workbook_upload_keeps_a_row_copy_until_the_draft_is_discarded(client_as, tmp_path):
    from rollout.imports import readers
    from tests.rollout.imports.helpers import write_xlsx
    workbook = write_xlsx(tmp_path, [["客户名称", "手机"], ["北京星辰", "13800138000"]])
    client = client_as("admin")
    response = _post_file(client, workbook.read_bytes(), "客户.xlsx")
    batch = db.session.scalars(select(ImportBatch)).one()
    kept = services.stored_path(batch)

    def made():
        return {path.name for path in kept.parent.glob(f"{kept.name}*")}
    assert made() == {kept.name, readers.row_copy_path(kept, None).name}
    assert "北京星辰" in client.get(response.headers["Location"]).get_data(as_text=True)
    client.post(f"/imports/{batch.id}/discard", data={"confirm": "y"})
    assert _count(ImportBatch) == 0 and made() == set()


def test_file_over_the_web_limit_is_refused(client_as, app):
    client = client_as("admin")
    app.config["IMPORT_WEB_MAX_BYTES"] = 1024
    try:
        response = _post_file(client, CSV * 40)
    finally:
        app.config.pop("IMPORT_WEB_MAX_BYTES")
    assert response.status_code == 422
    assert "rollout import" in response.get_data(as_text=True)
    assert _count(ImportBatch) == 0


def test_mapping_needs_required_fields_and_can_be_saved_as_template(client_as, company, tmp_path):
    batch = upload(company["admin"], write_csv(tmp_path, [["公司", "电话"], ["北京星辰", "13800138000"]]))
    db.session.commit()
    client = client_as("admin")
    response = client.post(f"/imports/{batch.id}/mapping", data={"col-0": "", "col-1": "phone", "department_id": "0"})
    assert response.status_code == 422
    assert "Map a column to every required field" in response.get_data(as_text=True)
    response = client.post(f"/imports/{batch.id}/mapping", data={"col-0": "name", "col-1": "name"})
    assert response.status_code == 422 and "mapped to two columns" in response.get_data(as_text=True)
    response = client.post(f"/imports/{batch.id}/mapping", data={
        "col-0": "name", "col-1": "phone", "keep-1": "1", "department_id": "0", "template_name": "旧系统"})
    assert response.status_code == 302
    template = db.session.scalar(select(MappingTemplate))
    assert template.columns == {"公司": "name", "电话": "phone"} and template.keep_as_is == ["电话"]
    listed = client.get("/imports/templates").get_data(as_text=True)
    assert "公司 → Customer name" in listed and "电话 → Phone" in listed  # labels, not field keys


def test_dry_run_then_run_then_error_report_then_undo(client_as, company):
    client = client_as("admin")
    batch_url = _post_file(client, department_id=str(company["departments"]["marketing"].id)).headers["Location"]
    batch_id = int(batch_url.rstrip("/").split("/")[-1])
    entries_before = _count(AuditEntry)
    response = client.post(f"/imports/{batch_id}/check", data={"check-sample": "all", "check-first_n": "100"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Checked 3 rows" in html
    assert _count(Customer) == 0 and _count(AuditEntry) == entries_before

    response = client.post(f"/imports/{batch_id}/run")
    assert response.status_code == 302
    batch = db.session.get(ImportBatch, batch_id)
    assert (batch.status, batch.created_count, batch.error_count) == ("completed", 2, 1)
    assert _count(Customer) == 2
    imported = db.session.scalar(select(Customer).where(Customer.name == "北京星辰科技有限公司"))
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    page = client.get(f"/customers/{imported.id}").get_data(as_text=True)
    history = client.get(f"/customers/{imported.id}?tab=history").get_data(as_text=True)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert "文件导入" in page and "<td>新建</td>" in history and "<td>文件导入</td>" in history
    event = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "import"))
    assert event.detail == "客户.csv" and event.changes["status"] == ["running", "completed"]
    assert event.changes["created_count"] == 2 and event.changes["error_count"] == 1

    report = client.get(f"/imports/{batch_id}/errors.xlsx")
    assert report.status_code == 200
    sheet = load_workbook(io.BytesIO(report.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("客户名称", "手机", "邮箱", "签约日期", "城市", "Error")
    assert rows[1][:2] == ("上海云帆", "12345") and "invalid phone number" in rows[1][5]
    # the header stays in view while scrolling, and the error column is wide enough to read
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["F"].width > sheet.column_dimensions["B"].width

    response = client.post(f"/imports/{batch_id}/undo")
    assert response.status_code == 302
    assert _count(Customer) == 0
    assert db.session.get(ImportBatch, batch_id).status == "undone"
    assert client.post(f"/imports/{batch_id}/run").status_code == 422


def test_duplicate_decisions_are_saved(client_as, company, tmp_path):
    from rollout.plans import services as plans
    plans.create_customer("北京星辰科技有限公司", company["admin"])
    db.session.commit()
    batch = upload(company["admin"], write_csv(tmp_path, [["客户名称", "城市"], ["北京星辰科技有限公司", "北京"]]))
    db.session.commit()
    client = client_as("admin")
    html = client.post(f"/imports/{batch.id}/check", data={"check-sample": "all"}).get_data(as_text=True)
    group = [part for part in html.split('name="group-')[1:]][0].split('"')[0]
    response = client.post(f"/imports/{batch.id}/decisions", data={
        "check-sample": "all", f"group-{group}": "update", "default_existing": "skip", "default_file": "skip"})
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).settings["decisions"] == {group: "update"}
    response = client.post(f"/imports/{batch.id}/decisions", data={
        "check-sample": "all", f"group-{group}": "delete-all", "default_existing": "skip", "default_file": "skip"})
    assert response.status_code == 422


def test_a_group_left_on_the_default_follows_the_default(client_as, company, tmp_path):
    from rollout.plans import services as plans
    plans.create_customer("北京星辰科技有限公司", company["admin"])
    plans.create_customer("上海云帆", company["admin"])
    db.session.commit()
    batch = upload(company["admin"], write_csv(tmp_path, [["客户名称", "城市"], ["北京星辰科技有限公司", "北京"],
                                                          ["上海云帆", "上海"]]))
    db.session.commit()
    client = client_as("admin")
    client.post(f"/imports/{batch.id}/check", data={"check-sample": "all"})
    html = client.post(f"/imports/{batch.id}/decisions", data={
        "check-sample": "all", "default_existing": "skip", "default_file": "skip"}).get_data(as_text=True)
    # the page posts back every group as it shows it: both on "(default)", one changed by hand
    groups = [part.split('"')[0] for part in html.split('name="group-')[1:]]
    assert len(groups) == 2 and 'value="" selected' in html
    response = client.post(f"/imports/{batch.id}/decisions", data={
        "check-sample": "all", f"group-{groups[0]}": "", f"group-{groups[1]}": "skip",
        "default_existing": "update", "default_file": "skip"})
    assert response.status_code == 200
    db.session.expire_all()
    settings = db.session.get(ImportBatch, batch.id).settings
    assert settings["decisions"] == {groups[1]: "skip"} and settings["default_existing"] == "update"
    response = client.post(f"/imports/{batch.id}/decisions", data={
        "check-sample": "all", f"group-{groups[0]}": "", f"group-{groups[1]}": "",
        "default_existing": "update", "default_file": "skip"})
    db.session.expire_all()
    assert db.session.get(ImportBatch, batch.id).settings["decisions"] == {}
    assert "Would update an existing record: 2" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["head", "staff", "trainer"])
def test_other_roles_cannot_import(client_as, role, company, tmp_path):
    batch = upload(company["admin"], write_csv(tmp_path, [["客户名称"], ["北京星辰"]]))
    db.session.commit()
    client = client_as(role)
    assert client.get("/imports/").status_code == 403
    assert _post_file(client).status_code == 403
    assert client.post(f"/imports/{batch.id}/run").status_code == 403
    assert _count(Customer) == 0


def test_lead_cannot_import_users(client_as, company, tmp_path):
    client = client_as("lead")
    response = _post_file(client, "用户名,姓名\r\nzhang,张三\r\n".encode(), "users.csv", target="users")
    assert response.status_code == 422
    assert _count(ImportBatch) == 0


def test_index_statement_count_does_not_grow(client_as, company, tmp_path, count_statements):
    client = client_as("admin")
    for number in range(2):
        upload(company["admin"], write_csv(tmp_path, [["客户名称"], [f"客户{number}"]], name=f"f{number}.csv"))
    db.session.commit()
    client.get("/imports/")
    with count_statements() as few:
        assert client.get("/imports/").status_code == 200
    for number in range(2, 12):
        upload(company["admin"], write_csv(tmp_path, [["客户名称"], [f"客户{number}"]], name=f"f{number}.csv"))
    db.session.commit()
    with count_statements() as many:
        assert client.get("/imports/").status_code == 200
    assert many.count == few.count


def test_chunks_are_recorded_for_undo(client_as, company, tmp_path):
    from rollout.imports import services
    rows = [["客户名称"]] + [[f"客户{n}"] for n in range(25)]
    batch = upload(company["admin"], write_csv(tmp_path, rows))
    batch = services.run_import(batch, company["admin"], chunk_size=10)
    assert batch.created_count == 25
    assert _count(ImportChunk) == 3


def test_the_upload_page_explains_the_default_department_and_the_command(client_as):
    html = client_as("admin").get("/imports/").get_data(as_text=True)
    assert "Imported records go to this department when their row does not name one." in html
    assert "an administrator runs <code>rollout import</code> on the server" in html
    assert "`rollout import`" not in html


def test_a_workbooks_sheet_and_header_row_can_be_chosen(client_as, tmp_path):
    path = two_sheet_workbook(tmp_path)
    client = client_as("admin")
    response = _post_file(client, path.read_bytes(), "客户.xlsx")
    assert response.status_code == 302
    batch_url = response.headers["Location"]
    response = client.post(f"{batch_url}/source", data={"source-sheet": "客户", "source-header_row": "2"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    batch = db.session.scalar(select(ImportBatch))
    assert batch.source["sheet"] == "客户" and batch.source["headers"] == ["客户名称", "城市"]
    assert batch.settings["mapping"] == {"0": "name", "1": "city"}
    assert "北京星辰科技" in client.get(batch_url).get_data(as_text=True)


def test_the_default_department_starts_empty(client_as, company):
    client = client_as("admin")  # in 市场部, which is not where every import belongs
    html = client.get("/imports/").get_data(as_text=True)
    select_html = html[html.find('name="department_id"'):]
    select_html = select_html[:select_html.find("</select>")]
    assert '<option value="0">—</option>' in select_html and "selected" not in select_html  # the first: —
    response = _post_file(client, "客户名称,城市\r\n北京星辰科技,北京\r\n".encode(), "客户.csv")
    assert response.status_code == 302
    batch = db.session.scalar(select(ImportBatch))
    assert batch.department_id is None
    html = client.post(f"/imports/{batch.id}/check", data={"check-sample": "all"}).get_data(as_text=True)
    assert "choose a default department for the import" in html


def test_a_users_import_is_only_for_those_who_may_manage_users(client_as, company, tmp_path):
    batch = upload(company["admin"], write_csv(tmp_path, [["用户名", "姓名"], ["newcomer", "新人"]], name="users.csv"),
                   target="users")
    db.session.commit()
    lead = client_as("lead")
    assert lead.get(f"/imports/{batch.id}").status_code == 403
    assert lead.get(f"/imports/{batch.id}/original").status_code == 403
    assert "users.csv" not in lead.get("/imports/").get_data(as_text=True)
    admin = client_as("admin")
    assert admin.get(f"/imports/{batch.id}").status_code == 200
    assert "users.csv" in admin.get("/imports/").get_data(as_text=True)


def test_imported_accounts_are_flagged_until_they_get_a_password(client_as, company, tmp_path):
    path = write_csv(tmp_path, [["用户名", "姓名", "部门"], ["zhangsan", "张三", "销售部"]], name="users.csv")
    batch = services.run_import(upload(company["admin"], path, target="users"), company["admin"])
    client = client_as("admin")
    assert 'data-testid="set-passwords"' in client.get(f"/imports/{batch.id}").get_data(as_text=True)
    users = client.get("/admin/users?q=zhangsan").get_data(as_text=True)
    assert 'data-testid="no-password"' in users and "No password yet" in users
    assert 'data-testid="no-password"' not in client.get("/admin/users?q=staff").get_data(as_text=True)
