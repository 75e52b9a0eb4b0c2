"""Business records whose history matters are never hard-deleted.

Customers are soft-deleted (deleted_at) with the deletion in the audit trail and
hidden from lists; requirements and change requests have no delete at all: they
end in a state (merged, rejected, cancelled) and keep their history.
"""
from sqlalchemy import select

from rollout.audit.models import AuditEntry
from rollout.audit.services import acting_as
from rollout.extensions import db
from rollout.plans import services as plans
from rollout.plans.models import Customer


def test_deleting_a_customer_keeps_the_row_hides_it_and_audits_it(client_as, company):
    with acting_as(company["staff"]):
        kept = plans.create_customer("杭州远景贸易有限公司", company["staff"], owner=company["staff"])
        doomed = plans.create_customer("宁波海港物流有限公司", company["staff"], owner=company["staff"])
        db.session.commit()
    doomed_id = doomed.id
    head = client_as("head")
    assert "宁波海港物流有限公司" in head.get("/customers").get_data(as_text=True)

    response = head.post(f"/customers/{doomed_id}/delete", follow_redirects=True)
    assert response.status_code == 200 and "deleted" in response.get_data(as_text=True)  # the flash names it

    db.session.expire_all()
    row = db.session.get(Customer, doomed_id)
    assert row is not None and row.deleted_at is not None  # still there, marked
    listing = head.get("/customers").get_data(as_text=True)
    assert "宁波海港物流有限公司" not in listing and kept.name in listing
    assert head.get(f"/customers/{doomed_id}").status_code == 404
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "customers",
                                                        AuditEntry.entity_id == str(doomed_id),
                                                        AuditEntry.action == "update")).all()
    assert any("deleted_at" in (entry.changes or {}) for entry in audit), [e.changes for e in audit]
    assert all(entry.username == "head" for entry in audit if "deleted_at" in (entry.changes or {}))


def test_no_route_hard_deletes_customers_requirements_or_change_requests(app):
    """Requirements and change requests have no delete route; the customer's one soft-deletes (above)."""
    deleting = {rule.endpoint for rule in app.url_map.iter_rules() if "delete" in rule.rule}
    protected = [e for e in deleting if e.startswith(("surveys.", "changes.")) and
                 ("requirement" in e or e in ("changes.delete", "changes.delete_request"))]
    assert protected == []
    assert "plans.delete_customer" in deleting
