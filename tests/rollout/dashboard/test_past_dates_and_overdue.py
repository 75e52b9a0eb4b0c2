"""A go-live date in the past is saved only once confirmed; overdue rollout milestones show on a lead's
home page, and the leads are reminded of them (the day after, then weekly)."""
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from rollout.accounts.models import Department
from rollout.dashboard import services
from rollout.dashboard.models import RolloutMilestone
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import local_to_utc
from tests.rollout.dashboard.dates import today


# --- a go-live date in the past ---------------------------------------------------------------------------
def test_a_past_go_live_date_is_refused_until_confirmed(company):
    finance = company["departments"]["finance"]
    past = date(2026, 3, 2)
    with pytest.raises(services.PastGoLiveToConfirm) as question:
        services.set_go_live(finance, past, today=date(2026, 3, 12))
    assert question.value.field == "go_live_on" and question.value.token == "2026-03-02"
    assert "10 days ago" in question.value.message and finance.go_live_on is None
    with pytest.raises(services.PastGoLiveToConfirm):  # confirming another date does not count
        services.set_go_live(finance, past, confirmed_past="2026-03-03", today=date(2026, 3, 12))
    services.set_go_live(finance, past, confirmed_past="2026-03-02", today=date(2026, 3, 12))
    assert finance.go_live_on == past
    # today, a later date and the date it already has are saved without asking
    services.set_go_live(finance, past, today=date(2026, 4, 1))
    services.set_go_live(finance, date(2026, 4, 1), today=date(2026, 4, 1))
    assert finance.go_live_on == date(2026, 4, 1)
    with pytest.raises(services.PastGoLiveToConfirm) as question:
        services.set_go_live(finance, date(2026, 3, 31), today=date(2026, 4, 1))
    assert "was yesterday" in question.value.message


def test_the_form_warns_about_a_past_date_and_saves_it_once_confirmed(company, client_as):
    finance = company["departments"]["finance"]
    lead = client_as("lead")
    past = (today() - timedelta(days=20)).isoformat()
    response = lead.post(f"/rollout/departments/{finance.id}/go-live", data={"go_live_on": past})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-testid="past-go-live"' in page
    assert f"{past} was 20 days ago" in page and f'name="confirm_past" value="{past}"' in page
    assert db.session.get(Department, finance.id).go_live_on is None
    response = lead.post(f"/rollout/departments/{finance.id}/go-live", data={"go_live_on": past, "confirm_past": past})
    assert response.status_code == 302
    assert db.session.get(Department, finance.id).go_live_on.isoformat() == past
    assert f"went live on {past}" in lead.get("/rollout/plan").get_data(as_text=True)


def test_a_future_date_is_saved_without_a_question(company, client_as):
    finance = company["departments"]["finance"]
    future = (today() + timedelta(days=30)).isoformat()
    response = client_as("lead").post(f"/rollout/departments/{finance.id}/go-live", data={"go_live_on": future})
    assert response.status_code == 302
    assert db.session.get(Department, finance.id).go_live_on.isoformat() == future


def test_a_forged_confirmation_of_a_bad_date_is_still_refused(company, client_as):
    finance = company["departments"]["finance"]
    response = client_as("lead").post(f"/rollout/departments/{finance.id}/go-live",
                                      data={"go_live_on": "2026-02-30", "confirm_past": "2026-02-30"})
    assert response.status_code == 422 and db.session.get(Department, finance.id).go_live_on is None


# --- overdue milestones -----------------------------------------------------------------------------------
def _milestone(title, due_on, done_on=None):
    milestone = RolloutMilestone(title=title, due_on=due_on, done_on=done_on)
    db.session.add(milestone)
    db.session.commit()
    return milestone


def test_overdue_milestones_are_those_not_done_before_today(company):
    day = date(2026, 6, 10)
    late = _milestone("数据迁移", day - timedelta(days=3))
    _milestone("培训完成", day - timedelta(days=5), done_on=day - timedelta(days=6))
    _milestone("上线评审", day)  # due today: not overdue yet
    older = _milestone("权限核对", day - timedelta(days=9))
    assert services.overdue_milestones(day) == ([older, late], 2)
    assert services.overdue_milestones(day, limit=1) == ([older], 2)


