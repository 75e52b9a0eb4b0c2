"""Migrated history is not adoption: follow-ups and deals an import brought in never count as entries in the
adoption figures or the usage ranking; what reps record themselves does, and an undone import's records are
gone anyway."""
from datetime import timedelta

from sqlalchemy import select

from rollout.dashboard import services
from rollout.extensions import db
from rollout.imports import services as imports
from rollout.plans import services as plans
from rollout.plans.models import Customer
from rollout.timeutil import local_today, utcnow
from tests.rollout.imports.helpers import upload, write_csv


def _import(admin, tmp_path, target, rows, name):
    batch = imports.run_import(upload(admin, write_csv(tmp_path, rows, name=name), target=target), admin)
    assert batch.error_count == 0, batch.error_count
    return batch


def _migrate(company, tmp_path):
    admin = company["admin"]
    _import(admin, tmp_path, "customers", [["客户名称", "负责人"], ["北京星辰科技", "staff"], ["上海云帆", "staff2"]],
            "customers.csv")
    day = local_today() - timedelta(days=3)
    follow_ups = [["客户名称", "跟进人", "跟进方式", "跟进日期", "跟进内容"]]
    follow_ups += [["北京星辰科技", "staff", "电话", (day - timedelta(days=n)).isoformat(), f"第{n}次电话"]
                   for n in range(30)]
    follow_ups += [["上海云帆", "staff2", "拜访", day.isoformat(), "拜访"]]
    _import(admin, tmp_path, "activities", follow_ups, "activities.csv")
    closed = (local_today() - timedelta(days=5)).isoformat()
    soon = (local_today() + timedelta(days=30)).isoformat()
    _import(admin, tmp_path, "opportunities",
            [["商机名称", "客户", "负责人", "金额", "阶段", "预计成交日期", "成交日期"],
             ["一期", "北京星辰科技", "staff", "5万", "成交", "", closed],
             ["二期", "北京星辰科技", "staff", "3万", "谈判中", soon, ""],
             ["三期", "上海云帆", "staff2", "1万", "线索", soon, ""]], "deals.csv")
    db.session.commit()


def _sales(department_ids=None):
    return {d.department.code: d for d in services.adoption(department_ids).departments}["sales"]


def test_imported_follow_ups_and_deals_are_not_entries(company, tmp_path):
    _migrate(company, tmp_path)
    sales = _sales()
    staff, staff2 = company["staff"].id, company["staff2"].id
    assert {rep.user_id: rep.recent_entries for rep in sales.reps} == {staff: 0, staff2: 0}
    assert sales.entries_per_rep_per_week == 0
    # A head's view of one department reads the same way.
    assert _sales({company["departments"]["sales"].id}).entries_per_rep_per_week == 0


def test_what_reps_record_after_the_import_still_counts(company, tmp_path):
    _migrate(company, tmp_path)
    staff = company["staff"]
    customer = db.session.scalar(select(Customer).where(Customer.name == "北京星辰科技"))
    plans.log_activity(customer, staff, "call", utcnow() - timedelta(minutes=5), "确认了需求")
    plans.log_activity(customer, staff, "visit", utcnow() - timedelta(minutes=1), "上门演示")
    plans.create_opportunity(customer, staff, "三期扩容", 10000, local_today() + timedelta(days=20))
    db.session.commit()
    ranking = _sales().ranking
    assert [(rep.user_id, rep.recent_entries) for rep in ranking] == [(staff.id, 3), (company["staff2"].id, 0)]


def test_an_undone_import_leaves_nothing_to_subtract(company, tmp_path):
    admin, staff = company["admin"], company["staff"]
    _import(admin, tmp_path, "customers", [["客户名称", "负责人"], ["北京星辰科技", "staff"]], "customers.csv")
    batch = _import(admin, tmp_path, "activities",
                    [["客户名称", "跟进人", "跟进方式", "跟进日期", "跟进内容"],
                     ["北京星辰科技", "staff", "电话", (local_today() - timedelta(days=1)).isoformat(), "旧记录"]],
                    "activities.csv")
    imports.undo_import(batch, admin)
    customer = db.session.scalar(select(Customer).where(Customer.name == "北京星辰科技"))
    plans.log_activity(customer, staff, "call", utcnow() - timedelta(minutes=1), "新的电话")
    db.session.commit()
    assert {rep.user_id: rep.recent_entries for rep in _sales().reps}[staff.id] == 1
