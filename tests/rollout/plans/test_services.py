"""Sales-plan rules: duplicates, the public pool, follow-ups, quote approval, deal stages, plans and plan vs actual."""
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update

from rollout.audit.models import AuditEntry
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.plans import services
from rollout.plans.models import Customer, Lead, PlanRevision, Quote, SalesPlan, StageChange
from rollout.timeutil import local_today, utcnow


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def notifications_of(user) -> list[str]:
    return list(db.session.scalars(select(Notification.subject).where(Notification.user_id == user.id)))


# --- amounts --------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, message", [
    ("12.345", "two decimal places"), ("-1", "negative"), ("abc", "not an amount"), ("", "required"),
    ("NaN", "not an amount"), ("1000000000000000", "too large"),
    # Exponents are how a program writes numbers, not a person: 1e9 typed for ¥1,000,000,000 is a slip.
    ("1e9", "not an amount"), ("1E+30", "not an amount"), ("9.5e27", "not an amount"),
])
def test_bad_amounts_are_refused_with_a_clear_message(value, message):
    with pytest.raises(ServiceError, match=message):
        services.parse_amount(value)


def test_amounts_are_decimals_with_two_places():
    assert services.parse_amount("1,234.5") == Decimal("1234.50")
    assert services.parse_amount(0.1) == Decimal("0.10")  # a float's repr, not its binary noise
    assert services.net_amount(Decimal("999.99"), Decimal("15")) == Decimal("849.99")


# --- customers and duplicates (撞单) ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["!!!", "有限公司", "股份有限公司", "Co., Ltd.", "（ ）"])
def test_a_customer_name_says_more_than_punctuation_or_a_legal_form(company, name):
    with pytest.raises(ServiceError, match="not only punctuation or a legal form") as refused:
        services.create_customer(name, company["staff"])
    assert refused.value.field == "name"
    customer = services.create_customer("IBM", company["staff"])  # short is fine
    with pytest.raises(ServiceError, match="legal form"):
        services.update_customer(customer, company["staff"], name=name)


def test_duplicate_customer_is_refused_naming_the_owners_department(company):
    services.create_customer("上海明远机械有限公司", company["staff"], phone="138 0013 8000")
    db.session.commit()
    with pytest.raises(ServiceError, match="销售一组"):
        services.create_customer("上海明远机械", company["staff2"])
    with pytest.raises(ServiceError, match="销售一组"):
        services.create_customer("完全不同的公司", company["staff2"], phone="+86 13800138000")
    with pytest.raises(ServiceError, match="You already have 上海明远机械有限公司"):
        services.create_customer("上海明远机械", company["staff"])  # the owner typing it again
    db.session.rollback()
    assert count(Customer) == 1


def test_customer_bad_phone_and_email_are_refused(company):
    with pytest.raises(ServiceError, match="phone"):
        services.create_customer("甲公司", company["staff"], phone="12")
    with pytest.raises(ServiceError, match="phone"):
        services.create_customer("甲公司", company["staff"], phone="12345")  # possible, but nobody's number
    typed = services.create_customer("乙公司", company["staff"], phone="+86 138-0013-8000")
    assert typed.phone == "13800138000"  # stored as imports store it
    with pytest.raises(ServiceError, match="email"):
        services.create_customer("甲公司", company["staff"], email="nobody")


def test_custom_fields_are_validated_by_kind(company):
    fields = [
        services.save_field(None, "size", "企业规模", "choice", "小\n中\n大", is_required=True),
        services.save_field(None, "revenue", "年营收", "number", "", is_required=False),
        services.save_field(None, "focus", "关注点", "multi_choice", ["价格", "服务"], is_required=False),
        services.save_field(None, "since", "合作起始", "date", "", is_required=False),
    ]
    with pytest.raises(ServiceError) as missing:
        services.clean_extra({}, fields)
    assert missing.value.field == "x_size"
    with pytest.raises(ServiceError, match="options"):
        services.clean_extra({"size": "巨大"}, fields)
    with pytest.raises(ServiceError, match="number"):
        services.clean_extra({"size": "小", "revenue": "很多"}, fields)
    with pytest.raises(ServiceError, match="date"):
        services.clean_extra({"size": "小", "since": "2026-13-01"}, fields)
    assert services.clean_extra({"size": "中", "revenue": "1,000.5", "focus": ["价格", "服务"],
                                 "since": "2025-01-02"}, fields) == {
        "size": "中", "revenue": "1000.5", "focus": ["价格", "服务"], "since": "2025-01-02"}
    with pytest.raises(ServiceError, match="lowercase"):
        services.save_field(None, "Bad Key", "x", "text", "", False)


# --- public pool ---------------------------------------------------------------------------------------------
def test_customers_without_follow_up_return_to_the_pool_and_the_owner_is_told(company):
    services.save_settings(company["departments"]["sales"].id, pool_release_days=10, daily_claim_cap=2,
                           behind_margin_percent=10)
    stale = services.create_customer("久未跟进公司", company["staff"], last_followup_at=utcnow() - timedelta(days=11))
    fresh = services.create_customer("刚跟进公司", company["staff"], last_followup_at=utcnow() - timedelta(days=5))
    released = services.release_pool()
    assert released == [stale]
    assert stale.is_in_pool and stale.owner_id is None and stale.department_id == company["departments"]["sales1"].id
    assert not fresh.is_in_pool
    # in the owner's language: none chosen, so the company's (Chinese)
    assert any("已退回公海" in subject for subject in notifications_of(company["staff"]))


