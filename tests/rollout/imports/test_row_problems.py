"""What is wrong with a row, found before the run and shown to every reader in their own language:
per cell in the preview, every problem of a row in the dry run (kept with the batch), and in the
error report."""
import io
import json

import pytest
from flask_babel import force_locale
from openpyxl import load_workbook
from sqlalchemy import select

from rollout.extensions import db
from rollout.imports import readers, services
from rollout.imports.messages import in_words, kept, shown, stored
from rollout.imports.models import ImportRowError
from rollout.plans import services as plans
from rollout.plans.models import Customer
from tests.rollout.imports.helpers import upload, write_csv

HEADER = ["客户名称", "手机", "邮箱", "负责人", "企业规模", "客户等级"]
ROWS = [
    HEADER,
    ["甲公司", "13800138001", "ok@x.com", "不存在的人", "超大", "b"],  # two lookups fail; b is B
    ["乙公司", "123", "bad@", "staff", "超大", "D"],                 # four problems
    ["丙公司", "13800138003", "", "staff", "大", "a"],               # goes in
]


@pytest.fixture
def fields(company):
    plans.save_field(None, "company_size", "企业规模", "choice", "大\n中\n小", False)
    plans.save_field(None, "customer_level", "客户等级", "choice", "A\nB\nC", False)
    db.session.commit()


def _batch(tmp_path, company):
    batch = upload(company["admin"], write_csv(tmp_path, ROWS), department_id=company["departments"]["sales"].id)
    db.session.commit()
    return batch


def test_the_preview_flags_cells_only_a_lookup_finds_wrong(tmp_path, company, fields):
    rows = services.preview(_batch(tmp_path, company), company["admin"])
    flagged = {number: {cell.field: cell.problem for cell in cells if cell.problem} for number, cells, _p, _r in rows}
    assert set(flagged[2]) == {"owner", "x_company_size"}
    assert flagged[2]["owner"] == "Unknown user 不存在的人."
    assert flagged[2]["x_company_size"] == "企业规模: “超大” is not one of the options (大 / 中 / 小)."
    assert set(flagged[3]) == {"phone", "email", "x_company_size", "x_customer_level"}
    assert "A / B / C" in flagged[3]["x_customer_level"] and "“D”" in flagged[3]["x_customer_level"]
    assert flagged[4] == {}  # "a" is the option A
    problems = {number: problem for number, _cells, problem, _raw in rows}
    assert problems[2] == ("Unknown user 不存在的人; 企业规模: “超大” is not one of the options (大 / 中 / 小)")
    assert problems[4] is None


def test_the_preview_page_marks_those_cells(tmp_path, company, fields, client_as):
    batch = _batch(tmp_path, company)
    html = client_as("admin").get(f"/imports/{batch.id}").get_data(as_text=True)
    assert html.count('data-problem="owner"') == 1 and html.count('data-problem="x_company_size"') == 2
    assert 'data-problem="x_customer_level"' in html and 'title="Unknown user 不存在的人."' in html


def test_a_rejected_row_lists_all_its_problems(tmp_path, company, fields):
    analysis = services.dry_run(_batch(tmp_path, company), company["admin"], "all")
    assert analysis.counts == {"error": 2, "create": 1}
    first, second = analysis.errors
    assert first.text == "Unknown user 不存在的人; 企业规模: “超大” is not one of the options (大 / 中 / 小)"
    assert len(second.message) == 4
    assert second.text.startswith("Phone: invalid phone number (123); Email: invalid email address (bad@); ")
    assert second.text.endswith("客户等级: “D” is not one of the options (A / B / C)")


def test_a_choice_typed_in_another_case_is_imported_as_the_option(tmp_path, company, fields):
    batch = services.run_import(_batch(tmp_path, company), company["admin"])
    assert (batch.created_count, batch.error_count) == (1, 2)
    assert db.session.scalar(select(Customer.extra).where(Customer.name == "丙公司")) == {
        "company_size": "大", "customer_level": "A"}


