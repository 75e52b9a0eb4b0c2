"""An import that can no longer be undone says which records block it and what to do, before anyone tries;
the import's own events read as words on the audit page."""
from datetime import timedelta

from flask_babel import force_locale
from sqlalchemy import func, select

from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.imports import services
from rollout.plans import services as plans
from rollout.plans.models import Customer
from rollout.timeutil import utcnow
from tests.rollout.imports.helpers import upload, write_csv


def _imported(tmp_path, company, count=2):
    rows = [["客户名称", "手机"]] + [[f"客户{n:02d}有限公司", ""] for n in range(count)]
    batch = services.run_import(upload(company["admin"], write_csv(tmp_path, rows)), company["admin"])
    customers = db.session.scalars(select(Customer).order_by(Customer.id)).all()
    return batch, customers


def _customers() -> int:
    return db.session.scalar(select(func.count()).select_from(Customer))


def test_records_in_use_are_named_with_what_uses_them(tmp_path, company, client_as):
    batch, customers = _imported(tmp_path, company)
    staff = company["staff"]
    plans.log_activity(customers[0], staff, "call", utcnow() - timedelta(hours=1), "电话")
    plans.log_activity(customers[0], staff, "visit", utcnow() - timedelta(hours=2), "上门")
    plans.create_opportunity(customers[0], staff, "年度合同", "1000")
    db.session.commit()
    blocker = services.undo_blocker(batch)
    assert blocker == {"in_use": {"count": 1, "names": [["客户00有限公司", {"activities": 2, "opportunities": 1}]]}}
    client = client_as("admin")
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert 'data-testid="undo-disabled"' in page and "imports/%d/undo" % batch.id not in page
    assert ("1 record it created is now used by other records: 客户00有限公司 (2 follow-ups, 1 deal)."
            in page)
    assert "first delete what uses these records or move it to other records" in page
    response = client.post(f"/imports/{batch.id}/undo")
    assert response.status_code == 409 and "客户00有限公司 (2 follow-ups, 1 deal)" in response.get_data(as_text=True)
    assert _customers() == 2
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "客户00有限公司（2 条跟进、1 个商机）" in client.get(f"/imports/{batch.id}").get_data(as_text=True)


def test_the_first_records_are_named_and_the_rest_counted(tmp_path, company):
    batch, customers = _imported(tmp_path, company, count=7)
    for customer in customers:
        plans.add_contact(customer, "王经理")
    db.session.commit()
    with force_locale("en"):
        text = services.blocker_text(services.undo_blocker(batch))
    assert text.startswith("This import can no longer be undone. 7 records it created are now used by other "
                           "records: 客户00有限公司 (1 contact), ")
    assert "客户04有限公司 (1 contact) and 2 more." in text and "客户05" not in text


def test_a_changed_record_blocks_the_undo_by_name(tmp_path, company, client_as):
    batch, customers = _imported(tmp_path, company)
    plans.update_customer(customers[1], company["admin"], city="上海")
    db.session.commit()
    assert services.undo_blocker(batch) == {"changed": {"count": 1, "names": ["客户01有限公司"]}}
    page = client_as("admin").get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "1 record it created has been changed since: 客户01有限公司." in page
    assert "correct the records by hand instead" in page


def test_an_undoable_import_offers_the_button_and_records_a_readable_event(tmp_path, company, client_as):
    batch, _customers_made = _imported(tmp_path, company)
    db.session.commit()
    client = client_as("admin")
    page = client.get(f"/imports/{batch.id}").get_data(as_text=True)
    assert "imports/%d/undo" % batch.id in page and 'data-testid="undo-blocked"' not in page
    assert client.post(f"/imports/{batch.id}/undo").status_code == 302
    assert _customers() == 0
    event = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "import_undone"))
    assert event.detail == "customers.csv"
    assert event.changes == {"status": ["completed", "undone"], "removed_count": 2, "restored_count": 0}
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    audit = client.get("/audit/?entity=import_batches").get_data(as_text=True)
    assert "删除的记录" in audit and "新建记录" in audit and "已撤销" in audit
    assert "removed=" not in audit and "target=customers" not in audit
    # counts are figures of the event, not changes from zero
    assert '<span class="text-muted">删除的记录</span>: 2</div>' in audit
    assert '<span class="text-muted">恢复的记录</span>: 0</div>' in audit


def test_ids_are_checked_by_runs(company):
    from rollout.imports.targets import counts_by, id_runs
    assert id_runs([9, 1, 2, 3, 7, 10, 3]) == [(1, 3), (7, 7), (9, 10)]
    staff = company["staff"]
    customers = [plans.create_customer(f"客户{n}", staff) for n in range(5)]
    for customer in (customers[0], customers[2], customers[2], customers[4]):
        plans.add_contact(customer, "王经理")
    from rollout.plans.models import Contact
    wanted = [customers[0].id, customers[2].id, customers[3].id]  # not one run
    assert counts_by(Contact.customer_id, wanted) == {customers[0].id: 1, customers[2].id: 2}


def test_a_department_with_members_blocks_undoing_its_import(tmp_path, company, factory):
    admin = company["admin"]
    rows = [["部门名称", "上级部门"], ["华南大区", "测试公司"], ["深圳组", "华南大区"]]
    batch = services.run_import(upload(admin, write_csv(tmp_path, rows), target="departments"), admin)
    from rollout.accounts.models import Department
    south = db.session.scalar(select(Department).where(Department.name == "华南大区"))
    assert services.undo_blocker(batch) is None  # its sub-department came with it
    factory.user("staff", department=south)
    assert services.undo_blocker(batch) == {"in_use": {"count": 1, "names": [["华南大区", {"members": 1}]]}}
    with force_locale("en"):
        assert "华南大区 (1 member)" in services.blocker_text(services.undo_blocker(batch))