def test_a_limited_sweep_releases_the_longest_idle_due_customers_first(company):
    # 销售部 waits 10 days, 市场部 the default 30: the 20-day-idle marketing customer is not due,
    # however long idle it is next to the sales ones, so it never takes a place in the limit.
    services.save_settings(company["departments"]["sales"].id, 10, 5, 10)
    marketing = services.create_customer("市场部客户", company["other_staff"],
                                         last_followup_at=utcnow() - timedelta(days=20))
    due = [services.create_customer(f"久未跟进{days}", company["staff"], last_followup_at=utcnow() - timedelta(days=days))
           for days in (11, 15, 13)]
    assert services.release_pool(limit=2) == [due[1], due[2]]
    assert services.release_pool(limit=2) == [due[0]]
    assert services.release_pool(limit=2) == [] and not marketing.is_in_pool
    sales_scope = {company["departments"]["sales"].id, company["departments"]["sales1"].id}
    marketing.last_followup_at = utcnow() - timedelta(days=31)
    assert services.release_pool(department_ids=sales_scope) == []
    assert services.release_pool(department_ids=set()) == []
    assert services.release_pool() == [marketing]


def test_claims_stop_at_the_daily_cap(company):
    services.save_settings(company["departments"]["sales"].id, 30, 1, 10)
    first = services.create_customer("公海甲", company["head"], in_pool=True,
                                     department_id=company["departments"]["sales"].id)
    second = services.create_customer("公海乙", company["head"], in_pool=True,
                                      department_id=company["departments"]["sales"].id)
    services.claim_customer(first, company["staff2"])
    assert first.owner_id == company["staff2"].id and not first.is_in_pool
    with pytest.raises(ServiceError, match="limit of 1"):
        services.claim_customer(second, company["staff2"])
    assert second.is_in_pool


def test_claim_refuses_a_customer_someone_else_already_chases(company):
    pooled = services.create_customer("华瑞电子有限公司", company["head"], in_pool=True,
                                      department_id=company["departments"]["sales"].id)
    other = services.create_customer("另一家", company["staff"])
    # The same company was entered again under a slightly different name (an old import, say).
    other.name, other.name_key = "华瑞电子", "华瑞电子"
    db.session.flush()
    with pytest.raises(ServiceError, match="销售一组"):
        services.claim_customer(pooled, company["staff2"])
    assert pooled.is_in_pool


def test_a_customer_with_a_deal_in_progress_stays_with_its_rep(company):
    services.save_settings(company["departments"]["sales"].id, 10, 5, 10)
    negotiating = services.create_customer("谈判中公司", company["staff"], last_followup_at=utcnow() - timedelta(days=40))
    deal = services.create_opportunity(negotiating, company["staff"], "年度合同", "370000")
    services.move_stage(deal, "negotiating", company["staff"])
    finished = services.create_customer("已成交公司", company["staff"], last_followup_at=utcnow() - timedelta(days=40))
    services.create_opportunity(finished, company["staff"], "一期", "1000").stage = "won"
    assert services.release_pool() == [finished]
    assert not negotiating.is_in_pool and negotiating.owner_id == company["staff"].id
    with pytest.raises(ServiceError, match="deal in progress"):
        services.release_to_pool(negotiating)
    assert not negotiating.is_in_pool


def test_a_claimed_customer_brings_its_open_deals_and_its_last_owner_waits_to_claim_it_back(company):
    customer = services.create_customer("宁波联科物流", company["staff"])
    deal = services.create_opportunity(customer, company["staff"], "仓储系统", "370000")
    signed = services.create_opportunity(customer, company["staff"], "旧项目", "1000")
    signed.stage = deal.stage = "won"
    services.release_to_pool(customer)
    with pytest.raises(ServiceError, match="you may claim it again from"):
        services.claim_customer(customer, company["staff"])
    assert customer.is_in_pool
    # A deal left open by older data goes with the customer to whoever claims it.
    deal.stage = "negotiating"
    db.session.flush()
    services.claim_customer(customer, company["staff2"])
    assert customer.owner_id == deal.owner_id == company["staff2"].id
    assert deal.department_id == company["departments"]["sales2"].id and signed.owner_id == company["staff"].id
    # A week later the first owner may claim it back, had it returned to the pool.
    deal.stage = "won"
    services.release_to_pool(customer)
    returned = db.session.scalars(select(services.CustomerAssignment).where(
        services.CustomerAssignment.kind == "release")).all()
    for row in returned:
        row.created_at -= timedelta(days=services.CLAIM_BACK_DAYS)
    db.session.flush()
    services.claim_customer(customer, company["staff"])
    assert customer.owner_id == company["staff"].id


def test_release_pool_command(company, runner):
    services.create_customer("久未跟进公司", company["staff"], last_followup_at=utcnow() - timedelta(days=400))
    db.session.commit()
    result = runner.invoke(args=["plans", "release-pool"])
    assert result.exit_code == 0, result.output
    assert "1 customer returned" in result.output
    assert db.session.scalar(select(Customer.is_in_pool)) is True
    # the job speaks English, but the note it stores is read in the company's language
    note = db.session.scalar(select(services.CustomerAssignment.note).where(
        services.CustomerAssignment.kind == "release"))
    assert note.endswith("天未跟进"), note


