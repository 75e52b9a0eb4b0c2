"""Owners of retro action items are reminded before the due date and while it is overdue, never twice a day."""
from datetime import date, timedelta

from sqlalchemy import select

from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.retros import services
from tests.rollout.retros.test_retros import make_retro

HELD = date(2026, 11, 20)
DUE = date(2026, 11, 27)


def _reminders(user) -> list[str]:
    return list(db.session.scalars(select(Notification.subject).where(
        Notification.user_id == user.id, Notification.event == "retros.action_due").order_by(Notification.id)))


def _item(company, due_on=DUE, owner="staff"):
    retro = make_retro(company["departments"]["sales1"], company["head"], held_on=HELD)
    item = services.add_action_item(retro, "清理重复客户", company[owner].id, due_on)
    db.session.commit()
    return item


def test_the_owner_hears_the_day_before_then_after_the_date_then_weekly(company):
    item = _item(company)
    staff = company["staff"]
    assert services.remind_action_items(DUE - timedelta(days=2)) == 0
    assert services.remind_action_items(DUE - timedelta(days=1)) == 1
    assert services.remind_action_items(DUE - timedelta(days=1)) == 0  # the job ran twice
    assert services.remind_action_items(DUE) == 0  # already told it is coming up
    assert services.remind_action_items(DUE + timedelta(days=1)) == 1
    for day in range(2, 8):
        assert services.remind_action_items(DUE + timedelta(days=day)) == 0
    assert services.remind_action_items(DUE + timedelta(days=8)) == 1
    # written in the owner's language: the company's (Chinese) when they chose none
    assert _reminders(staff) == ["行动项明天到期：清理重复客户", "行动项自 2026-11-27 起逾期：清理重复客户",
                                 "行动项自 2026-11-27 起逾期：清理重复客户"]
    notice = db.session.scalar(select(Notification).where(Notification.event == "retros.action_due"))
    assert notice.link == f"/retros/{item.retro_id}#actions"
    # the job's bookkeeping is not an edit in the audit trail
    assert not db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "retro_action_items",
                                                           AuditEntry.action == "update")).all()


def test_finished_unowned_undated_and_deactivated_owners_get_nothing(company):
    done = _item(company)
    services.transition_action_item(done, "finish")
    retro = done.retro
    services.add_action_item(retro, "无人负责", None, DUE)
    services.add_action_item(retro, "无日期", company["staff"].id, None)
    gone = services.add_action_item(retro, "离职员工的事", company["staff2"].id, DUE)
    company["staff2"].is_active_account = False
    db.session.commit()
    assert services.remind_action_items(DUE + timedelta(days=1)) == 0
    assert gone.reminded_on is None


def test_a_new_due_date_gets_its_own_reminder(company):
    item = _item(company)
    assert services.remind_action_items(DUE + timedelta(days=1)) == 1
    services.update_action_item(item, item.title, item.owner_id, DUE + timedelta(days=14))
    assert item.reminded_on is None
    assert services.remind_action_items(DUE + timedelta(days=2)) == 0  # not due yet
    assert services.remind_action_items(DUE + timedelta(days=14)) == 1
    company["staff"].locale = "en"
    assert _reminders(company["staff"])[-1] == "行动项今天到期：清理重复客户"
    services.update_action_item(item, item.title, item.owner_id, DUE + timedelta(days=20))
    assert services.remind_action_items(DUE + timedelta(days=19)) == 1
    assert _reminders(company["staff"])[-1] == "Action item due tomorrow: 清理重复客户"


def test_the_cron_command_reminds_and_commits(company, runner):
    _item(company, due_on=date.today() - timedelta(days=3))
    result = runner.invoke(args=["retros", "remind"])
    assert result.exit_code == 0 and "Sent 1 action item reminder(s)." in result.output
    result = runner.invoke(args=["retros", "remind"])
    assert "Sent 0 action item reminder(s)." in result.output
