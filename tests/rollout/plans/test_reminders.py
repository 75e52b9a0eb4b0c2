"""Time-driven reminders: lead response deadlines (reminder, then escalation) and the public-pool warning.

The jobs take ``now``: each test moves the clock from one fixed point instead of waiting.
"""
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from rollout.audit.services import acting_as
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.plans import reminders, services
from rollout.plans.models import Customer
from rollout.timeutil import to_local, utcnow


def notices(user, event=None) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if event:
        query = query.where(Notification.event == event)
    return list(db.session.scalars(query))


@pytest.fixture
def english(company):
    """Everyone reads English, so that the texts can be compared (one test reads Chinese)."""
    for user in company["users"].values():
        user.locale = "en"
    db.session.commit()
    return company


def hand(company, name="宏图物流有限公司", hours=48, hander=None, rep=None):
    lead = services.create_lead(company["other_staff"], name)
    with acting_as(hander):
        services.hand_lead(lead, rep or company["staff"], utcnow() + timedelta(hours=hours),
                           hander or company["other_staff"])
    db.session.commit()
    return lead


def local(value) -> str:
    return to_local(value).strftime("%Y-%m-%d %H:%M")


# --- lead deadlines ------------------------------------------------------------------------------------------
def test_a_rep_is_reminded_once_in_the_last_quarter_of_the_time_given(english):
    lead = hand(english, hours=48)  # a quarter of 48 hours: reminded from 12 hours before the deadline
    rep = english["staff"]
    assert reminders.remind_leads(now=lead.respond_by - timedelta(hours=13)).reminded == 0
    assert notices(rep, reminders.LEAD_DUE_SOON) == []
    assert reminders.remind_leads(now=lead.respond_by - timedelta(hours=11)).reminded == 1
    # The hourly job runs on: nobody is told twice.
    assert reminders.remind_leads(now=lead.respond_by - timedelta(hours=10)).reminded == 0
    assert reminders.remind_leads(now=lead.respond_by - timedelta(hours=1)).reminded == 0
    [notice] = notices(rep, reminders.LEAD_DUE_SOON)
    assert notice.subject == "Lead waiting for your answer: 宏图物流有限公司"
    assert f"by {local(lead.respond_by)} (about 11 hours left)" in notice.body_markdown
    assert "reported as overdue to whoever handed it to you and to your head" in notice.body_markdown
    assert notice.link == f"/leads?status=handed&mine=1#lead-{lead.id}"


def test_the_reminders_link_lands_on_the_lead(english, client_as):
    lead = hand(english, hours=48)
    reminders.remind_leads(now=lead.respond_by - timedelta(hours=11))
    [notice] = notices(english["staff"], reminders.LEAD_DUE_SOON)
    page = client_as("staff").get(notice.link.split("#")[0]).text
    assert f'id="lead-{lead.id}"' in page and "宏图物流有限公司" in page


def test_the_reminder_comes_at_least_two_hours_and_at_most_a_day_before(english):
    short = hand(english, "短期线索", hours=3)       # a quarter would be 45 minutes
    long = hand(english, "长期线索", hours=24 * 10)  # a quarter would be 60 hours
    assert reminders.due_soon_window(short) == timedelta(hours=2)
    assert reminders.due_soon_window(long) == timedelta(hours=24)
    assert reminders.remind_leads(now=long.respond_by - timedelta(hours=25)).reminded == 0
    assert reminders.remind_leads(now=long.respond_by - timedelta(hours=23)).reminded == 1


def test_a_lead_just_handed_over_gets_no_reminder_on_top_of_the_hand_off(english):
    lead = hand(english, hours=1.5)
    assert reminders.remind_leads(now=lead.handed_at + timedelta(minutes=30)).reminded == 0
    assert reminders.remind_leads(now=lead.handed_at + timedelta(minutes=65)).reminded == 1