# --- follow-ups ---------------------------------------------------------------------------------------------------
def test_follow_up_records_server_time_and_refuses_the_future(company):
    customer = services.create_customer("甲公司", company["staff"], last_followup_at=utcnow() - timedelta(days=3))
    occurred = utcnow() - timedelta(days=2)
    activity = services.log_activity(customer, company["staff"], "visit", occurred, "谈得不错", "发报价",
                                     local_today() - timedelta(days=1), created_at=None)
    assert activity.created_at >= occurred and customer.last_followup_at == occurred
    assert services.overdue_next_steps(company["staff"]) == [activity]
    assert services.overdue_next_steps(company["staff2"]) == []
    with pytest.raises(ServiceError, match="future"):
        services.log_activity(customer, company["staff"], "call", utcnow() + timedelta(days=1))
    with pytest.raises(ServiceError, match="Unknown kind"):
        services.log_activity(customer, company["staff"], "dinner", occurred)
    with pytest.raises(ServiceError, match="between"):
        services.log_activity(customer, company["staff"], "call", datetime(1999, 1, 1))
    services.update_activity(activity, is_next_step_done=True)
    assert services.overdue_next_steps(company["staff"]) == []
    counts = services.activity_counts_by_user(utcnow() - timedelta(days=3), utcnow() + timedelta(minutes=1))
    assert counts == {company["staff"].id: 1}


def test_a_follow_up_takes_only_the_next_steps_the_rep_ticks(company):
    customer = services.create_customer("甲公司", company["staff"])
    visit = services.log_activity(customer, company["staff"], "visit", utcnow() - timedelta(minutes=5), "初次拜访",
                                  "发送方案报价", local_today() + timedelta(days=4))
    demo = services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(minutes=4), "约演示",
                                 "安排演示", local_today() + timedelta(days=1))
    assert services.open_next_steps(customer, company["staff"]) == [demo, visit]
    # A call about the demo does not send the quote.
    services.log_activity(customer, company["staff"], "call", utcnow(), "演示时间定了", done_step_ids=[demo.id])
    assert demo.is_next_step_done is True and visit.is_next_step_done is False
    # Another rep's step, or another customer's, is not taken.
    other = services.create_customer("乙公司", company["staff2"])
    theirs = services.log_activity(other, company["staff2"], "call", utcnow(), "回访", "再联系",
                                   local_today() + timedelta(days=2))
    services.log_activity(customer, company["staff"], "message", utcnow(), "方案已发",
                          done_step_ids=[visit.id, theirs.id])
    assert visit.is_next_step_done is True and theirs.is_next_step_done is False
    with pytest.raises(ServiceError) as refused:
        services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(days=3), "回访", "再联系",
                              local_today() - timedelta(days=5))
    assert refused.value.field == "next_step_on"
    with pytest.raises(ServiceError, match="within a year"):
        services.log_activity(customer, company["staff"], "call", utcnow(), "回访", "再联系", date(2099, 12, 5))


def test_a_follow_up_says_what_came_of_it_except_one_brought_in_from_old_records(company):
    customer = services.create_customer("甲公司", company["staff"])
    for outcome in ("", " \u3000\n"):
        with pytest.raises(ServiceError) as refused:
            services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(hours=1), outcome)
        assert refused.value.field == "outcome" and str(refused.value.message) == "Say what came of the follow-up."
    assert db.session.scalar(select(db.func.count()).select_from(services.Activity)) == 0
    old = services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(days=300), "",
                                is_history=True)
    assert old.outcome == ""
    done = services.log_activity(customer, company["staff"], "visit", utcnow() - timedelta(hours=1), "见了采购")
    with pytest.raises(ServiceError):
        services.update_activity(done, outcome="  ")
    assert done.outcome == "见了采购"
    services.update_activity(old, outcome="")  # nothing was said then; nothing is lost now


# --- quotes ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def rules(company):
    services.save_approval_rule(None, "折扣超过10%", "10", None, None, 1)
    services.save_approval_rule(None, "折扣超过20% 财务", "20", None, "finance", 2)


def test_small_discount_is_approved_on_submission(company, rules):
    customer = services.create_customer("甲公司", company["staff"])
    quote = services.create_quote(customer, company["staff"], "报价", "10000", "5")
    services.submit_quote(quote, company["staff"])
    assert quote.status == "approved" and quote.steps == []


