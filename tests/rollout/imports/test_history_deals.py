"""Deals from the old spreadsheets: won and lost ones keep the day they closed, and the dry run says what
the run will do."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from rollout.extensions import db
from rollout.imports import services
from rollout.plans import services as plans
from rollout.plans.models import Opportunity
from rollout.timeutil import local_today
from tests.rollout.imports.helpers import upload, write_csv

HEADER = ["商机名称", "客户", "金额", "阶段", "预计成交日期", "成交日期", "输单原因"]


@pytest.fixture
def admin(tmp_path, company):
    admin = company["admin"]
    plans.save_lost_reason(None, "价格太高", False)
    services.run_import(upload(admin, write_csv(tmp_path, [["客户名称", "负责人"], ["北京星辰科技", "staff"]],
                                                name="customers.csv")), admin)
    return admin


def _deals(tmp_path, *rows):
    return write_csv(tmp_path, [HEADER, *rows], name="deals.csv")


def _upload(admin, path):
    return upload(admin, path, target="opportunities")


def test_won_and_lost_deals_keep_the_day_they_closed(tmp_path, admin):
    path = _deals(tmp_path, ["一期", "北京星辰科技", "5万", "成交", "2024-02-20", "2024-03-15", ""],
                  ["二期", "北京星辰科技", "3万", "输单", "2024-05-01", "", "价格太高"])
    analysis = services.dry_run(_upload(admin, path), admin, "all")
    assert analysis.counts == {"create": 2}
    batch = services.run_import(_upload(admin, path), admin)
    assert (batch.created_count, batch.error_count) == (2, 0)
    deals = {deal.name: deal for deal in db.session.scalars(select(Opportunity))}
    assert deals["一期"].stage == "won" and deals["一期"].closed_on == date(2024, 3, 15)
    assert deals["一期"].amount == Decimal("50000.00")
    # no close date: the expected one
    assert deals["二期"].stage == "lost" and deals["二期"].closed_on == date(2024, 5, 1)
    # Old records are not news: the owner is not told of each deal the migration brings in.
    from rollout.notify.models import Notification
    assert db.session.scalar(select(Notification).where(Notification.event.like("deal.%"))) is None


def test_the_dry_run_predicts_every_refusal_of_the_run(tmp_path, admin):
    future = (local_today() + timedelta(days=30)).isoformat()
    path = _deals(tmp_path, ["过期的谈判", "北京星辰科技", "1万", "谈判中", "2024-06-30", "", ""],
                  ["没有日期的成交", "北京星辰科技", "1万", "成交", "", "", ""],
                  ["将来成交", "北京星辰科技", "1万", "成交", future, "", ""],
                  ["进行中却有成交日期", "北京星辰科技", "1万", "谈判中", future, "2024-01-01", ""],
                  ["正常的谈判", "北京星辰科技", "1万", "谈判中", future, "", ""])
    analysis = services.dry_run(_upload(admin, path), admin, "all")
    assert analysis.counts == {"error": 4, "create": 1}
    reasons = [outcome.text for outcome in analysis.errors]
    assert "An open deal is expected to close today or later" in reasons[0]
    assert "needs its close date" in reasons[1]
    assert "cannot have closed after today" in reasons[2]
    assert "Only a won or lost deal has a close date" in reasons[3]
    batch = services.run_import(_upload(admin, path), admin)
    assert (batch.created_count, batch.error_count) == (1, 4)
    assert db.session.scalar(select(Opportunity.name)) == "正常的谈判"


def test_a_blank_amount_keeps_an_existing_deals_amount(tmp_path, admin):
    future = (local_today() + timedelta(days=30)).isoformat()
    services.run_import(_upload(admin, _deals(tmp_path, ["一期", "北京星辰科技", "5万", "谈判中", future, "", ""])),
                        admin)
    batch = _upload(admin, _deals(tmp_path, ["一期", "北京星辰科技", "", "谈判中", future, "", ""]))
    services.set_decisions(batch, {}, default_existing="update", default_file="skip")
    services.run_import(batch, admin)
    assert db.session.scalar(select(Opportunity.amount)) == Decimal("50000.00")


def test_a_won_deal_is_not_changed_by_a_later_import(tmp_path, admin):
    services.run_import(_upload(admin, _deals(tmp_path, ["一期", "北京星辰科技", "5万", "成交", "", "2024-03-15", ""])),
                        admin)
    future = (local_today() + timedelta(days=30)).isoformat()
    batch = _upload(admin, _deals(tmp_path, ["一期", "北京星辰科技", "8万", "谈判中", future, "", ""]))
    services.set_decisions(batch, {}, default_existing="update", default_file="skip")
    batch = services.run_import(batch, admin)
    assert (batch.updated_count, batch.error_count) == (0, 1)
    deal = db.session.scalar(select(Opportunity))
    assert (deal.stage, deal.amount) == ("won", Decimal("50000.00"))
