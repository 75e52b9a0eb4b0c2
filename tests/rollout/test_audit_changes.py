"""The audit page's Changes column speaks the reader's language: labels, names, Yes/No, short values."""
import re

from rollout.audit.display import MAX_VALUE_LENGTH, entity_name, field_label, humanise
from rollout.audit.services import acting_as, record_event
from rollout.extensions import db
from tests.conftest import chinese_client


def _changes_cells(page: str) -> list[str]:
    """The text of each row's Changes cell (tags stripped, whitespace collapsed)."""
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    cells = re.findall(r'<td class="small">(.*?)</td>', body, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def test_field_names_become_labels_and_ids_become_names(client_as, company):
    staff, marketing_id = company["staff"], company["departments"]["marketing"].id
    with acting_as(company["admin"]):
        staff.department_id = marketing_id
        staff.is_seed_user = True
        db.session.commit()
    page = client_as("admin").get(f"/audit/?entity=users&entity_id={staff.id}&action=update").get_data(as_text=True)
    cell = _changes_cells(page)[0]
    assert "Department : 销售一组 → 市场部" in cell
    assert "Seed user : No → Yes" in cell
    assert "department_id" not in cell and "is_seed_user" not in cell and "True" not in cell


def test_the_same_changes_in_chinese(app, company):
    staff, sales2_id = company["staff"], company["departments"]["sales2"].id
    with acting_as(company["admin"]):
        staff.is_seed_user = True
        staff.department_id = sales2_id
        db.session.commit()
    page = chinese_client(app, company["admin"]).get(
        f"/audit/?entity=users&entity_id={staff.id}&action=update").get_data(as_text=True)
    cell = _changes_cells(page)[0]
    assert "部门 : 销售一组 → 销售二组" in cell
    assert "种子用户 : 否 → 是" in cell


def test_stored_codes_show_as_their_labels_with_the_code_as_title(app, company):
    """A role list reads 部门负责人、员工 on the Chinese page, the codes kept in the tooltip."""
    from rollout.accounts.models import Department
    with acting_as(company["admin"]):
        team = Department(name="客服一组", code="service-1", kind="team",
                          parent_id=company["departments"]["sales"].id)
        db.session.add(team)
        db.session.commit()
        team.kind = "department"
        db.session.commit()
    page = chinese_client(app, company["admin"]).get(
        f"/audit/?entity=departments&entity_id={team.id}&action=update").get_data(as_text=True)
    assert "类型 : 小组 → 部门" in _changes_cells(page)[0]
    assert 'title="team"' in page and 'title="department"' in page


def test_code_lists_join_their_labels(app):
    from flask_babel import force_locale

    from rollout.accounts.forms import ROLE_LABELS
    from rollout.audit.display import show_value
    with app.test_request_context(), force_locale("zh_CN"):
        assert show_value(["head", "staff"], None, {}, ROLE_LABELS).text == "部门负责人、员工"
        assert show_value("head,staff", None, {}, ROLE_LABELS).full == "head,staff"
        assert show_value("someone-else", None, {}, ROLE_LABELS).text == "someone-else"  # not a code: as stored
    with app.test_request_context(), force_locale("en"):
        assert show_value(["head", "staff"], None, {}, ROLE_LABELS).text == "Department head, Staff"


def test_user_foreign_keys_show_display_names_with_the_id_as_title(client_as, company):
    staff, head = company["staff"], company["head"]
    record_event("update", entity="customers", entity_id=7, user=company["admin"],
                 changes={"owner_id": [staff.id, head.id]})
    db.session.commit()
    page = client_as("admin").get("/audit/?entity=customers").get_data(as_text=True)
    assert f"Owner : {staff.display_name} → {head.display_name}" in _changes_cells(page)[0]
    assert f'title="#{staff.id}"' in page


def test_any_reference_to_a_named_row_shows_its_name(client_as, company):
    from rollout.plans.models import LostReason
    reason = LostReason(name="价格过高")
    db.session.add(reason)
    db.session.commit()
    record_event("update", entity="opportunities", entity_id=3, user=company["admin"],
                 changes={"lost_reason_id": [reason.id, None], "owner_id": [company["staff"].id, company["head"].id]})
    db.session.commit()
    page = client_as("admin").get("/audit/?entity=opportunities").get_data(as_text=True)
    cell = _changes_cells(page)[0]
    assert "价格过高 → —" in cell and f"{company['staff'].display_name} → {company['head'].display_name}" in cell


def test_an_id_without_a_row_is_shown_as_a_number(client_as, company):
    record_event("update", entity="customers", entity_id=7, user=company["admin"],
                 changes={"owner_id": [None, 999999]})
    db.session.commit()
    page = client_as("admin").get("/audit/?entity=customers").get_data(as_text=True)
    assert "Owner : — → #999999" in _changes_cells(page)[0]


def test_unregistered_columns_get_a_humanised_name():
    assert humanise("planned_on") == "Planned on"
    assert humanise("approver_department_code") == "Approver department code"
    assert humanise("merged_into_id") == "Merged into"
    assert field_label("anything", "cadence_days") == "Cadence days"


def test_table_specific_labels_win_over_shared_ones(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert field_label("departments", "parent_id") == "Parent department"
        assert field_label("processes", "parent_id") == "Parent"


def test_long_values_are_shortened_with_the_full_value_in_the_title(client_as, company):
    long_text = "客户要求在月底前完成报价审批，并同步到财务系统。" * 6
    record_event("update", entity="requirements", entity_id=3, user=company["admin"],
                 changes={"description": ["短", long_text]})
    db.session.commit()
    page = client_as("admin").get("/audit/?entity=requirements").get_data(as_text=True)
    cell = _changes_cells(page)[0]
    shown = cell.split("→ ")[1]
    assert shown.endswith("…") and len(shown) == MAX_VALUE_LENGTH
    assert f'title="{long_text}"' in page


def test_created_records_list_their_values_once_and_times_in_local_time(client_as, company):
    record_event("create", entity="users", entity_id=4, user=company["admin"],
                 changes={"id": [None, 4], "display_name": [None, "王芳"], "last_login_at": [None, "2026-03-01T02:30:00"]})
    db.session.commit()
    cell = _changes_cells(client_as("admin").get("/audit/?entity=users&entity_id=4").get_data(as_text=True))[0]
    assert cell == "Display name : 王芳 Last login : 2026-03-01 10:30"


def test_decimal_columns_show_whole_figures_without_cents(client_as, company):
    record_event("update", entity="plan_targets", entity_id=9, user=company["admin"],
                 changes={"target": ["3.00", "12500.50"]})
    record_event("create", entity="plan_targets", entity_id=10, user=company["admin"],
                 changes={"target": [None, "1200000.00"]})
    db.session.commit()
    cells = _changes_cells(client_as("admin").get("/audit/?entity=plan_targets").get_data(as_text=True))
    assert any("3 → 12,500.50" in cell for cell in cells), cells
    assert any(cell.endswith(": 1,200,000") for cell in cells), cells


def test_secrets_stay_hidden(client_as, company):
    with acting_as(company["admin"]):
        company["staff"].password_hash = "another-hash"
        db.session.commit()
    page = client_as("admin").get(f"/audit/?entity=users&entity_id={company['staff'].id}&action=update")
    cell = _changes_cells(page.get_data(as_text=True))[0]
    assert cell == "Password : *** → ***"


def _audited_columns():
    """(table, column) of every column the audit trail can show: audited models, their id aside."""
    for mapper in db.Model.registry.mappers:
        cls = mapper.class_
        if not getattr(cls, "__audit__", True):
            continue
        skipped = set(getattr(cls, "__audit_skip__", ()))
        for attr in mapper.column_attrs:
            if attr.key != "id" and attr.key not in skipped:
                yield mapper.local_table.name, attr.key


def test_every_audited_column_has_a_chinese_label(app):
    """No humanised English column name (``Vote budget``) on the Chinese audit page."""
    from flask_babel import force_locale
    with app.test_request_context(), force_locale("zh_CN"):
        unnamed = sorted(f"{table}.{column}" for table, column in _audited_columns()
                         if not re.search(r"[\u4e00-\u9fff]", field_label(table, column)))
    assert not unnamed, unnamed


def test_every_audited_table_has_a_chinese_name(app):
    """The audit page's object column reads 复盘卡片 #36, not retro_cards #36."""
    from flask_babel import force_locale
    tables = {table for table, _ in _audited_columns()} | {"session", "route", "survey_responses"}
    with app.test_request_context(), force_locale("zh_CN"):
        unnamed = sorted(table for table in tables if not re.search(r"[\u4e00-\u9fff]", entity_name(table)))
        assert entity_name("retro_cards") == "复盘卡片"
    assert not unnamed, unnamed
