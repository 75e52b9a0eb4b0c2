"""Adoption figures counted by the database: weekly active people per home department, and use before
and after training split at the right week."""
from datetime import date, datetime, time, timedelta

from sqlalchemy import insert

from rollout.audit.models import AuditEntry
from rollout.dashboard import services
from rollout.extensions import db
from rollout.timeutil import local_to_utc, local_today

TODAY = local_today()
MONDAY = TODAY - timedelta(days=TODAY.weekday())


def _login(user, day: date, hour: int = 9):
    db.session.execute(insert(AuditEntry), [{"created_at": local_to_utc(datetime.combine(day, time(hour))),
                                             "user_id": user.id, "username": user.username, "action": "login",
                                             "entity": "session", "entity_id": user.username}])


def test_weekly_active_people_count_under_their_home_department(company, factory):
    departments = company["departments"]
    closed = factory.user("staff", department=departments["sales1"], username="closed")
    closed.is_active_account = False
    for user in (company["staff"], company["staff2"], company["head"], closed):  # teams, department, closed
        _login(user, MONDAY)
        _login(user, MONDAY, hour=15)
    _login(company["other_staff"], MONDAY - timedelta(weeks=2))
    _login(company["staff"], MONDAY - timedelta(weeks=services.WEEKS_SHOWN))  # before the chart starts
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
