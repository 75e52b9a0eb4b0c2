"""A customer brought in by an import is last followed up when its imported follow-ups say, not at the moment
of the import: the customer list and the pool's clock read the real date, and a real newer follow-up, claim or
transfer is never moved back."""
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from rollout.extensions import db
from rollout.imports import services
from rollout.plans import services as plans
from rollout.plans.models import Customer
from rollout.timeutil import local_to_utc, local_today, utcnow
from tests.rollout.imports.helpers import upload, write_csv

HEADER = ["客户名称", "跟进人", "跟进方式", "跟进日期", "跟进内容"]


def _noon(days_ago: int) -> datetime:
    return local_to_utc(datetime.combine(local_today() - timedelta(days=days_ago), time(12)))


@pytest.fixture
def admin(tmp_path, company):
    admin = company["admin"]
    services.run_import(upload(admin, write_csv(tmp_path, [["客户名称", "负责人"], ["北京星辰科技", "staff"],
                                                           ["上海云帆", "staff"]], name="customers.csv")), admin)
    db.session.commit()
    return admin


def _follow_ups(admin, tmp_path, *rows, name="activities.csv"):
    rows = [[customer, "staff", "电话", (local_today() - timedelta(days=days)).isoformat(), f"电话{days}"]
            for customer, days in rows]
    batch = services.run_import(upload(admin, write_csv(tmp_path, [HEADER, *rows], name=name),
                                       target="activities"), admin)
    db.session.commit()
    assert batch.error_count == 0
    return batch


def _clock(name):
    db.session.expire_all()
    return db.session.scalar(select(Customer.last_followup_at).where(Customer.name == name))


def test_imported_follow_ups_set_the_last_follow_up_of_imported_customers(admin, tmp_path, client_as):
    _follow_ups(admin, tmp_path, ("北京星辰科技", 120), ("北京星辰科技", 90), ("北京星辰科技", 200))
    assert _clock("北京星辰科技") == _noon(90)
    assert _clock("上海云帆") > utcnow() - timedelta(hours=1)  # no follow-ups imported: the import's time
    # A later import of older ones leaves it; of newer ones moves it forward.
    _follow_ups(admin, tmp_path, ("北京星辰科技", 150), name="older.csv")
    assert _clock("北京星辰科技") == _noon(90)
    _follow_ups(admin, tmp_path, ("北京星辰科技", 40), name="newer.csv")
    assert _clock("北京星辰科技") == _noon(40)
    # The pool's clock is that date: under a rule shorter than 40 days the customer goes back to the pool.
    assert _pool_days() < 40
    released = {customer.name for customer in plans.release_pool(limit=None)}
    assert "北京星辰科技" in released and "上海云帆" not in released


def _pool_days():
    return plans.settings_for(None).pool_release_days


def test_a_real_newer_follow_up_is_never_moved_back(admin, tmp_path, company):
    customer = db.session.scalar(select(Customer).where(Customer.name == "北京星辰科技"))
    real = plans.log_activity(customer, company["staff"], "visit", utcnow() - timedelta(days=2), "上门拜访")
    db.session.commit()
    _follow_ups(admin, tmp_path, ("北京星辰科技", 60))
    assert _clock("北京星辰科技") == real.occurred_at  # the latest follow-up is the rep's, two days ago


def test_a_claim_or_transfer_after_the_import_is_kept(admin, tmp_path, company):
    customer = db.session.scalar(select(Customer).where(Customer.name == "北京星辰科技"))
    plans.transfer_customer(customer, company["staff2"], company["head"])
    db.session.commit()
    transferred = _clock("北京星辰科技")
    _follow_ups(admin, tmp_path, ("北京星辰科技", 60))
    assert _clock("北京星辰科技") == transferred


def test_a_customer_created_by_hand_keeps_its_clock(admin, tmp_path, company):
    plans.create_customer("广州ＡＢＣ贸易", company["staff"])
    db.session.commit()
    created = _clock("广州ABC贸易") or _clock("广州ＡＢＣ贸易")
    _follow_ups(admin, tmp_path, ("广州ＡＢＣ贸易", 60))
    assert (_clock("广州ABC贸易") or _clock("广州ＡＢＣ贸易")) == created


def test_the_customer_list_shows_the_imported_date(admin, tmp_path, client_as):
    _follow_ups(admin, tmp_path, ("北京星辰科技", 90))
    html = client_as("admin").get("/customers").get_data(as_text=True)
    row = html.split("北京星辰科技", 2)[-1].split("</tr>", 1)[0]
    assert (local_today() - timedelta(days=90)).isoformat() in row
