"""The audit trail: automatic, field-level, append-only, scoped, and free of secrets."""
import pytest
from sqlalchemy import select

from rollout.accounts.models import Department, User
from rollout.audit.models import AuditEntry
from rollout.audit.services import acting_as, history_of
from rollout.extensions import db
from tests.conftest import TEST_PASSWORD


def _entries(**filters):
    query = select(AuditEntry)
    for key, value in filters.items():
        query = query.where(getattr(AuditEntry, key) == value)
    return db.session.scalars(query.order_by(AuditEntry.id)).all()


def test_create_update_delete_are_recorded_with_old_and_new_values(factory, company):
    with acting_as(company["admin"]):
        department = Department(name="客服部", kind="department", parent=company["departments"]["company"])
        db.session.add(department)
        db.session.commit()
        department.name = "客户服务部"
        db.session.commit()
        db.session.delete(department)
        db.session.commit()
    rows = _entries(entity="departments", entity_id=str(department.id))
    assert [r.action for r in rows] == ["create", "update", "delete"]
    assert rows[0].changes["name"] == [None, "客服部"]
    assert rows[1].changes == {"name": ["客服部", "客户服务部"]}
    assert rows[2].changes["name"] == ["客户服务部", None]
    assert all(r.username == "admin" for r in rows)


def test_moving_a_record_by_assigning_the_related_object_is_recorded(company):
    """user.department = other (not user.department_id = …): the flush fills in the key, the audit
    still records old → new."""
    staff_id = company["staff"].id
    marketing = company["departments"]["marketing"].id
    sales_ids = {company["departments"][code].id for code in ("sales", "sales1", "sales2")}
    db.session.remove()
    user = db.session.get(User, staff_id)
    old_department = user.department_id
    user.department = db.session.get(Department, marketing)
    db.session.commit()
    row = _entries(entity="users", entity_id=str(staff_id))[-1]
    assert row.action == "update" and row.changes["department_id"] == [old_department, marketing]
    user.department = None
    db.session.commit()
    assert _entries(entity="users", entity_id=str(staff_id))[-1].changes["department_id"] == [marketing, None]
    assert old_department in sales_ids

def test_requests_record_user_and_ip(client_as, company):
    client = client_as("admin")
    team = company["departments"]["sales1"]
    response = client.post(f"/admin/departments/{team.id}", data={"name": "销售精英组", "kind": "team",
                                                                 "parent_id": company["departments"]["sales"].id},
                           environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 302
    row = _entries(entity="departments", action="update")[-1]
    assert row.ip == "10.1.2.3" and row.user_id == company["admin"].id
    assert row.changes["name"] == ["销售一组", "销售精英组"]


def test_passwords_and_tokens_never_appear(company, factory):
    user = factory.user("staff", username="secretive", password="my very secret pass")
    user.password_hash = "changed-hash-value"
    db.session.commit()
    text = " ".join(str(r.changes) for r in _entries(entity="users"))
    assert "changed-hash-value" not in text and "$argon2" not in text
    assert user.session_token not in text and user.calendar_token not in text
    assert "***" in text


def test_audit_rows_cannot_be_edited_or_deleted(company):
    row = _entries()[0]
    row.action = "tampered"
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(AuditEntry, row.id))
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()


def test_denied_requests_are_recorded(client_as, company):
    client = client_as("staff")
    assert client.get("/admin/users").status_code == 403
    row = _entries(action="denied")[-1]
    assert row.username == "staff" and row.entity_id == "accounts.users"


def test_sign_ins_and_refusals_are_named_in_chinese(client, client_as, company):
    client.post("/login", data={"username": "staff", "password": TEST_PASSWORD})
    assert client.get("/admin/users").status_code == 403
    client = client_as("admin")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    rows = client.get("/audit/").get_data(as_text=True).split("<tbody>")[1]
    assert "staff 的登录会话" in rows and "页面“用户”" in rows and "#staff" not in rows
    assert "accounts.users" not in rows
    assert "场次" not in rows  # a training session's word


def test_history_of_a_record(company):
    with acting_as(company["admin"]):
        company["staff"].display_name = "新名字"
        db.session.commit()
    history = history_of("users", company["staff"].id)
    assert history[0].action == "update" and history[0].changes["display_name"][1] == "新名字"


def test_audit_page_filters(client_as, company):
    client = client_as("admin")
    client.get("/admin/departments")
    page = client.get("/audit/?entity=departments&action=create").get_data(as_text=True)
    assert "销售一组" in page
    assert "login_failed" not in page.split("<tbody>")[1]


