"""Customers returned to the pool by a sweep are recorded as the system's doing, not the viewer's."""
from datetime import timedelta

from sqlalchemy import select

from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.plans import services
from rollout.timeutil import utcnow


def test_a_pool_view_that_returns_idle_customers_does_not_record_it_as_the_viewers_act(company, client_as):
    idle = services.create_customer("久未跟进的公司", company["staff"], last_followup_at=utcnow() - timedelta(days=100))
    db.session.commit()
    client = client_as("admin")
    client.get("/customers/pool")
    released = db.session.scalars(select(AuditEntry).where(
        AuditEntry.entity == "customers", AuditEntry.entity_id == str(idle.id), AuditEntry.action == "update")).all()
    assert released and all(row.user_id is None and row.username is None and row.ip is None for row in released)
    assert released[-1].changes["is_in_pool"] == [False, True]
    history = client.get(f"/customers/{idle.id}?tab=history").get_data(as_text=True)
    assert "System" in history.split('data-testid="history"')[1]
    # the viewer's own acts in the same request are still theirs
    client.post(f"/customers/{idle.id}/claim")
    claimed = db.session.scalars(select(AuditEntry).where(
        AuditEntry.entity == "customers", AuditEntry.entity_id == str(idle.id)).order_by(AuditEntry.id.desc())).first()
    assert claimed.username == "admin"