def test_a_missed_deadline_goes_to_the_rep_who_handed_it_over_and_the_reps_heads_once(english, client_as):
    # 市场部's head hands over a lead their colleague recorded; the rep is in 销售一组 under 销售部's head.
    lead = hand(english, hours=5, hander=english["other_head"])
    rep, hander, head = english["staff"], english["other_head"], english["head"]
    # Five and a half hours pass (the lists that the links open filter on the real clock).
    lead.handed_at, lead.respond_by = lead.handed_at - timedelta(hours=5.5), lead.respond_by - timedelta(hours=5.5)
    db.session.commit()
    result = reminders.remind_leads()
    assert (result.reminded, result.overdue) == (0, 1)
    [told_rep] = notices(rep, reminders.LEAD_OVERDUE)
    assert told_rep.subject == "Lead overdue: 宏图物流有限公司"
    assert f"due at {local(lead.respond_by)}" in told_rep.body_markdown
    assert f"{hander.display_name} and {head.display_name} have been told" in told_rep.body_markdown
    [told_hander] = notices(hander, reminders.LEAD_ESCALATED)
    assert told_hander.subject == f"{rep.display_name} has not answered the lead 宏图物流有限公司"
    assert "hand the lead to another rep" in told_hander.body_markdown
    [told_head] = notices(head, reminders.LEAD_ESCALATED)
    assert "ask them for an answer" in told_head.body_markdown
    # Who recorded the lead did not hand it over: not told. Nor is anyone twice.
    assert notices(english["other_staff"], reminders.LEAD_ESCALATED) == []
    db.session.commit()
    assert reminders.remind_leads().overdue == 0
    assert reminders.remind_leads(now=lead.respond_by + timedelta(hours=5)).overdue == 0
    assert len(notices(head)) == 1 and len(notices(hander, reminders.LEAD_ESCALATED)) == 1
    # Each link opens a page, for its reader, that lists the overdue lead.
    for user, notice in (("staff", told_rep), ("other_head", told_hander), ("head", told_head)):
        response = client_as(user).get(urlsplit(notice.link)._replace(fragment="").geturl())
        assert response.status_code == 200 and "宏图物流有限公司" in response.text, user


def test_without_a_recorded_hand_over_the_lead_goes_back_to_who_recorded_it(english):
    lead = hand(english, hours=5)  # handed outside a request: the trail names nobody
    reminders.remind_leads(now=lead.respond_by + timedelta(hours=1))
    assert len(notices(english["other_staff"], reminders.LEAD_ESCALATED)) == 1


def test_an_answered_lead_and_long_missed_deadlines_are_not_announced(english):
    answered = hand(english, "已接收线索", hours=5)
    services.accept_lead(answered, english["staff"])
    old = hand(english, "陈年线索", hours=5)
    db.session.commit()
    result = reminders.remind_leads(now=old.respond_by + reminders.LEAD_OVERDUE_LOOKBACK + timedelta(hours=1))
    assert (result.reminded, result.overdue) == (0, 0)
    assert reminders.remind_leads(now=answered.respond_by + timedelta(hours=1)).overdue == 1  # only 陈年线索
    assert [n.subject for n in notices(english["staff"], reminders.LEAD_OVERDUE)] == ["Lead overdue: 陈年线索"]


def test_a_lead_handed_over_again_is_reminded_and_reported_again(english):
    lead = hand(english, hours=5)
    reminders.remind_leads(now=lead.respond_by + timedelta(hours=1))
    services.reject_lead(lead, english["staff"], "不是目标客户")
    services.hand_lead(lead, english["staff2"], utcnow() + timedelta(hours=8), english["other_staff"])
    db.session.commit()
    assert reminders.remind_leads(now=lead.respond_by - timedelta(hours=1)).reminded == 1
    assert reminders.remind_leads(now=lead.respond_by + timedelta(hours=1)).overdue == 1
    assert len(notices(english["staff2"], reminders.LEAD_DUE_SOON)) == 1
    assert len(notices(english["staff2"], reminders.LEAD_OVERDUE)) == 1
    assert len(notices(english["staff"], reminders.LEAD_OVERDUE)) == 1


def test_each_reader_gets_the_reminder_in_their_own_language(english):
    english["staff"].locale = "zh_CN"
    lead = hand(english, hours=5, hander=english["other_head"])
    reminders.remind_leads(now=lead.respond_by + timedelta(hours=1))
    [notice] = notices(english["staff"], reminders.LEAD_OVERDUE)
    assert notice.subject == "线索已超时：宏图物流有限公司"
    assert f"已通知{english['other_head'].display_name}和{english['head'].display_name}。" in notice.body_markdown
    assert notices(english["other_head"])[0].subject.startswith(english["staff"].display_name + " has not")


def test_remind_leads_command_reports_what_it_did(english, runner):
    hand(english, hours=1)
    result = runner.invoke(args=["plans", "remind-leads"])
    assert result.exit_code == 0, result.output
    assert "0 leads due soon reminded; 0 leads overdue reported." in result.output


# --- the public pool warning -------------------------------------------------------------------------------
def owned(company, name, idle_days, owner="staff", at=None):
    customer = services.create_customer(name, company[owner])
    customer.last_followup_at = (at or utcnow()) - timedelta(days=idle_days)
    db.session.commit()
    return customer