def test_the_lead_home_page_lists_overdue_milestones(company, client_as):
    _milestone("数据迁移完成", today() - timedelta(days=4))
    _milestone("已完成的事", today() - timedelta(days=4), done_on=today())
    page = client_as("lead").get("/").get_data(as_text=True)
    card = page.split('data-testid="home-overdue-milestones"')[1].split("</div></div></div>")[0]
    assert "1 rollout milestone is overdue" in card and "数据迁移完成" in card and "4 days late" in card
    assert "已完成的事" not in card and 'href="/rollout/plan"' in card and ">Overdue</span>" in card
    assert 'data-testid="home-overdue-milestones"' not in client_as("staff").get("/").get_data(as_text=True)


def test_no_card_when_nothing_is_overdue(company, client_as):
    _milestone("将来的事", today() + timedelta(days=4))
    assert 'data-testid="home-overdue-milestones"' not in client_as("lead").get("/").get_data(as_text=True)


def test_the_home_page_lists_the_longest_overdue_few(company, client_as):
    for days in range(1, 9):
        _milestone(f"里程碑{days}", today() - timedelta(days=days))
    card = client_as("lead").get("/").get_data(as_text=True).split('data-testid="home-overdue-milestones"')[1]
    assert "8 rollout milestones are overdue" in card and "里程碑8" in card and "里程碑1<" not in card
    assert "the longest overdue 5 of 8" in card


def _reminders(user=None):
    query = select(func.count()).select_from(Notification).where(
        Notification.event == services.MILESTONE_OVERDUE_EVENT)
    if user is not None:
        query = query.where(Notification.user_id == user.id)
    return db.session.scalar(query)


def test_leads_are_reminded_the_day_after_then_weekly(company):
    due = date(2026, 6, 10)
    milestone = _milestone("数据迁移", due)
    assert services.remind_overdue_milestones(due) == 0  # due today: not late yet
    assert services.remind_overdue_milestones(due + timedelta(days=1)) == 1
    db.session.commit()
    notification = db.session.scalar(select(Notification).where(
        Notification.event == services.MILESTONE_OVERDUE_EVENT))
    assert notification.user_id == company["lead"].id
    assert notification.link == f"/rollout/plan#milestone-{milestone.id}"
    assert "数据迁移" in notification.subject and "2026-06-10" in notification.subject


def _run_on(day):
    """The job as if run on ``day``: its notifications carry that day's time, not the machine's clock."""
    seen = set(db.session.scalars(select(Notification.id)))
    sent = services.remind_overdue_milestones(day)
    for notification in db.session.scalars(select(Notification).where(Notification.id.not_in(seen or {-1}))):
        notification.created_at = local_to_utc(datetime.combine(day, time(9)))
    db.session.commit()
    return sent


def test_reminders_are_not_repeated_within_a_week(company):
    due = date(2026, 6, 10)
    _milestone("数据迁移", due)
    sent = []
    for days in range(1, 16):
        day = due + timedelta(days=days)
        sent.append(_run_on(day) + _run_on(day))  # run twice a day: nobody told twice
    assert sent == [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]


def test_a_done_milestone_is_not_reminded_and_admins_stand_in_for_missing_leads(company):
    due = date(2026, 6, 10)
    _milestone("已完成", due, done_on=due)
    assert services.remind_overdue_milestones(due + timedelta(days=3)) == 0
    _milestone("未完成", due)
    lead = db.session.get(type(company["lead"]), company["lead"].id)
    lead.is_active_account = False
    db.session.commit()
    assert services.remind_overdue_milestones(due + timedelta(days=3)) == 1
    assert _reminders(company["admin"]) == 1 and _reminders(company["lead"]) == 0


def test_the_command_runs(company, runner):
    _milestone("数据迁移", today() - timedelta(days=2))
    result = runner.invoke(args=["dashboard", "remind-milestones"])
    assert result.exit_code == 0 and "Sent 1 overdue milestone reminder(s)." in result.output
    result = runner.invoke(args=["dashboard", "remind-milestones"])
    assert "Sent 0 overdue" in result.output