def test_the_dry_run_stays_on_the_import_page_until_the_settings_change(tmp_path, company, fields, client_as):
    batch = _batch(tmp_path, company)
    client = client_as("admin")
    response = client.post(f"/imports/{batch.id}/check", data={"check-sample": "first", "check-first_n": "2"})
    assert response.status_code == 200
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)  # a reload
    assert "Checked 2 rows" in page and 'data-testid="checked-at"' in page
    assert "Unknown user 不存在的人" in page and '<option selected value="first">' in page
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "未知用户：不存在的人" in client.get(f"/imports/{batch.id}").get_data(as_text=True)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    # A new mapping makes the findings stale: they are dropped.
    client.post(f"/imports/{batch.id}/mapping", data={f"col-{i}": name for i, name in enumerate(
        ["name", "phone", "email", "owner", "", ""])})
    assert "Checked 2 rows" not in client.get(f"/imports/{batch.id}").get_data(as_text=True)


def test_an_unreadable_kept_dry_run_is_as_if_there_were_none(tmp_path, company, fields, client_as):
    batch = _batch(tmp_path, company)
    readers.dry_run_path(services.stored_path(batch)).write_text("{not json", encoding="utf-8")
    assert services.last_dry_run(batch) is None
    assert client_as("admin").get(f"/imports/{batch.id}").status_code == 200


def test_discarding_a_draft_removes_its_kept_dry_run(tmp_path, company, fields):
    batch = _batch(tmp_path, company)
    services.dry_run(batch, company["admin"])
    kept_at = readers.dry_run_path(services.stored_path(batch))
    assert kept_at.exists()
    services.delete_draft(batch)
    assert not kept_at.exists()


def test_rejected_rows_read_in_the_readers_language(tmp_path, company, fields, client_as):
    """Imported by someone reading Chinese; read and downloaded by someone reading English, and back."""
    with force_locale("zh_CN"):
        batch = services.run_import(_batch(tmp_path, company), company["admin"])
    stored_text = db.session.scalar(select(ImportRowError.message).where(ImportRowError.row_number == 3))
    assert "电话号码无效" in json.loads(stored_text)["text"]  # as the importer read it, for the table's readers
    client = client_as("admin")
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "Phone: invalid phone number (123)" in page and "电话号码无效" not in page
    report = load_workbook(io.BytesIO(client.get(f"/imports/{batch.id}/errors.xlsx").data)).active
    rows = list(report.iter_rows(values_only=True))
    assert rows[0][-1] == "Error" and rows[2][-1].startswith("Row 3: Phone: invalid phone number (123)")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "电话：电话号码无效（123）" in client.get(f"/imports/{batch.id}").get_data(as_text=True)
    report = load_workbook(io.BytesIO(client.get(f"/imports/{batch.id}/errors.xlsx").data)).active
    assert list(report.iter_rows(values_only=True))[2][-1].startswith("第 3 行")


def test_rows_rejected_before_reasons_had_ids_are_shown_as_they_were(tmp_path, company, client_as):
    batch = services.run_import(upload(company["admin"], write_csv(tmp_path, [["客户名称", "手机"], ["甲", "1"]])),
                                company["admin"])
    row = db.session.scalar(select(ImportRowError))
    row.message = "手机: 电话号码无效 (1)"  # as older versions stored it
    db.session.commit()
    assert "手机: 电话号码无效 (1)" in client_as("admin").get(f"/imports/{batch.id}").get_data(as_text=True)


# --- kept messages ------------------------------------------------------------------------------------------
def test_kept_messages_are_put_into_words_in_the_current_language(app):
    from flask_babel import lazy_gettext, lazy_ngettext
    message = kept(lazy_gettext("%(field)s: %(problem)s (%(value)s)", field=lazy_gettext("Phone"),
                                problem=lazy_gettext("invalid phone number"), value="12%s"))
    assert json.loads(json.dumps(message)) == message  # plain data
    with force_locale("en"):
        assert in_words(message) == "Phone: invalid phone number (12%s)"
        assert in_words(kept(lazy_ngettext("%(num)d deal", "%(num)d deals", 2))) == "2 deals"
        assert in_words(["Unknown user 甲.", kept(lazy_gettext("invalid email address"))]) == (
            "Unknown user 甲; invalid email address")
    with force_locale("zh_CN"):
        assert in_words(message) == "电话：电话号码无效（12%s）"
        assert shown(stored([message])) == "电话：电话号码无效（12%s）"
        assert shown("plain text of old") == "plain text of old" and shown(None) == ""


