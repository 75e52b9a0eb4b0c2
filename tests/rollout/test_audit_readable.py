"""The audit page in words (pages, sign-in sessions, notification events, job titles, one action per row),
and an export that never silently stops short."""
import csv
import io
import re

from sqlalchemy import func, select

from rollout.audit.models import AuditEntry
from rollout.audit.services import record_event
from rollout.extensions import db
from tests.conftest import chinese_client


def _body(page: str) -> str:
    return page.split("<tbody>")[1].split("</tbody>")[0]


def test_rows_name_pages_sessions_and_actions_in_words(client_as, company):
    record_event("denied", entity="route", entity_id="dashboard.adoption", user=company["staff"])
    record_event("denied", entity="route", entity_id="training.signin_sheet", user=company["staff"])
    record_event("login", entity="session", entity_id="team1.head", user=company["head"])
    db.session.commit()
    body = _body(client_as("admin").get("/audit/").text)
    assert "Page “Adoption”" in body and "dashboard.adoption" not in body
    assert "Page “A page of Training”" in body and "training.signin_sheet" not in body
    assert "Sign-in session of team1.head" in body and "#team1.head" not in body
    # One row is one login, one denial: the singular, not the filter's plural.
    assert ">Login</span>" in body and ">Access denied</span>" in body and "Logins" not in body
    page = client_as("admin").get("/audit/").text
    assert ">Logins</option>" in page  # the filter still counts them in the plural


def test_rows_read_in_chinese(app, company):
    record_event("denied", entity="route", entity_id="dashboard.adoption", user=company["staff"])
    record_event("login", entity="session", entity_id="team1.head", user=company["head"])
    db.session.commit()
    body = _body(chinese_client(app, company["admin"]).get("/audit/").text)
    assert "#team1.head" not in body and "dashboard.adoption" not in body and "team1.head" in body


def test_notification_events_and_contact_titles_are_words(client_as, company):
    from rollout.audit.display import describe_changes, field_label
    record_event("create", entity="notifications", entity_id=1, user=company["admin"],
                 changes={"event": [None, "training.support_request"]})
    record_event("create", entity="notifications", entity_id=2, user=company["admin"],
                 changes={"event": [None, "changes.withdrawn"]})
    db.session.commit()
    # The code stays only as the hover text of its words, as for every coded value.
    body = re.sub(r' title="[^"]*"', "", _body(client_as("admin").get("/audit/?entity=notifications").text))
    assert "training.support_request" not in body and "Support request" in body
    assert "changes.withdrawn" not in body and "Changes notification" in body
    assert field_label("contacts", "title") == "Job title"
    assert field_label("training_courses", "title") == "Title"
    assert describe_changes([]) == {}


def test_an_export_that_would_be_cut_short_is_refused_with_the_count(client_as, company, app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_MAX_ROWS", 3)
    for _ in range(5):
        record_event("login", entity="session", entity_id="rep", user=company["staff"])
    record_event("logout", entity="session", entity_id="rep", user=company["staff"])
    db.session.commit()
    exports_before = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "export"))
    client = client_as("admin")
    refused = client.get("/audit/export.csv?action=login&date_from=2000-01-01")
    assert refused.status_code == 302
    assert refused.headers["Location"].startswith("/audit/?") and "action=login" in refused.headers["Location"]
    page = client.get(refused.headers["Location"]).text
    assert "The filter matches 5 entries, but an export holds at most 3." in page
    assert "narrow the dates" in page
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "export")) == exports_before  # nothing was exported
    # A filter within the limit exports every row.
    monkeypatch.setitem(app.config, "EXPORT_MAX_ROWS", 5)
    response = client.get("/audit/export.csv?action=login")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert len(rows) == 1 + 5


def test_the_refusal_counts_in_chinese(app, company, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_MAX_ROWS", 1)
    for _ in range(2):
        record_event("login", entity="session", entity_id="rep", user=company["staff"])
    db.session.commit()
    client = chinese_client(app, company["admin"])
    page = client.get("/audit/export.xlsx?action=login", follow_redirects=True).text
    assert "2" in page and "导出" in page and "The filter matches" not in page


def test_rows_name_their_record_by_its_current_or_last_name(client_as, company):
    from rollout.accounts.models import Department
    department = Department(name="华东大区", code="EAST")
    db.session.add(department)
    db.session.commit()
    department.name = "华东销售大区"
    db.session.commit()
    gone_id = department.id
    db.session.delete(department)
    db.session.commit()
    record_event("update", entity="users", entity_id=company["staff"].id, user=company["admin"],
                 changes={"phone": [None, "13800138000"]})
    db.session.commit()
    body = _body(client_as("admin").get("/audit/?entity=departments").text)
    # A deleted record keeps the name it last had; a renamed one its newer name.
    assert "Department “华东销售大区”" in body and f"Department #{gone_id}" not in body
    body = _body(client_as("admin").get("/audit/?entity=users").text)
    assert f"User “{company['staff'].display_name}”" in body
    export = client_as("admin").get("/audit/export.csv?entity=departments").data.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(export)))
    assert "Record" in header
    assert {row[header.index("Record")] for row in rows if row[header.index("ID")] == str(gone_id)} \
        == {"华东大区", "华东销售大区"}


def test_notifications_are_named_by_their_subject(client_as, company):
    from rollout.notify.services import notify
    [notice] = notify([company["staff"]], "plan.behind", "你落后于本季度计划")
    db.session.commit()
    body = _body(client_as("admin").get("/audit/?entity=notifications").text)
    assert "Notification “你落后于本季度计划”" in body and f"Notification #{notice.id}" not in body