def test_large_discount_needs_head_then_finance_and_rejection_sends_it_back(company, rules):
    staff, head, finance = company["staff"], company["head"], company["finance"]
    customer = services.create_customer("甲公司", staff)
    quote = services.create_quote(customer, staff, "年度框架报价", "200000.00", "25")
    assert quote.amount == Decimal("150000.00")
    services.submit_quote(quote, staff)
    assert quote.status == "pending"
    assert [(s.rule_name, s.status) for s in quote.steps] == [("折扣超过10%", "pending"), ("折扣超过20% 财务", "waiting")]
    assert any("待审批报价" in s for s in notifications_of(head))
    with pytest.raises(NotAllowed, match="locked"):
        services.update_quote(quote, "改价", "1", "0")
    with pytest.raises(NotAllowed, match="not an approver"):
        services.approve_step(quote, finance)  # finance decides only its own step
    with pytest.raises(NotAllowed):
        services.approve_step(quote, staff)  # nobody approves their own quote
    services.approve_step(quote, head)
    assert services.current_step(quote).approver_department_code == "finance"
    assert services.may_decide(finance, services.current_step(quote))
    assert not services.may_decide(company["staff2"], services.current_step(quote))
    with pytest.raises(ServiceError, match="why"):
        services.reject_quote(quote, finance, "  ")
    assert quote.status == "pending"
    services.reject_quote(quote, finance, "折扣超出政策")
    assert quote.status == "rejected" and quote.rejection_reason == "折扣超出政策"
    assert any("报价被驳回" in s for s in notifications_of(staff))
    assert any("报价被驳回" in s for s in notifications_of(head))  # everyone involved is told
    assert not any("报价被驳回" in s for s in notifications_of(finance))  # but not the one who rejected it
    services.update_quote(quote, "年度框架报价（修订）", "200000.00", "12")
    services.submit_quote(quote, staff)
    assert quote.revision == 2 and quote.status == "pending"
    services.approve_step(quote, head)
    assert quote.status == "approved"


def test_quote_transition_table_refuses_unknown_moves(company):
    customer = services.create_customer("甲公司", company["staff"])
    quote = services.create_quote(customer, company["staff"], "报价", "100", "0")
    with pytest.raises(NotAllowed):
        services.withdraw_quote(quote, company["staff"])
    assert quote.status == "draft"
    with pytest.raises(ServiceError, match="between 0 and 100"):
        services.create_quote(customer, company["staff"], "报价", "100", "120")


# --- deals ------------------------------------------------------------------------------------------------------------
def test_deal_stages_follow_the_table_and_losing_needs_a_reason(company):
    churn = services.save_lost_reason(None, "客户流失", is_churn=True)
    customer = services.create_customer("甲公司", company["staff"])
    deal = services.create_opportunity(customer, company["staff"], "MES 项目", "300000")
    with pytest.raises(NotAllowed, match="cannot move"):
        services.move_stage(deal, "won", company["staff"])
    with pytest.raises(ServiceError, match="lost"):
        services.move_stage(deal, "lost", company["staff"])
    assert deal.stage == "lead"
    services.move_stage(deal, "lost", company["staff"], lost_reason_id=churn.id, note="转向自研")
    assert deal.stage == "lost" and deal.closed_on == local_today() and customer.is_lost
    assert [c.to_stage for c in deal.stage_changes] == ["lead", "lost"]

    other = services.create_opportunity(customer, company["staff"], "二期", "0")
    services.move_stage(other, "quoted", company["staff"])
    with pytest.raises(ServiceError, match="signed amount"):
        services.move_stage(other, "won", company["staff"])
    services.move_stage(other, "won", company["staff"], amount="88000.00")
    assert other.amount == Decimal("88000.00") and db.session.scalar(
        select(func.count()).select_from(StageChange).where(StageChange.opportunity_id == other.id)) == 3


# --- plans ---------------------------------------------------------------------------------------------------------------
TARGETS = {"signed_amount": "100000", "new_customers": "5", "visits": "20"}


def test_overlapping_plan_for_the_same_owner_is_refused(company):
    services.create_plan(company["head"], "quarter", date(2026, 10, 15), "rep", TARGETS, user_id=company["staff"].id)
    with pytest.raises(ServiceError, match="overlaps"):
        services.create_plan(company["head"], "quarter", date(2026, 11, 1), "rep", TARGETS,
                             user_id=company["staff"].id)
    # A month inside the quarter breaks the quarter down; a second plan for that month does not.
    services.create_plan(company["head"], "month", date(2026, 11, 1), "rep", TARGETS, user_id=company["staff"].id)
    with pytest.raises(ServiceError, match="overlaps"):
        services.create_plan(company["head"], "month", date(2026, 11, 20), "rep", TARGETS,
                             user_id=company["staff"].id)
    services.create_plan(company["head"], "month", date(2026, 11, 1), "rep", TARGETS, user_id=company["staff2"].id)
    services.create_plan(company["head"], "quarter", date(2027, 1, 1), "rep", TARGETS, user_id=company["staff"].id)
    with pytest.raises(ServiceError, match="whole number"):
        services.create_plan(company["head"], "year", date(2028, 1, 1), "rep", {"visits": "2.5"},
                             user_id=company["staff"].id)
    with pytest.raises(ServiceError, match="not a Team"):
        services.create_plan(company["head"], "year", date(2028, 1, 1), "team", TARGETS,
                             department_id=company["departments"]["sales"].id)
    assert count(SalesPlan) == 4