def test_the_preview_knows_a_parent_department_an_earlier_row_makes(tmp_path, company):
    rows = [["部门名称", "上级部门"], ["华南大区", "测试公司"], ["深圳组", "华南大区"], ["广州组", "不存在的部门"]]
    batch = upload(company["admin"], write_csv(tmp_path, rows), target="departments")
    previewed = services.preview(batch, company["admin"])
    flagged = [[cell.field for cell in cells if cell.problem] for _number, cells, _problem, _raw in previewed]
    assert flagged == [[], [], ["parent"]]
    assert previewed[2][2] == "Unknown parent department 不存在的部门."


def _refused_in_the_write(tmp_path, company):
    """A next step due before its follow-up passes the import's checks; the follow-up service refuses it."""
    admin = company["admin"]
    services.run_import(upload(admin, write_csv(tmp_path, [["客户名称", "负责人"], ["北京星辰科技", "staff"]])), admin)
    visits = write_csv(tmp_path, [["客户", "跟进人", "方式", "日期", "下一步", "下次跟进日期"],
                                  ["北京星辰科技", "staff", "拜访", "2024/3/1", "再次拜访", "2024/2/1"]],
                       name="visits.csv")
    with force_locale("zh_CN"):
        return services.run_import(upload(admin, visits, target="activities"), admin)


def test_a_row_the_write_refuses_keeps_its_cells_for_the_error_report(tmp_path, company):
    batch = _refused_in_the_write(tmp_path, company)
    assert (batch.created_count, batch.error_count) == (0, 1)
    rejected = db.session.scalar(select(ImportRowError))
    assert rejected.cells == ["北京星辰科技", "staff", "拜访", "2024/3/1", "再次拜访", "2024/2/1"]
    with force_locale("en"):
        sheet = load_workbook(io.BytesIO(services.error_report(batch))).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[1][:6] == ["北京星辰科技", "staff", "拜访", "2024/3/1", "再次拜访", "2024/2/1"]
    assert rows[1][6] == "Row 2: The next step cannot be due before the follow-up itself."


def test_a_refusal_of_several_fields_keeps_its_message_id(tmp_path, company, monkeypatch):
    """A service that checks several fields at once (InvalidFields) is shown in each reader's language too."""
    from datetime import timedelta

    from rollout.timeutil import local_today
    admin = company["admin"]
    services.run_import(upload(admin, write_csv(tmp_path, [["客户名称", "负责人"], ["北京星辰科技", "staff"]])), admin)
    opened = plans.create_opportunity

    def opened_yesterday(*args, **kwargs):  # the day passed between the check and the write
        return opened(*args[:4], local_today() - timedelta(days=1), *args[5:], **kwargs)
    monkeypatch.setattr(plans, "create_opportunity", opened_yesterday)
    today = str(local_today())
    deals = write_csv(tmp_path, [["商机名称", "客户", "预计成交日期"], ["一期", "北京星辰科技", today]], name="deals.csv")
    with force_locale("zh_CN"):
        batch = services.run_import(upload(admin, deals, target="opportunities"), admin)
    assert batch.error_count == 1
    rejected = db.session.scalar(select(ImportRowError))
    assert rejected.cells == ["一期", "北京星辰科技", today]
    with force_locale("en"):
        assert shown(rejected.message) == "An open deal is expected to close today or later."
    with force_locale("zh_CN"):
        assert "今天或以后" in shown(rejected.message)


def test_a_wrong_choice_lists_each_option_by_its_word_and_its_code():
    """Both are accepted, and the stored message reads in either language."""
    from rollout.imports.plan_targets import STAGE_ALIASES
    from rollout.imports.targets import RowError, TargetField, choice_value
    stage = TargetField("stage", "Stage", choices=STAGE_ALIASES)
    with pytest.raises(RowError) as error:
        choice_value(stage, "签合同")
    message = str(error.value)
    assert "线索 (lead) / 已拜访 (visited)" in message and "输单 (lost)" in message
    assert choice_value(stage, "visited") == choice_value(stage, "已拜访") == "visited"
