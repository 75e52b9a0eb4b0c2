"""The public-pool warning names each customer once per idle spell, whatever the owner was told about others."""
from datetime import timedelta

from rollout.accounts.models import UserRole
from rollout.extensions import db
from rollout.plans import reminders, services
from rollout.timeutil import to_local, utcnow
from tests.rollout.plans.test_reminders import english, notices, owned  # noqa: F401  (fixture)


def test_a_customer_freed_from_a_lost_deal_is_warned_though_its_owner_was_warned_of_another(english):
    now = utcnow()
    other = owned(english, "甲公司", 28, at=now)                  # returns in 2 days: warned now
    held = owned(english, "乙公司", 29, at=now)                   # idle as long, but a deal keeps it
    deal = services.create_opportunity(held, english["staff"], "乙公司 项目", "1000")
    db.session.commit()
    assert reminders.warn_pool(now=now) == 1
    [first] = notices(english["staff"], reminders.POOL_WARNING)
    assert f"/customers/{other.id})" in first.body_markdown and "乙公司" not in first.body_markdown
    # Half a day later the deal is lost (not a churn): nothing holds 乙公司 any more.
    reason = services.save_lost_reason(None, "预算不足", is_churn=False)
    services.move_stage(deal, "lost", english["staff"], lost_reason_id=reason.id)
    db.session.commit()
    assert reminders.warn_pool(now=now + timedelta(hours=12)) == 1
    latest = notices(english["staff"], reminders.POOL_WARNING)[-1]
    assert f"[乙公司](/customers/{held.id})" in latest.body_markdown and "甲公司" not in latest.body_markdown
    # Each once: the next run tells nobody again.
    assert reminders.warn_pool(now=now + timedelta(hours=18)) == 0


def test_a_new_owner_is_warned_of_a_customer_its_former_owner_was_warned_of(english):
    now = utcnow()
    customer = owned(english, "甲公司", 28, at=now)
    assert reminders.warn_pool(now=now) == 1
    # Given to another rep without resetting the clock (as an import of owners does).
    customer.owner_id = english["staff2"].id
    db.session.commit()
    owned(english, "丙公司", 28, owner="staff2", at=now - timedelta(hours=1))
    assert reminders.warn_pool(now=now + timedelta(hours=1)) == 2
    [notice] = notices(english["staff2"], reminders.POOL_WARNING)
    assert "甲公司" in notice.body_markdown and "丙公司" in notice.body_markdown


def test_a_shorter_pool_period_warns_of_customers_it_brings_forward(english):
    now = utcnow()
    owned(english, "甲公司", 28, at=now)
    later = owned(english, "乙公司", 12, at=now)   # 18 days left under 30 days
    assert reminders.warn_pool(now=now) == 1
    # The head shortens the department's period to 14 days: 乙公司 now returns in 2 days.
    services.save_settings(english["departments"]["sales"].id, 14, 5, 10)
    db.session.commit()
    assert reminders.warn_pool(now=now + timedelta(hours=2)) == 1
    assert f"[乙公司](/customers/{later.id})" in notices(english["staff"], reminders.POOL_WARNING)[-1].body_markdown


def test_customers_beyond_the_listed_ones_are_named_in_the_next_warning(english):
    now = utcnow()
    for number in range(reminders.POOL_WARNING_LISTED + 2):
        owned(english, f"客户{number:02d}有限公司", 28, at=now)
    assert reminders.warn_pool(now=now) == reminders.POOL_WARNING_LISTED + 2
    # The two counted but not named are named the next day; the named ones are not repeated.
    assert reminders.warn_pool(now=now + timedelta(days=1)) == 2
    latest = notices(english["staff"], reminders.POOL_WARNING)[-1]
    assert latest.body_markdown.count("](/customers/") == 2


def test_each_line_reads_as_its_reader_writes_a_name_and_a_time(english):
    english["staff2"].locale = "zh_CN"
    now = utcnow()
    mine = owned(english, "常州青松精密机械有限公司", 28, at=now)
    theirs = owned(english, "苏州明达", 28, owner="staff2", at=now)
    assert reminders.warn_pool(now=now) == 2
    when = to_local(mine.last_followup_at + timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    english_body = notices(english["staff"], reminders.POOL_WARNING)[0].body_markdown
    assert f"- [常州青松精密机械有限公司](/customers/{mine.id}): {when}" in english_body
    chinese_body = notices(english["staff2"], reminders.POOL_WARNING)[0].body_markdown
    when = to_local(theirs.last_followup_at + timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    assert f"- [苏州明达](/customers/{theirs.id})：{when}" in chinese_body


def test_the_warning_opens_the_owners_list_with_the_due_customers_first(english, client_as):
    now = utcnow()
    owned(english, "新跟进公司", 1, at=now)
    due = owned(english, "将退回公司", 28, at=now)
    owned(english, "刚建公司", 0, at=now)
    reminders.warn_pool(now=now)
    [notice] = notices(english["staff"], reminders.POOL_WARNING)
    page = client_as("staff").get(notice.link).text
    rows = [name for name in ("将退回公司", "新跟进公司", "刚建公司") if name in page]
    assert sorted(rows, key=page.index) == ["将退回公司", "新跟进公司", "刚建公司"]
    assert f"/customers/{due.id}" in page
    # The rep sees what the list is ordered by: the heading of the last follow-up is marked as sorted.
    assert 'aria-sort="ascending"' in page and 'data-sort="last_followup"' in page


def test_a_head_who_owns_customers_is_linked_to_their_own_where_the_owner_filter_shows_it(english, client_as):
    head = english["head"]
    assert reminders.pool_warning_link(english["staff"]) == "/customers?sort=last_followup"
    assert reminders.pool_warning_link(head) == "/customers?sort=last_followup"  # the filter offers reps only
    head.role_rows.append(UserRole(role="staff"))
    db.session.commit()
    link = reminders.pool_warning_link(head)
    assert link == f"/customers?sort=last_followup&owner_id={head.id}"
    assert f'<option value="{head.id}" selected>' in client_as("head").get(link).text


def test_a_customer_past_its_pool_time_reads_as_due_now_not_as_a_date_long_gone(english, client_as):
    now = utcnow()
    imported = owned(english, "导入老客户", 120, at=now)   # its last follow-up months ago, as an import left it
    clock = reminders.pool_clock(imported, english["staff"], now=now)
    assert clock.is_overdue and clock.is_due_soon
    page = client_as("staff").get(f"/customers/{imported.id}").text
    assert "Overdue for a follow-up: returns to the public pool at the next sweep unless one is logged now" in page
    assert "Returns to the public pool if there is no follow-up by" not in page
    # A follow-up puts it back on the clock.
    services.log_activity(imported, english["staff"], "call", now - timedelta(minutes=1), "约了拜访")
    db.session.commit()
    assert not reminders.pool_clock(imported, english["staff"]).is_overdue
    assert "Returns to the public pool if there is no follow-up by" in client_as("staff").get(
        f"/customers/{imported.id}").text