def test_audit_page_offers_entities_by_name_and_says_what_it_did_with_bad_dates(client_as, company):
    client = client_as("admin")
    page = client.get("/audit/").get_data(as_text=True)
    entities = page.split('name="entity"')[1].split("</select>")[0]
    assert '<option value="customers" >Customer</option>' in entities.replace("  ", " ")
    assert '<option value="departments" >Department</option>' in entities.replace("  ", " ")
    reversed_range = client.get("/audit/?entity=departments&date_from=2099-12-01&date_to=2000-01-01")
    page = reversed_range.get_data(as_text=True)
    assert reversed_range.status_code == 200 and "the two dates were swapped" in page
    assert 'value="2000-01-01"' in page.split('name="date_from"')[1][:60] and "销售一组" in page
    page = client.get("/audit/?date_from=2026-13-01").get_data(as_text=True)
    assert "“2026-13-01” is not a date" in page


def test_head_sees_only_their_department_in_audit(client_as, company, factory):
    with acting_as(company["admin"]):
        factory.user("staff", department=company["departments"]["sales2"], username="in-sales")
        factory.user("staff", department=company["departments"]["marketing"], username="in-marketing")
    page = client_as("head").get("/audit/?entity=users&action=create").get_data(as_text=True)
    assert "in-sales" in page and "in-marketing" not in page
    assert client_as("staff").get("/audit/").status_code == 403


def test_a_team_head_reads_the_trail_of_their_team_only(client_as, company, factory):
    team_head = factory.user("head", department=company["departments"]["sales2"], username="team-head")
    with acting_as(company["admin"]):
        factory.user("staff", department=company["departments"]["sales2"], username="in-my-team")
        factory.user("staff", department=company["departments"]["sales1"], username="next-door")
    page = client_as(team_head).get("/audit/?entity=users&action=create").get_data(as_text=True)
    assert "in-my-team" in page and "next-door" not in page
    page = client_as("head").get("/audit/?entity=users&action=create").get_data(as_text=True)
    assert "in-my-team" in page and "next-door" in page  # the department's head reads both teams


def test_audit_page_uses_a_fixed_number_of_statements(client_as, company, factory, count_statements):
    client = client_as("admin")
    client.get("/audit/")
    with count_statements() as small:
        client.get("/audit/?action=create")
    for number in range(60):
        factory.user("staff", username=f"bulk{number}")
    with count_statements() as large:
        response = client.get("/audit/?action=create")
    assert "Older entries" in response.get_data(as_text=True) or "更早的记录" in response.get_data(as_text=True)
    assert small.count == large.count


def test_resolving_user_and_department_names_costs_one_statement_per_page(client_as, company, factory,
                                                                          count_statements):
    """Every row names other users and departments; their names come from one query, not one per row."""
    from rollout.audit.services import record_event
    client = client_as("admin")
    departments = list(company["departments"].values())

    def reassign(users):
        for number, user in enumerate(users):
            record_event("update", entity="customers", entity_id=number, user=company["admin"],
                         changes={"owner_id": [company["staff"].id, user.id],
                                  "department_id": [None, departments[number % len(departments)].id]})
        db.session.commit()

    reassign([company["head"]])
    client.get("/audit/?entity=customers")
    with count_statements() as small:
        client.get("/audit/?entity=customers")
    owners = [factory.user("staff", username=f"owner{number}", display_name=f"客户经理{number}")
              for number in range(60)]
    reassign(owners)
    with count_statements() as large:
        page = client.get("/audit/?entity=customers").get_data(as_text=True)
    assert small.count == large.count
    assert "客户经理59" in page and "客户经理10" in page and "市场部" in page


def test_every_recorded_event_has_a_name_on_the_audit_page():
    """The audit page names actions in words; an event recorded in code but missing there shows as a code."""
    import re
    from pathlib import Path

    from rollout.audit.display import ACTION_NAMES
    from training.services import SESSION_TRANSITIONS
    root = Path(__file__).resolve().parents[2]
    recorded = set()
    for package in ("rollout", "surveys", "processmaps", "changes", "training"):
        for path in (root / package).rglob("*.py"):
            recorded |= set(re.findall(r'record_event\(\s*"([a-z_.]+)"', path.read_text(encoding="utf-8")))
    recorded |= {f"session_{action}" for _state, action in SESSION_TRANSITIONS}  # recorded as f"session_{action}"
    assert len(recorded) > 20
    assert sorted(recorded - set(ACTION_NAMES)) == []
