"""Counts of one in the notification and report pages read in the singular in English."""
from datetime import datetime

from rollout.audit.models import AuditEntry
from rollout.extensions import db


def test_a_test_message_to_one_channel(client_as, company):
    client = client_as("staff")
    client.post("/notifications/channels", data={"email_enabled": "y", "email": "z@example.cn"})
    page = client.post("/notifications/channels/test", follow_redirects=True).get_data(as_text=True)
    assert "A test message is on its way to 1 channel." in page


def test_audit_summary_with_one_event(client_as, company):
    staff = company["staff"]
    db.session.add(AuditEntry(created_at=datetime(2020, 1, 15, 4), user_id=staff.id, username=staff.username,
                              action="login", entity="session", department_id=staff.department_id))
    db.session.commit()
    page = client_as("head").get("/reports/audit-summary?date_from=2020-01-15&date_to=2020-01-15")
    assert "Period: 2020-01-15 to 2020-01-15 · 1 event<" in page.get_data(as_text=True)