def test_owners_are_warned_three_days_ahead_in_one_notice_each_once(english):
    now = utcnow()
    soon = owned(english, "甲公司", 28, at=now)                # returns in 2 days
    later = owned(english, "乙公司", 26, at=now)               # returns in 4 days
    dealing = owned(english, "丙公司", 28, at=now)             # a deal keeps it with its rep
    services.create_opportunity(dealing, english["staff"], "丙公司 项目", "1000")
    also = owned(english, "丁公司", 29, owner="staff2", at=now)
    db.session.commit()
    assert reminders.warn_pool(now=now) == 2
    [mine] = notices(english["staff"], reminders.POOL_WARNING)
    assert mine.subject == "1 customer returns to the public pool soon"
    assert f"[甲公司](/customers/{soon.id}): {local(soon.last_followup_at + timedelta(days=30))}" in mine.body_markdown
    assert "乙公司" not in mine.body_markdown and "丙公司" not in mine.body_markdown
    assert mine.link == "/customers?sort=last_followup"
    assert "丁公司" in notices(english["staff2"], reminders.POOL_WARNING)[0].body_markdown
    # The same day again: nothing. Two days on: only the customer that has now come close.
    assert reminders.warn_pool(now=now + timedelta(hours=6)) == 0
    assert reminders.warn_pool(now=now + timedelta(days=2)) == 1
    latest = notices(english["staff"], reminders.POOL_WARNING)[-1]
    assert f"[乙公司](/customers/{later.id})" in latest.body_markdown and "甲公司" not in latest.body_markdown


def test_a_follow_up_after_the_warning_starts_a_new_idle_spell(english):
    now = utcnow()
    customer = owned(english, "甲公司", 28, at=now)
    assert reminders.warn_pool(now=now) == 1
    services.log_activity(customer, english["staff"], "call", now - timedelta(minutes=5), "约了下周拜访")
    db.session.commit()
    assert reminders.warn_pool(now=now + timedelta(days=1)) == 0   # no longer close to the pool
    assert reminders.warn_pool(now=now + timedelta(days=27)) == 1  # close again, 27 days on
    assert len(notices(english["staff"], reminders.POOL_WARNING)) == 2


def test_many_customers_are_listed_up_to_a_limit_and_counted(english):
    now = utcnow()
    for number in range(reminders.POOL_WARNING_LISTED + 3):
        owned(english, f"客户{number:02d}有限公司", 28, at=now)
    assert reminders.warn_pool(now=now) == reminders.POOL_WARNING_LISTED + 3
    [notice] = notices(english["staff"], reminders.POOL_WARNING)
    assert notice.subject == f"{reminders.POOL_WARNING_LISTED + 3} customers return to the public pool soon"
    assert notice.body_markdown.count("](/customers/") == reminders.POOL_WARNING_LISTED
    assert "and 3 more" in notice.body_markdown


def test_a_short_pool_period_warns_in_its_last_quarter_and_a_very_short_one_not_at_all(english):
    services.save_settings(english["departments"]["sales2"].id, 7, 5, 10)
    services.save_settings(english["departments"]["sales1"].id, 3, 5, 10)
    assert [reminders.pool_warning_days(d) for d in (30, 12, 7, 3, 1)] == [3, 3, 1, 0, 0]
    now = utcnow()
    owned(english, "七天公司", 6.5, owner="staff2", at=now)
    owned(english, "三天公司", 2.5, at=now)
    db.session.commit()
    assert reminders.warn_pool(now=now) == 1
    assert notices(english["staff"], reminders.POOL_WARNING) == []


def test_the_release_pool_command_also_warns(english, runner):
    owned(english, "甲公司", 28)
    owned(english, "乙公司", 45)
    result = runner.invoke(args=["plans", "release-pool"])
    assert result.exit_code == 0, result.output
    assert "1 customer returned to the public pool; owners warned of 1 customer returning soon." in result.output
    result = runner.invoke(args=["plans", "release-pool"])
    assert "0 customers returned to the public pool; owners warned of 0 customers returning soon." in result.output


# --- the customer page -----------------------------------------------------------------------------------------
def test_pool_clock_gives_the_time_the_rule_acts_at(english):
    now = utcnow()
    customer = owned(english, "甲公司", 10, at=now)
    clock = reminders.pool_clock(customer, english["staff"], now=now)
    assert clock.returns_at == customer.last_followup_at + timedelta(days=30) and not clock.is_due_soon
    assert reminders.pool_clock(customer, english["staff"], now=now + timedelta(days=18)).is_due_soon
    services.create_opportunity(customer, english["staff"], "项目", "1000")
    assert reminders.pool_clock(customer, english["staff"], now=now).is_held_by_deal
    other = owned(english, "乙公司", 1, at=now)
    services.release_to_pool(other)
    db.session.commit()
    clock = reminders.pool_clock(other, english["staff"])
    assert clock.returns_at is None and clock.claim_back_at > utcnow() + timedelta(days=6)
    assert reminders.pool_clock(other, english["staff2"]).claim_back_at is None


def test_customer_page_shows_date_and_time_of_the_return_to_the_pool(english, client_as):
    customer = owned(english, "甲公司", 28)
    page = client_as("staff").get(f"/customers/{customer.id}").text
    when = local(customer.last_followup_at + timedelta(days=30))
    assert f"Returns to the public pool if there is no follow-up by {when}" in page
    assert 'data-testid="pool-clock" class="text-danger' in page  # within the warning period