def test_plan_approval_locks_changes_behind_a_recorded_reason(company):
    plan = services.create_plan(company["head"], "quarter", date(2026, 10, 15), "rep", TARGETS,
                                user_id=company["staff"].id)
    with pytest.raises(NotAllowed):
        services.transition_plan(plan, "approve", company["lead"])
    assert plan.status == "draft"
    services.transition_plan(plan, "submit", company["head"])
    with pytest.raises(NotAllowed, match="waiting for approval"):
        services.update_targets(plan, company["head"], TARGETS)
    with pytest.raises(ServiceError, match="what needs to change"):
        services.transition_plan(plan, "return", company["lead"], note="")
    services.transition_plan(plan, "approve", company["lead"])
    assert plan.status == "approved" and plan.approved_by_id == company["lead"].id
    with pytest.raises(ServiceError, match="reason"):
        services.update_targets(plan, company["head"], dict(TARGETS, signed_amount="120000"))
    assert plan.target("signed_amount") == Decimal("100000.00")
    services.update_targets(plan, company["head"], dict(TARGETS, signed_amount="120000"), reason="新客户追加预算")
    assert plan.target("signed_amount") == Decimal("120000.00")
    revision = db.session.scalar(select(PlanRevision))
    assert revision.reason == "新客户追加预算" and revision.changes == {"signed_amount": ["100000.00", "120000.00"]}
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "plan.changed_after_approval"))


