"""Adoption figures counted by the database: weekly active people per home department, and use before
and after training split at the right week."""
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import insert

from rollout.audit.models import AuditEntry
from rollout.dashboard import services
from rollout.extensions import db
from rollout.timeutil import local_to_utc
from tests.rollout.dashboard.dates import monday, today


def _login(user, day: date, hour: int = 9):
    db.session.execute(insert(AuditEntry), [{"created_at": local_to_utc(datetime.combine(day, time(hour))),
                                             "user_id": user.id, "username": user.username, "action": "login",
                                             "entity": "session", "entity_id": user.username}])


def test_weekly_active_people_count_under_their_home_department(company, factory):
    departments = company["departments"]
    closed = factory.user("staff", department=departments["sales1"], username="closed")
    closed.is_active_account = False
    for user in (company["staff"], company["staff2"], company["head"], closed):  # teams, department, closed
        _login(user, monday())
        _login(user, monday(), hour=15)
    _login(company["other_staff"], monday() - timedelta(weeks=2))
    _login(company["staff"], monday() - timedelta(weeks=services.WEEKS_SHOWN))  # before the chart starts
    db.session.commit()
    data = {d.department.id: d for d in services.adoption().departments}
    assert data[departments["sales"].id].active_users == [0] * (services.WEEKS_SHOWN - 1) + [3]
    marketing = data[departments["marketing"].id].active_users
    assert marketing[-3] == 1 and sum(marketing) == 1
    assert sum(data[departments["finance"].id].active_users) == 0


def test_use_before_and_after_training_splits_at_whole_weeks():
    starts = [date(2026, 10, 5) + timedelta(weeks=n) for n in range(4)]
    trained_mid_week = services.RepUsage(1, "甲", 1, [1, 2, 3, 4], trained_on=date(2026, 10, 14))
    trained_on_monday = services.RepUsage(2, "乙", 1, [5, 6, 7, 8], trained_on=date(2026, 10, 19))
    untrained = services.RepUsage(3, "丙", 1, [9, 9, 9, 9])
    # 甲: week 1 ended 10-12 (before), the week of 10-12…10-18 is neither, after: weeks from 10-19.
    # 乙: weeks of 10-05 and 10-12 ended by 10-19 (before); after: the week starting 10-26.
    before, after = services._before_after([trained_mid_week, trained_on_monday, untrained], starts)
    assert before == round((1 + (5 + 6) / 2) / 2, 1)
    assert after == round(((3 + 4) / 2 + 8) / 2, 1)
    assert services._before_after([untrained], starts) == (None, None)


def test_home_figures_over_the_ranking_weeks_equal_the_full_adoption(company, client_as):
    pytest.importorskip("rollout.plans.models")
    from rollout.plans.models import Activity
    from rollout.plans.services import create_customer
    staff, staff2 = company["staff"], company["staff2"]
    customer = create_customer("北京示例贸易有限公司", staff, check_duplicates=False)
    for weeks_ago, user, count in ((0, staff, 3), (2, staff2, 5), (3, staff, 2), (5, staff, 7), (6, staff2, 1)):
        at = local_to_utc(datetime.combine(monday() - timedelta(weeks=weeks_ago), time(10)))
        db.session.add_all([Activity(kind="call", user_id=user.id, department_id=user.department_id,
                                     customer_id=customer.id, occurred_at=at, created_at=at) for _ in range(count)])
        _login(user, monday() - timedelta(weeks=weeks_ago))
    db.session.commit()
    full = {d.department.id: d for d in services.adoption().departments}
    short = {d.department.id: d for d in services.adoption(weeks=services.RANKING_WEEKS).departments}
    assert set(full) == set(short)
    for department_id, entry in full.items():
        assert (short[department_id].active_users[-1], short[department_id].people,
                short[department_id].entries_per_rep_per_week, short[department_id].is_on_target) == (
            entry.active_users[-1], entry.people, entry.entries_per_rep_per_week, entry.is_on_target)
    sales = full[company["departments"]["sales"].id]
    weeks = services.RANKING_WEEKS - 1 + services.this_weeks_share(today())
    assert sales.entries_per_rep_per_week == round((3 + 5 + 2) / 2 / weeks, 1)
    assert sales.active_users[-1] == 1
    home = client_as("lead").get("/").get_data(as_text=True).split('data-testid="home-adoption"')[1]
    assert f"{sales.entries_per_rep_per_week}" in home
    # A head's dashboard reads only its department's logins and entries: the same figures.
    scoped = services.adoption({company["departments"]["sales"].id}).departments[0]
    assert (scoped.active_users, [(r.user_id, r.weekly) for r in scoped.ranking], scoped.before_after) == (
        sales.active_users, [(r.user_id, r.weekly) for r in sales.ranking], sales.before_after)