def test_period_bounds():
    assert services.period_bounds("quarter", date(2026, 11, 27)) == (date(2026, 10, 1), date(2026, 12, 31))
    assert services.period_bounds("quarter", date(2026, 2, 1)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert services.period_bounds("month", date(2024, 2, 10)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert services.period_bounds("year", date(2026, 5, 5)) == (date(2026, 1, 1), date(2026, 12, 31))


def test_team_target_differing_from_its_reps_is_flagged(company):
    day = date(2026, 10, 1)
    services.create_plan(company["head"], "quarter", day, "rep", {"signed_amount": "30000"},
                         user_id=company["staff"].id)
    team = services.create_plan(company["head"], "quarter", day, "team", {"signed_amount": "100000"},
                                department_id=company["departments"]["sales1"].id)
    warnings = services.rollup_warnings(team)
    assert len(warnings) == 1 and "its 1 member plan adds up to 30,000.00" in warnings[0]  # singular in English


def test_behind_plan_compares_achieved_share_with_elapsed_share():
    start, end = date(2026, 10, 1), date(2026, 12, 30)  # 91 days
    halfway = date(2026, 11, 14)
    assert services.is_behind(Decimal("30"), Decimal("100"), start, end, 10, halfway)  # 30% < 50% − 10
    assert not services.is_behind(Decimal("45"), Decimal("100"), start, end, 10, halfway)
    assert not services.is_behind(0, None, start, end, 10, halfway)


def _won_deal(company, owner, amount, name="甲公司"):
    customer = services.create_customer(name, owner)
    deal = services.create_opportunity(customer, owner, "项目", amount)
    services.move_stage(deal, "quoted", owner)
    services.move_stage(deal, "won", owner)
    return deal


def test_plan_vs_actual_rolls_up_from_rep_to_company(company):
    today = local_today()
    _won_deal(company, company["staff"], "50000")
    _won_deal(company, company["staff2"], "20000", "乙公司")
    customer = db.session.scalar(select(Customer).where(Customer.name == "甲公司"))
    open_deal = services.create_opportunity(customer, company["staff"], "二期", "100000",
                                            expected_close_on=services.period_bounds("quarter", today)[1])
    services.move_stage(open_deal, "negotiating", company["staff"])
    services.create_plan(company["head"], "quarter", today, "rep", {"signed_amount": "1000000"},
                         user_id=company["staff"].id)
    company_view = services.plan_vs_actual("quarter", today)
    assert company_view["parent"].actual["signed_amount"] == Decimal("70000.00")
    sales = next(u for u in company_view["children"] if u.name == "销售部")
    assert sales.actual["won_deals"] == 2 and sales.has_children
    # Forecast: signed plus the open deal weighted by its stage's probability (negotiating 75%).
    assert sales.forecast == Decimal("145000.00")
    teams = services.plan_vs_actual("quarter", today, "department", sales.department_id)
    assert {u.name: u.actual["signed_amount"] for u in teams["children"]} == {
        "销售一组": Decimal("50000.00"), "销售二组": Decimal("20000.00")}
    reps = services.plan_vs_actual("quarter", today, "team", company["departments"]["sales1"].id)
    rep = next(u for u in reps["children"] if u.user_id == company["staff"].id)
    assert rep.percent("signed_amount") == 5 and rep.target("signed_amount") == Decimal("1000000.00")
    # A rep sees only their own row.
    own = services.plan_vs_actual("quarter", today, "team", company["departments"]["sales1"].id, viewer=company["staff"])
    assert [u.user_id for u in own["children"]] == [company["staff"].id]


def test_a_teams_new_customers_and_quotes_add_up_from_its_reps_leaving_imports_and_refusals_out(company):
    today = local_today()
    sales1 = company["departments"]["sales1"]
    mine = services.create_customer("甲公司", company["staff"])
    services.create_customer("老客户（导入）", company["admin"], owner=company["staff"], source="import")
    for title in ("报价一", "报价二", "报价三"):
        services.submit_quote(services.create_quote(mine, company["staff"], title, "1000"), company["staff"])
    refused = db.session.scalar(select(Quote).where(Quote.title == "报价三"))
    refused.status = "rejected"
    db.session.flush()
    reps = services.plan_vs_actual("quarter", today, "team", sales1.id)
    rep = next(u for u in reps["children"] if u.user_id == company["staff"].id)
    assert rep.actual["new_customers"] == 1 and rep.actual["quotes"] == 2
    team = reps["parent"]
    for metric in ("new_customers", "quotes"):
        assert team.actual[metric] == sum(u.actual.get(metric, 0) for u in reps["children"]) == rep.actual[metric]


def test_weekly_trend_adds_up_wins_by_the_day_they_closed(company):
    """Cumulative signed amount per week: same-day wins add up, cents stay exact, filters apply."""
    wins = [("staff", "1000.10", date(2026, 1, 3)), ("staff2", "2000.20", date(2026, 1, 3)),
            ("staff", "500.00", date(2026, 1, 20)), ("staff", "99.70", date(2026, 3, 31)),
            ("other_staff", "7777.00", date(2026, 2, 2)), ("staff", "1.00", date(2026, 4, 1))]
    for number, (owner, amount, closed_on) in enumerate(wins):
        deal = _won_deal(company, company[owner], amount, f"客户{number}")
        deal.closed_on = closed_on
    db.session.commit()
    start, end = date(2026, 1, 1), date(2026, 3, 31)
    labels, series = services.weekly_trend(start, end, department_id=company["departments"]["sales"].id,
                                           target=Decimal("13000"))
    signed = series["Signed (cumulative)"]
    assert labels[:3] == ["01-07", "01-14", "01-21"] and labels[-1] == "03-31" and len(labels) == 13
    assert signed[:3] == [Decimal("3000.30"), Decimal("3000.30"), Decimal("3500.30")]
    assert signed[-1] == Decimal("3600.00")  # 市场部's win and April's are outside
    assert series["Target pace"][-1] == Decimal("13000.00")
    _, mine = services.weekly_trend(start, end, user_id=company["staff"].id)
    assert mine["Signed (cumulative)"][-1] == Decimal("1599.80")


def test_weekly_notice_goes_to_reps_behind_plan_and_their_head(company, runner):
    today = local_today()
    start, end = services.period_bounds("year", today)
    plan = services.create_plan(company["head"], "year", today, "rep", {"signed_amount": "1000000"},
                                user_id=company["staff"].id)
    services.transition_plan(plan, "submit", company["head"])
    services.transition_plan(plan, "approve", company["lead"])
    late_in_year = end - timedelta(days=5)
    assert services.notify_behind(today=late_in_year) == 1
    assert any("落后于计划" in s for s in notifications_of(company["staff"]))
    assert any("落后于计划" in s for s in notifications_of(company["head"]))
    assert not any("落后于计划" in s for s in notifications_of(company["other_head"]))
    body = db.session.scalar(select(Notification.body_markdown).where(Notification.event == "plan.behind"))
    assert "0.00 / 1,000,000.00" in body  # amounts as people write them
    assert services.notify_behind(today=start) == 0  # nothing has elapsed yet
    progress = services.plan_progress(company["staff"])
    assert progress[0]["plan"] is plan and progress[0]["metrics"][0]["actual"] == 0
    # once a week: told on late_in_year, not again the day after (notices dated as if sent that day)
    db.session.execute(update(Notification).values(created_at=services.local_day_start(late_in_year)))
    assert services.notify_behind(today=late_in_year + timedelta(days=1)) == 0
    assert sum("落后于计划" in s for s in notifications_of(company["head"])) == 1
    # a week later the rep is told again
    db.session.execute(update(Notification).values(created_at=services.local_day_start(late_in_year - timedelta(days=7))))
    assert services.notify_behind(today=late_in_year) == 1
    db.session.execute(delete(Notification))
    db.session.commit()
    result = runner.invoke(args=["plans", "notify-behind"])
    assert result.exit_code == 0 and "1 rep behind plan notified." in result.output
    result = runner.invoke(args=["plans", "notify-behind"])
    assert "0 reps behind plan notified." in result.output


def test_a_returned_plan_says_so_and_who_returned_it(company):
    plan = services.create_plan(company["head"], "quarter", date(2026, 10, 15), "rep", TARGETS,
                                user_id=company["staff"].id)
    services.transition_plan(plan, "submit", company["head"])
    services.transition_plan(plan, "return", company["lead"], note="签约额目标偏低")
    subjects = notifications_of(company["staff"])
    assert any("退回修改" in s and company["lead"].display_name in s for s in subjects), subjects


def test_a_transferred_customers_new_and_old_owners_hear_who_moved_it(company):
    customer = services.create_customer("甲公司", company["staff"])
    services.transfer_customer(customer, company["staff2"], company["head"], note="区域调整")
    db.session.flush()
    to_new = db.session.scalar(select(Notification).where(Notification.user_id == company["staff2"].id,
                                                         Notification.event == "customer.transferred"))
    assert company["head"].display_name in to_new.body_markdown and "区域调整" in to_new.body_markdown
    assert any("甲公司" in s and company["staff2"].display_name in s for s in notifications_of(company["staff"]))


# --- campaigns and leads -----------------------------------------------------------------------------------------------------
def test_lead_hand_off_with_deadline_becomes_a_customer_with_its_campaign(company):
    marketer, rep = company["other_staff"], company["staff"]
    campaign = services.save_campaign(None, marketer, "秋季展会", "展会", date(2026, 9, 1), date(2026, 9, 3), "90000")
    with pytest.raises(ServiceError, match="end before"):
        services.save_campaign(None, marketer, "坏活动", "展会", date(2026, 9, 3), date(2026, 9, 1), "1")
    lead = services.create_lead(marketer, "宏图物流有限公司", campaign.id, "王经理", "13900001111")
    with pytest.raises(ServiceError, match="future"):
        services.hand_lead(lead, rep, utcnow() - timedelta(hours=1), marketer)
    services.hand_lead(lead, rep, utcnow() + timedelta(days=2), marketer)
    assert any("你有新线索" in s for s in notifications_of(rep))
    assert not services.is_overdue(lead) and services.is_overdue(lead, utcnow() + timedelta(days=3))
    with pytest.raises(NotAllowed):
        services.accept_lead(lead, company["staff2"])
    services.accept_lead(lead, rep)
    customer = db.session.get(Customer, lead.customer_id)
    assert lead.status == "converted" and customer.campaign_id == campaign.id and customer.owner_id == rep.id
    services.move_stage(lead_deal := lead_opportunity(lead), "quoted", rep)
    services.move_stage(lead_deal, "won", rep, amount="30000")
    row = services.campaign_report()[0]
    assert (row["leads"], row["converted"], row["won_deals"], row["cost_per_won"]) == (1, 1, 1, Decimal("90000.00"))
    # A slice of the campaign: the rep's own, another rep's, or a period before the lead came.
    mine = services.campaign_report(owner_id=rep.id)[0]
    assert (mine["leads"], mine["won_deals"], mine["cost_per_won"]) == (1, 1, None)
    theirs = services.campaign_report(owner_id=company["staff2"].id)[0]
    assert (theirs["leads"], theirs["won_deals"], theirs["won_amount"]) == (0, 0, 0)
    other_team = services.campaign_report(department_ids={company["departments"]["sales2"].id})[0]
    assert (other_team["leads"], other_team["won_deals"]) == (0, 0)
    own_team = services.campaign_report(department_ids={company["departments"]["sales1"].id})[0]
    assert (own_team["leads"], own_team["converted"], own_team["won_deals"]) == (1, 1, 1)
    earlier = services.campaign_report(date(2020, 1, 1), date(2020, 3, 31))[0]
    assert (earlier["leads"], earlier["won_deals"]) == (0, 0)


def lead_opportunity(lead):
    from rollout.plans.models import Opportunity
    return db.session.get(Opportunity, lead.opportunity_id)


def test_rejected_lead_goes_back_with_a_reason(company):
    lead = services.create_lead(company["other_staff"], "某公司")
    services.hand_lead(lead, company["staff"], utcnow() + timedelta(days=1), company["other_staff"])
    with pytest.raises(ServiceError, match="why"):
        services.reject_lead(lead, company["staff"], "")
    services.reject_lead(lead, company["staff"], "不在我们的行业范围")
    assert lead.status == "rejected" and "不在我们的行业范围" in lead.note
    assert count(Lead) == 1 and count(Customer) == 0


def test_next_steps_and_lead_deadlines_go_to_the_personal_calendar_feed(company):
    from rollout.reports.calendar import personal_feed_items
    customer = services.create_customer("甲公司", company["staff"])
    activity = services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(hours=1), "约了下周",
                                     "发报价", local_today() + timedelta(days=2))
    lead = services.create_lead(company["other_staff"], "宏图物流")
    services.hand_lead(lead, company["staff"], utcnow() + timedelta(days=1), company["other_staff"])
    items = {item.uid: item for item in personal_feed_items(company["staff"]) if "plans-" in item.uid}
    step = items[f"plans-next-step-{activity.id}@rollout-desk"]
    assert step.start_at == local_today() + timedelta(days=2) and "发报价" in step.summary
    assert any("宏图物流" in item.summary for item in items.values())
    services.update_activity(activity, is_next_step_done=True)
    cancelled = next(i for i in personal_feed_items(company["staff"]) if i.uid == step.uid)
    assert cancelled.is_cancelled and cancelled.sequence == 1
    assert not [i for i in personal_feed_items(company["staff2"]) if "plans-" in i.uid]


def test_a_department_plan_counts_its_own_departments_and_teams_only(company):
    sales, marketing = company["departments"]["sales"], company["departments"]["marketing"]
    plan = services.create_plan(company["lead"], "quarter", date(2026, 10, 1), "department", {"visits": "10"},
                                department_id=sales.id)
    in_team = services.create_customer("销售一组的客户", company["staff"])
    elsewhere = services.create_customer("市场部的客户", company["other_staff"])
    during = datetime(2026, 11, 2, 3, 0)
    visits = ((in_team, company["staff"]), (in_team, company["staff2"]), (elsewhere, company["other_staff"]))
    for customer, actor in visits:
        services.log_activity(customer, actor, "visit", during, "拜访")
    db.session.flush()
    progress = services.plan_progress_for(plan, today=date(2026, 11, 15))
    assert {m["metric"]: m["actual"] for m in progress["metrics"]} == {"visits": 2}
    services.log_activity(in_team, company["staff"], "visit", during, "再访")  # a write: figures kept are stale
    db.session.flush()
    assert services.plan_progress_for(plan, today=date(2026, 11, 15))["metrics"][0]["actual"] == 3
    marketing_plan = services.create_plan(company["lead"], "quarter", date(2026, 10, 1), "department",
                                          {"visits": "10"}, department_id=marketing.id)
    assert services.plan_progress_for(marketing_plan, today=date(2026, 11, 15))["metrics"][0]["actual"] == 1


def test_a_team_head_manages_their_own_team_only(company, rules, factory, client_as):
    """The head of 销售一组 approves and edits 销售一组's quotes and customers, not 销售二组's; the head of
    销售部 manages both teams."""
    from rollout.access import can
    departments = company["departments"]
    team1_head = factory.user("head", department=departments["sales1"], username="team1.head")
    team2_head = factory.user("head", department=departments["sales2"], username="team2.head")
    theirs = services.create_customer("乙公司", company["staff2"])  # a 销售二组 rep's customer
    quote = services.create_quote(theirs, company["staff2"], "报价", "100000", "15")
    services.submit_quote(quote, company["staff2"])
    db.session.commit()
    step = services.current_step(quote)
    assert not services.may_decide(team1_head, step)
    assert services.may_decide(team2_head, step) and services.may_decide(company["head"], step)
    assert team1_head not in services.step_approvers(step) and team2_head in services.step_approvers(step)
    for action, record in (("customers.edit", theirs), ("customers.view", theirs), ("customers.assign", theirs),
                           ("quotes.edit", quote), ("quotes.view", quote)):
        assert not can(team1_head, action, record), action
        assert can(team2_head, action, record) and can(company["head"], action, record), action
    client = client_as(team1_head)
    assert client.post(f"/quotes/{quote.id}/approve").status_code == 403
    assert client.get(f"/customers/{theirs.id}").status_code == 403
    assert "乙公司" not in client.get("/customers").get_data(as_text=True)


def test_every_page_rounds_a_share_of_a_target_the_same_way():
    """Home and the plan page showed 144 % where plan vs actual showed 145 % for the same figures."""
    assert services.percent_of(Decimal("869130"), Decimal("600000")) == 145  # 144.855 %
    assert services.percent_of(5, 3) == 167 and services.percent_of(1, 200) == 1  # 0.5 % rounds up
    assert services.percent_of(0, Decimal("10")) == 0 and services.percent_of(7, None) is None
    assert services.percent_of(7, 0) is None


def test_heads_approve_the_plans_below_them_and_a_change_after_approval_by_anyone_else_is_approved_again(
        company, factory):
    from rollout.access import can
    sales1 = company["departments"]["sales1"]
    team_head = factory.user("head", "staff", department=sales1, username="team1.head")
    head, lead, staff = company["head"], company["lead"], company["staff"]
    rep_plan = services.create_plan(team_head, "quarter", local_today(), "rep", {"signed_amount": "100000"},
                                    user_id=staff.id)
    own_plan = services.create_plan(head, "quarter", local_today(), "rep", {"signed_amount": "100000"},
                                    user_id=team_head.id)
    team_plan = services.create_plan(team_head, "quarter", local_today(), "team", {"signed_amount": "500000"},
                                     department_id=sales1.id)
    # Nobody approves a plan they wrote, their own targets or their own unit's plan.
    assert not can(team_head, "plans.approve", rep_plan) and can(head, "plans.approve", rep_plan)
    assert not can(team_head, "plans.approve", own_plan) and not can(team_head, "plans.edit", own_plan)
    assert not can(team_head, "plans.approve", team_plan) and can(head, "plans.approve", team_plan)
    assert can(lead, "plans.approve", team_plan)
    services.transition_plan(team_plan, "submit", team_head)
    told = notifications_of(head)
    assert any(subject.startswith("待审批计划") for subject in told)
    services.transition_plan(team_plan, "approve", head)
    assert team_plan.status == "approved"
    # The team's head cuts the approved target: it waits for approval again.
    services.update_targets(team_plan, team_head, {"signed_amount": "1"}, "我自己改低")
    assert team_plan.status == "submitted" and team_plan.approved_by_id is None
    assert len([s for s in notifications_of(head) if s.startswith("计划在批准后被修改")]) == 1
    # The department head may change what they approve: it stays approved, and the rep is told.
    services.transition_plan(team_plan, "approve", head)
    services.transition_plan(rep_plan, "submit", team_head)
    services.transition_plan(rep_plan, "approve", head)
    services.update_targets(rep_plan, head, {"signed_amount": "120000"}, "季度中调整")
    assert rep_plan.status == "approved"
    assert any(subject.startswith("你的计划已调整") for subject in notifications_of(staff))


def test_a_quarter_is_checked_against_the_months_inside_it(company):
    staff = company["staff"]
    quarter = services.create_plan(company["head"], "quarter", date(2027, 1, 1), "rep",
                                   {"signed_amount": "900000", "visits": "30"}, user_id=staff.id)
    services.create_plan(company["head"], "month", date(2027, 1, 1), "rep", {"signed_amount": "300000"},
                         user_id=staff.id)
    assert services.rollup_warnings(quarter) == []  # two months still to plan
    services.create_plan(company["head"], "month", date(2027, 2, 1), "rep", {"signed_amount": "400000"},
                         user_id=staff.id)
    services.create_plan(company["head"], "month", date(2027, 3, 1), "rep", {"signed_amount": "400000"},
                         user_id=staff.id)
    warnings = services.rollup_warnings(quarter)
    assert any("900,000.00 but the 3 shorter plans inside its period add up to 1,100,000.00" in w for w in warnings)
    # The months set no visits: those are followed over the quarter only.
    assert len(warnings) == 1
