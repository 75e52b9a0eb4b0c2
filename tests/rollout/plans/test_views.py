"""Sales-plan pages: scoping, bad input (422, nothing written), approval over HTTP, exports, statement counts."""
import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text, true

from rollout import figures
from rollout.extensions import db
from rollout.plans import services
from rollout.plans.models import Activity, Customer, Lead, Opportunity, Quote, SalesPlan
from rollout.timeutil import local_today, utcnow


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def customer_of(user, name="甲公司", **extra):
    customer = services.create_customer(name, user, **extra)
    db.session.commit()
    return customer


# --- customers ---------------------------------------------------------------------------------------
def test_a_customer_search_counts_its_matches_up_to_a_limit(company, client_as, monkeypatch):
    """A name search stops counting at the limit and says "more than"; the pages still go on."""
    from rollout.plans import views
    monkeypatch.setattr(views, "SEARCH_COUNT_LIMIT", 26)
    for n in range(30):
        services.create_customer(f"北京客户{n:02d}", company["staff"])
    services.create_customer("上海客户", company["staff"])
    db.session.commit()
    client = client_as("staff")
    searched = client.get("/customers?q=北京").get_data(as_text=True)
    assert "More than 26" in searched and "Page 1 of 2 or more" in searched
    assert "page=2" in searched  # "Next" stays a link
    assert "31 in all" in client.get("/customers").get_data(as_text=True)  # no search: the exact count


def test_a_customer_search_ignores_case_and_takes_wildcards_literally(company, client_as):
    for name in ("ACME 精密机械", "Acme_Plus 贸易", "AcmeXPlus 物流", "百分百100%科技", "1000科技"):
        services.create_customer(name, company["staff"])
    db.session.commit()
    client = client_as("staff")

    def found(text):
        page = client.get("/customers", query_string={"q": text}).get_data(as_text=True)
        return {name for name in ("ACME 精密机械", "Acme_Plus 贸易", "AcmeXPlus 物流", "百分百100%科技", "1000科技")
                if name in page}
    assert found("acme") == {"ACME 精密机械", "Acme_Plus 贸易", "AcmeXPlus 物流"}
    assert found("acme_plus") == {"Acme_Plus 贸易"}  # "_" is not "any one character"
    assert found("100%") == {"百分百100%科技"}  # "%" is not "anything"


def test_reps_see_only_their_own_customers_and_heads_their_department(company, client_as):
    mine = customer_of(company["staff"], "张伟的客户")
    customer_of(company["staff2"], "李娜的客户")
    page = client_as("staff").get("/customers").get_data(as_text=True)
    assert "张伟的客户" in page and "李娜的客户" not in page
    head_page = client_as("head").get("/customers").get_data(as_text=True)
    assert "张伟的客户" in head_page and "李娜的客户" in head_page
    assert client_as("staff2").get(f"/customers/{mine.id}").status_code == 403
    assert client_as("other_head").get(f"/customers/{mine.id}").status_code == 403
    assert client_as("staff").get(f"/customers/{mine.id}").status_code == 200
    assert client_as("staff2").post(f"/customers/{mine.id}/activities", data={}).status_code == 403


def test_a_source_the_system_wrote_reads_as_words_and_a_typed_one_as_typed(company, client_as):
    """Converted leads get source "campaign": shown as "Marketing campaign" (市场活动), not the code."""
    converted = customer_of(company["staff"], "活动来的客户", source="campaign")
    typed = customer_of(company["staff"], "朋友介绍的客户", source="转介绍")
    client = client_as("staff")
    assert "<dd class=\"col-8\">Marketing campaign</dd>" in client.get(f"/customers/{converted.id}").get_data(as_text=True)
    assert "<dd class=\"col-8\">转介绍</dd>" in client.get(f"/customers/{typed.id}").get_data(as_text=True)


def test_duplicate_customer_form_is_422_with_the_owner_department_and_writes_nothing(company, client_as):
    customer_of(company["staff"], "上海明远机械有限公司", phone="13800138000")
    response = client_as("staff2").post("/customers/new", data={"name": "上海明远机械", "campaign_id": "0"})
    assert response.status_code == 422
    assert "销售一组" in response.get_data(as_text=True)
    assert count(Customer) == 1
    response = client_as("staff2").post("/customers/new", data={"name": "新公司", "phone": "12", "campaign_id": "0"})
    assert response.status_code == 422 and "not a phone number" in response.get_data(as_text=True)
    assert count(Customer) == 1


def test_custom_fields_appear_in_the_form_and_are_required(company, client_as):
    services.save_field(None, "level", "客户等级", "choice", "A\nB", is_required=True, is_listed=True)
    db.session.commit()
    client = client_as("staff")
    assert "客户等级" in client.get("/customers/new").get_data(as_text=True)
    response = client.post("/customers/new", data={"name": "新公司", "campaign_id": "0"})
    assert response.status_code == 422 and count(Customer) == 0
    response = client.post("/customers/new", data={"name": "新公司", "campaign_id": "0", "x_level": "B"})
    assert response.status_code == 302
    assert db.session.scalar(select(Customer.extra)) == {"level": "B"}
    listed = client.get("/customers?x_level=B").get_data(as_text=True)
    assert "新公司" in listed
    assert "新公司" not in client.get("/customers?x_level=A").get_data(as_text=True)


def test_export_keeps_the_filters_and_needs_the_export_permission(company, client_as):
    services.save_field(None, "level", "客户等级", "choice", "A\nB", is_required=False, is_listed=True)
    customer_of(company["staff"], "甲公司", extra={"level": "A"})
    customer_of(company["staff2"], "乙公司", extra={"level": "B"})
    response = client_as("head").get("/customers/export?format=csv&x_level=A")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][-1] == "客户等级" and [r[0] for r in rows[1:]] == ["甲公司"] and rows[1][-1] == "A"
    assert client_as("staff").get("/customers/export?format=csv").status_code == 403
    xlsx = client_as("head").get("/customers/export?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client_as("head").get("/customers/export?format=pdf").status_code == 404


def test_the_export_writes_local_times_once_and_sources_by_name(company, client_as):
    from rollout.timeutil import to_local
    customer = customer_of(company["staff"], "甲公司")
    customer.source = "import"
    db.session.commit()
    rows = list(csv.DictReader(io.StringIO(client_as("head").get("/customers/export?format=csv").get_data(
        as_text=True).lstrip("\ufeff"))))
    assert rows[0]["Source"] == "Imported from a file"
    assert rows[0]["Created"] == to_local(customer.created_at).strftime("%Y-%m-%d %H:%M")


def test_follow_up_in_the_future_is_422_and_nothing_is_written(company, client_as):
    customer = customer_of(company["staff"])
    future = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = client_as("staff").post(f"/customers/{customer.id}/activities", data={
        "a-kind": "visit", "a-occurred_at": future, "a-opportunity_id": "0", "a-outcome": "x"})
    assert response.status_code == 422 and "future" in response.get_data(as_text=True)
    assert count(Activity) == 0
    yesterday = (utcnow() + timedelta(hours=8) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client_as("staff").post(f"/customers/{customer.id}/activities", data={
        "a-kind": "call", "a-occurred_at": yesterday, "a-opportunity_id": "0", "a-outcome": "  "})
    assert response.status_code == 422 and "This field is required." in response.get_data(as_text=True)
    assert count(Activity) == 0
    past = (utcnow() + timedelta(hours=8) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client_as("staff").post(f"/customers/{customer.id}/activities", data={
        "a-kind": "visit", "a-occurred_at": past, "a-opportunity_id": "0", "a-outcome": "见了采购",
        "a-next_step": "发报价", "a-next_step_on": (local_today() - timedelta(days=1)).isoformat()})
    assert response.status_code == 302 and count(Activity) == 1
    assert "发报价" in client_as("staff").get("/activities").get_data(as_text=True)


def test_a_view_of_the_pool_returns_at_most_its_share_of_idle_customers(company, client_as, monkeypatch):
    from rollout.plans import views
    monkeypatch.setattr(views, "POOL_RELEASES_PER_VIEW", 3)
    for i in range(5):
        services.create_customer(f"久未跟进{i}", company["staff"], last_followup_at=utcnow() - timedelta(days=100 + i))
    db.session.commit()
    pooled = select(func.count()).select_from(Customer).where(Customer.is_in_pool.is_(True))
    assert client_as("staff").get("/customers/pool").status_code == 200
    assert db.session.scalar(pooled) == 3
    client_as("staff").get("/customers/pool")
    assert db.session.scalar(pooled) == 5


def test_a_pool_sweep_that_found_nobody_due_waits_for_a_write_or_a_minute(company, client_as, monkeypatch):
    """Finding the due customers scans the owned ones, so an empty sweep is not repeated at once."""
    sweeps = []
    release_pool = services.release_pool
    monkeypatch.setattr(services, "release_pool", lambda **kw: sweeps.append(kw) or release_pool(**kw))
    services.create_customer("刚跟进过", company["staff"], last_followup_at=utcnow())
    db.session.commit()
    client = client_as("staff")
    client.get("/customers/pool")
    client.get("/customers/pool?q=刚")
    assert len(sweeps) == 1

    # a write moves the data version: the next view sweeps and releases the newly due customer
    idle = services.create_customer("久未跟进", company["staff"], last_followup_at=utcnow() - timedelta(days=100))
    db.session.commit()
    assert "久未跟进" in client.get("/customers/pool").get_data(as_text=True)
    assert len(sweeps) == 2 and db.session.get(Customer, idle.id).is_in_pool
    # a sweep that released someone is never reused; after its own write the next one finds nobody
    client.get("/customers/pool")
    client.get("/customers/pool")
    assert len(sweeps) == 3
    # time alone makes customers due: an empty sweep is kept for a minute at most
    monkeypatch.setattr(figures, "LIFETIME_SECONDS", 0)
    client.get("/customers/pool")
    assert len(sweeps) == 4


def test_the_pool_list_reads_its_order_from_the_pooled_customers_index(company):
    """A lead's pool page has no filter an index serves: its order must not sort the whole pool."""
    statement = services.pool_query("", true()).limit(25)
    sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "postgresql":
        # On a small table the planner rightly prefers a scan; forbid it to prove the index applies.
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        db.session.execute(text("SET LOCAL enable_sort = off"))
        plan = " ".join(db.session.scalars(text("EXPLAIN " + sql)))
    else:
        plan = " ".join(row[-1] for row in db.session.execute(text("EXPLAIN QUERY PLAN " + sql)))
    db.session.rollback()
    assert "ix_customers_pool_queue" in plan and "TEMP B-TREE" not in plan and "Sort" not in plan


def test_follow_ups_are_counted_only_up_to_a_limit_newest_first(company, client_as, monkeypatch):
    from rollout.plans import views
    monkeypatch.setattr(views, "SEARCH_COUNT_LIMIT", 3)
    customer = services.create_customer("跟进很多的公司", company["staff"])
    for hours in range(5):
        services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(hours=hours), f"第{hours}次通话")
    db.session.commit()
    page = client_as("lead").get("/activities").get_data(as_text=True)
    assert "More than 3" in page
    assert page.index("第0次通话") < page.index("第4次通话")


def test_claiming_from_the_pool_over_http(company, client_as):
    pooled = services.create_customer("公海客户", company["head"], in_pool=True,
                                      department_id=company["departments"]["sales"].id)
    db.session.commit()
    assert "公海客户" in client_as("staff").get("/customers/pool").get_data(as_text=True)
    assert "公海客户" not in client_as("other_staff").get("/customers/pool").get_data(as_text=True)
    assert client_as("other_staff").post(f"/customers/{pooled.id}/claim").status_code == 403
    response = client_as("staff").post(f"/customers/{pooled.id}/claim")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Customer, pooled.id).owner_id == company["staff"].id


def test_customer_history_tab_shows_who_changed_what(company, client_as):
    customer = customer_of(company["staff"], "甲公司", phone="13800138000")
    client = client_as("staff")
    response = client.post(f"/customers/{customer.id}/edit", data={"name": "甲公司", "phone": "13900139000",
                                                                   "campaign_id": "0"})
    assert response.status_code == 302
    history = client.get(f"/customers/{customer.id}?tab=history").get_data(as_text=True)
    # in words: field labels, people by name, no derived keys
    assert "Phone</span>: 13800138000 → 13900139000" in history and "Normalised phone" not in history
    assert company["staff"].display_name in history and "edited" in history and "phone_key" not in history
    # the ownership history names the people it moved between, and the pool
    services.transfer_customer(customer, company["staff2"], company["head"], note="调岗")
    services.release_to_pool(customer, note="无人跟进")
    db.session.commit()
    ownership = client_as("head").get(f"/customers/{customer.id}?tab=history").get_data(as_text=True)
    rows = [row for row in ownership.split("<tr>") if "调岗" in row or "无人跟进" in row]
    assert company["staff"].display_name in rows[0] + rows[1] and company["staff2"].display_name in rows[0] + rows[1]
    assert any("public pool" in row for row in rows)


# --- quotes over HTTP ------------------------------------------------------------------------------------
@pytest.fixture
def pending_quote(company):
    services.save_approval_rule(None, "折扣超过10%", "10", None, None, 1)
    services.save_approval_rule(None, "折扣超过20% 财务", "20", None, "finance", 2)
    customer = services.create_customer("甲公司", company["staff"])
    quote = services.create_quote(customer, company["staff"], "年度报价", "100000", "25")
    services.submit_quote(quote, company["staff"])
    db.session.commit()
    return quote


def test_approvers_see_the_quote_and_decide_in_turn(company, client_as, pending_quote):
    quote_id = pending_quote.id
    assert client_as("finance").get(f"/quotes/{quote_id}").status_code == 403  # not finance's turn yet
    head = client_as("head")
    assert "Your decision" in head.get(f"/quotes/{quote_id}").get_data(as_text=True)
    assert head.post(f"/quotes/{quote_id}/approve", data={"comment": "同意"}).status_code == 302
    finance = client_as("finance")
    assert "年度报价" in finance.get("/quotes?view=awaiting").get_data(as_text=True)
    page = finance.get(f"/quotes/{quote_id}").get_data(as_text=True)
    assert "同意" in page  # the approval history is visible to the next approver
    assert client_as("staff2").get(f"/quotes/{quote_id}").status_code == 403
    # A rejection without a reason is refused and changes nothing.
    finance.post(f"/quotes/{quote_id}/reject", data={"comment": ""})
    db.session.expire_all()
    assert db.session.get(Quote, quote_id).status == "pending"
    finance.post(f"/quotes/{quote_id}/reject", data={"comment": "折扣过大"})
    db.session.expire_all()
    assert db.session.get(Quote, quote_id).status == "rejected"
    page = client_as("staff").get(f"/quotes/{quote_id}").get_data(as_text=True)
    assert "折扣过大" in page


def test_pending_quote_cannot_be_edited(company, client_as, pending_quote):
    response = client_as("staff").post(f"/quotes/{pending_quote.id}/edit", data={
        "title": "改", "list_amount": "1", "discount_percent": "0", "opportunity_id": "0"})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Quote, pending_quote.id).title == "年度报价"


def test_quote_with_three_decimals_is_422(company, client_as):
    customer = customer_of(company["staff"])
    response = client_as("staff").post(f"/customers/{customer.id}/quotes/new", data={
        "title": "报价", "list_amount": "100.005", "discount_percent": "0", "opportunity_id": "0"})
    assert response.status_code == 422 and "two decimal places" in response.get_data(as_text=True)
    assert count(Quote) == 0


# --- plans over HTTP ---------------------------------------------------------------------------------------
def test_overlapping_plan_form_is_422(company, client_as):
    data = {"period_kind": "quarter", "starts_on": "2026-10-05", "level": "rep", "department_id": "0",
            "user_id": str(company["staff"].id), "signed_amount": "500000", "visits": "20"}
    head = client_as("head")
    assert head.post("/plans/new", data=data).status_code == 302
    response = head.post("/plans/new", data=dict(data, starts_on="2026-11-01"))
    assert response.status_code == 422 and "overlaps" in response.get_data(as_text=True)
    assert count(SalesPlan) == 1
    assert client_as("staff").post("/plans/new", data=data).status_code == 403
    other = client_as("other_head").post("/plans/new", data=dict(data, starts_on="2027-01-05"))
    assert other.status_code in (403, 422)  # a marketing head is not offered, nor allowed, sales reps
    assert count(SalesPlan) == 1


def test_plan_vs_actual_page_drills_down_and_draws_the_trend(company, client_as):
    today = local_today()
    customer = services.create_customer("甲公司", company["staff"])
    deal = services.create_opportunity(customer, company["staff"], "项目", "50000")
    services.move_stage(deal, "quoted", company["staff"])
    services.move_stage(deal, "won", company["staff"])
    services.create_plan(company["head"], "quarter", today, "rep", {"signed_amount": "900000"},
                         user_id=company["staff"].id)
    db.session.commit()
    lead = client_as("lead")
    page = lead.get("/plans/actual").get_data(as_text=True)
    assert "销售部" in page and "<svg" in page
    team_page = lead.get(f"/plans/actual?level=team&unit={company['departments']['sales1'].id}").get_data(
        as_text=True)
    assert company["staff"].display_name in team_page and "50,000.00" in team_page
    # A rep lands on their own department and sees only their own row.
    rep_page = client_as("staff").get("/plans/actual").get_data(as_text=True)
    table = rep_page.split('data-testid="plan-vs-actual"')[1].split("</table>")[0]
    assert company["staff"].display_name in table and "900,000.00" in table
    assert company["staff2"].display_name not in table and "销售二组" not in table


def test_plan_page_requires_a_reason_after_approval(company, client_as):
    plan = services.create_plan(company["head"], "quarter", date(2026, 10, 1), "rep", {"visits": "20"},
                                user_id=company["staff"].id)
    services.transition_plan(plan, "submit", company["head"])
    services.transition_plan(plan, "approve", company["lead"])
    db.session.commit()
    head = client_as("head")
    response = head.post(f"/plans/{plan.id}", data={"t-visits": "25", "t-reason": ""})
    assert response.status_code == 422 and "give a reason" in response.get_data(as_text=True)
    response = head.post(f"/plans/{plan.id}", data={"t-visits": "25", "t-reason": "新增展会客户"})
    assert response.status_code == 302
    page = head.get(f"/plans/{plan.id}").get_data(as_text=True)
    assert "新增展会客户" in page and "20.00 → 25.00" in page
    assert client_as("staff2").get(f"/plans/{plan.id}").status_code == 403


# --- leads -------------------------------------------------------------------------------------------------------
def test_overdue_hand_off_is_flagged_and_only_the_rep_can_accept(company, client_as):
    lead = services.create_lead(company["other_staff"], "宏图物流")
    services.hand_lead(lead, company["staff"], utcnow() + timedelta(hours=1), company["other_staff"])
    lead.respond_by = utcnow() - timedelta(hours=1)
    db.session.commit()
    page = client_as("other_staff").get("/leads?status=overdue").get_data(as_text=True)
    assert "宏图物流" in page and 'data-testid="overdue"' in page
    assert client_as("staff2").post(f"/leads/{lead.id}/respond", data={"action": "accept"}).status_code == 403
    assert client_as("staff").post(f"/leads/{lead.id}/respond", data={"action": "accept"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).status == "converted" and count(Opportunity) == 1


def test_a_team_head_lists_the_leads_handed_to_their_own_team_only(company, client_as, factory):
    team2_head = factory.user("head", department=company["departments"]["sales2"], username="team2-head")
    for name, rep in (("宏图物流", company["staff"]), ("远航贸易", company["staff2"])):
        lead = services.create_lead(company["other_staff"], name)
        services.hand_lead(lead, rep, utcnow() + timedelta(days=1), company["other_staff"])
    db.session.commit()
    page = client_as(team2_head).get("/leads").get_data(as_text=True)
    assert "远航贸易" in page and "宏图物流" not in page  # handed to the team next door
    page = client_as("head").get("/leads").get_data(as_text=True)
    assert "远航贸易" in page and "宏图物流" in page


# --- a fixed number of statements per list page -------------------------------------------------------------------------
def _fill(company, n: int) -> None:
    for i in range(n):
        # One campaign per row, so a lazy load per row would show up as more statements.
        campaign = services.save_campaign(None, company["other_staff"], f"活动{n}-{i}", "展会", date(2026, 9, 1),
                                          date(2026, 9, 2), "1000")
        customer = services.create_customer(f"客户{n}-{i}", company["staff"], campaign_id=campaign.id)
        services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(days=2), "通话",
                              "回访", local_today() - timedelta(days=1))
        deal = services.create_opportunity(customer, company["staff"], f"项目{i}", "1000")
        services.create_quote(customer, company["staff"], f"报价{i}", "1000", "0", deal)
        services.create_plan(company["head"], "month", date(2030 if n < 5 else 2040, 1 + i, 1), "rep", {"visits": "5"},
                             user_id=company["staff"].id)
        lead = services.create_lead(company["other_staff"], f"线索{n}-{i}", campaign.id)
        services.hand_lead(lead, company["staff"], utcnow() + timedelta(days=1), company["other_staff"])
        services.create_customer(f"公海{n}-{i}", company["head"], in_pool=True,
                                 department_id=company["departments"]["sales"].id)
    db.session.commit()


LIST_PAGES = ["/customers", "/customers/pool", "/activities", "/deals", "/quotes", "/plans", "/leads", "/campaigns"]


def test_list_pages_issue_the_same_number_of_statements_at_two_sizes(company, client_as, count_statements):
    rep, marketer = client_as("staff"), client_as("other_staff")
    counts = {path: [] for path in LIST_PAGES}
    for size in (2, 12):
        _fill(company, size)
        for path in LIST_PAGES:
            client = marketer if path == "/campaigns" else rep
            client.get(path)  # warm caches (translations, templates)
            db.session.expire_all()  # requests share the test's session: nothing may come from its identity map
            with count_statements() as counter:
                response = client.get(path)
            assert response.status_code == 200, path
            counts[path].append(counter.count)
    assert {path: pair for path, pair in counts.items() if pair[0] != pair[1]} == {}


def test_multi_select_field_filters_the_customer_list(company, client_as):
    services.save_field(None, "focus", "关注点", "multi_choice", "价格\n服务_质量", is_required=False, is_listed=True)
    customer_of(company["staff"], "甲公司", extra={"focus": ["价格", "服务_质量"]})
    customer_of(company["staff"], "乙公司", extra={"focus": ["价格"]})
    client = client_as("staff")
    both = client.get("/customers?x_focus=价格").get_data(as_text=True)
    assert "甲公司" in both and "乙公司" in both
    one = client.get("/customers?x_focus=服务_质量").get_data(as_text=True)
    assert "甲公司" in one and "乙公司" not in one


def test_plan_form_without_its_owner_is_422_with_a_message(company, client_as):
    response = client_as("head").post("/plans/new", data={
        "period_kind": "quarter", "starts_on": "2026-10-05", "level": "rep", "department_id": "0", "user_id": "0",
        "visits": "20"})
    assert response.status_code == 422 and "Choose the rep" in response.get_data(as_text=True)
    response = client_as("head").post("/plans/new", data={
        "period_kind": "quarter", "starts_on": "2026-10-05", "level": "rep", "department_id": "0",
        "user_id": str(company["staff"].id), "signed_amount": "-5"})
    assert response.status_code == 422 and "negative" in response.get_data(as_text=True)
    assert count(SalesPlan) == 0


def test_editing_with_fields_left_out_keeps_amounts_as_text(company, client_as):
    campaign = services.save_campaign(None, company["other_staff"], "秋季展会", "展会", date(2026, 9, 1),
                                      date(2026, 9, 3), "90000")
    customer = services.create_customer("甲公司", company["staff"])
    quote = services.create_quote(customer, company["staff"], "报价", "1000.50", "5")
    db.session.commit()
    response = client_as("other_staff").post(f"/campaigns/{campaign.id}/edit", data={"name": "秋季展会"})
    assert response.status_code == 422
    response = client_as("staff").post(f"/quotes/{quote.id}/edit", data={"title": "报价"})
    assert response.status_code in (302, 422)
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).list_amount == services.Decimal("1000.50")



def test_a_plan_page_takes_the_same_statements_however_many_member_plans_it_has(
        company, client_as, factory, count_statements):
    day = date(2026, 10, 1)
    sales1 = company["departments"]["sales1"]
    team = services.create_plan(company["head"], "quarter", day, "team", {"visits": "40"}, department_id=sales1.id)
    services.create_plan(company["head"], "quarter", day, "rep", {"visits": "10"}, user_id=company["staff"].id)
    db.session.commit()
    client = client_as("head")
    client.get(f"/plans/{team.id}")
    figures.clear()  # measure the computation, not the kept figures
    with count_statements() as one_member:
        client.get(f"/plans/{team.id}")
    for number in range(4):
        rep = factory.user("staff", department=sales1, display_name=f"新销售{number}")
        services.create_plan(company["head"], "quarter", day, "rep", {"visits": "5"}, user_id=rep.id)
    db.session.commit()
    figures.clear()
    with count_statements() as five_members:
        page = client.get(f"/plans/{team.id}").get_data(as_text=True)
    assert five_members.count == one_member.count
    assert "its 5 member plans add up to 30" in page  # against the team's 40 visits


def test_a_closed_deal_shows_when_it_closed_and_an_open_one_when_it_is_expected(company, client_as):
    from datetime import timedelta
    customer = services.create_customer("甲公司", company["staff"])
    expected = local_today() + timedelta(days=30)
    won = services.create_opportunity(customer, company["staff"], "一期项目", "50000", expected_close_on=expected)
    services.move_stage(won, "quoted", company["staff"])
    services.move_stage(won, "won", company["staff"])
    services.create_opportunity(customer, company["staff"], "二期项目", "80000", expected_close_on=expected)
    db.session.commit()
    client = client_as("staff")
    deal_page = client.get(f"/deals/{won.id}").get_data(as_text=True)
    assert f"closed {won.closed_on}" in deal_page and f"expected close {expected}" not in deal_page
    listing = client.get("/deals").get_data(as_text=True)
    assert f"<td class=\"text-nowrap\">{won.closed_on}</td>" in listing and f"expected {expected}" in listing


def test_returning_a_customer_with_a_deal_in_progress_is_refused_with_the_reason(company, client_as):
    customer = customer_of(company["staff"], "谈判中公司")
    services.create_opportunity(customer, company["staff"], "年度合同", "1000")
    db.session.commit()
    client = client_as("staff")
    response = client.post(f"/customers/{customer.id}/release")
    assert response.status_code == 303 and response.location.endswith(f"/customers/{customer.id}")
    assert "has a deal in progress" in client.get(response.location).text
    assert not db.session.get(Customer, customer.id).is_in_pool


def test_an_open_deal_is_corrected_on_its_edit_page_and_bad_amounts_and_dates_are_refused(company, client_as):
    customer = customer_of(company["staff"], "甲公司")
    deal = services.create_opportunity(customer, company["staff"], "年度合同", "300000")
    db.session.commit()
    client = client_as("staff")
    url = f"/deals/{deal.id}/edit"
    assert f'href="{url}"' in client.get(f"/deals/{deal.id}").text
    assert 'value="300000.00"' in client.get(url).text
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    for data, message in (({"amount": "1e9"}, "amount"), ({"expected_close_on": yesterday}, "today or later"),
                          ({"expected_close_on": "2099-01-01"}, "within three years"), ({"name": " "}, "required")):
        response = client.post(url, data={"name": "年度合同（扩容）", "amount": "500000", "campaign_id": "0",
                                          "expected_close_on": "", **data})
        assert response.status_code == 422 and message in response.text, data
    db.session.expire_all()
    assert (deal.name, deal.amount) == ("年度合同", 300000)
    saved = client.post(url, data={"name": "年度合同（扩容）", "amount": "500,000", "campaign_id": "0",
                                   "expected_close_on": (local_today() + timedelta(days=30)).isoformat()})
    assert saved.status_code == 302
    db.session.expire_all()
    assert (deal.name, deal.amount) == ("年度合同（扩容）", 500000)
    # The stage form's signed amount is for winning only: it no longer changes the amount on any move.
    moved = client.post(f"/deals/{deal.id}", data={"s-stage": "visited", "s-amount": "900000", "s-lost_reason_id": "0"})
    assert moved.status_code == 422 and deal.stage == "lead"
    assert client_as("staff2").get(url).status_code == 403
    deal.stage = "won"
    deal.closed_on = local_today()
    db.session.commit()
    assert client.get(url).status_code == 303


def test_a_plans_history_names_its_targets_in_the_readers_language(company, client_as):
    plan = services.create_plan(company["head"], "quarter", local_today(), "rep", {"signed_amount": "150000"},
                                user_id=company["staff"].id)
    services.transition_plan(plan, "submit", company["head"])
    services.transition_plan(plan, "approve", company["lead"])
    services.update_targets(plan, company["lead"], {"signed_amount": "200000"}, "客户追加预算")
    db.session.commit()
    client = client_as("head")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    page = client.get(f"/plans/{plan.id}").text
    assert "Signed amount" not in page and "签约额" in page
    history = page[page.index('data-testid="history"'):]
    assert 'data-field="metric"' in history and 'data-field="plan_id"' not in history  # the page is the plan


def test_the_follow_up_form_offers_the_open_next_steps_ticking_those_already_due(company, client_as):
    customer = customer_of(company["staff"], "甲公司")
    due = services.log_activity(customer, company["staff"], "call", utcnow() - timedelta(days=3), "约了",
                                "回电确认", local_today() - timedelta(days=1))
    later = services.log_activity(customer, company["staff"], "visit", utcnow() - timedelta(days=2), "拜访",
                                  "发正式报价", local_today() + timedelta(days=5))
    db.session.commit()
    client = client_as("staff")
    page = client.get(f"/customers/{customer.id}?tab=activities").text
    boxes = page[page.index('data-testid="done-steps"'):page.index("</fieldset>")]
    assert f'value="{due.id}" id="done-step-{due.id}" checked' in boxes
    assert f'value="{later.id}" id="done-step-{later.id}" >' in boxes and "发正式报价" in boxes
    now = (utcnow() + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/customers/{customer.id}/activities", data={
        "a-kind": "call", "a-occurred_at": now, "a-opportunity_id": "0", "a-outcome": "确认了",
        "a-done_step_ids": [str(due.id)]})
    assert response.status_code == 302
    db.session.expire_all()
    assert due.is_next_step_done is True and later.is_next_step_done is False


def test_forms_offer_only_what_the_reader_can_do_with_them(company, client_as, factory):
    team_head = factory.user("head", department=company["departments"]["sales1"], username="team1.head")
    db.session.commit()
    form = client_as(team_head).get("/plans/new").text
    levels = form[form.index('name="level"'):form.index("</select>", form.index('name="level"'))]
    assert 'value="company"' not in levels and 'value="department"' not in levels
    assert '<option selected value="team">' in levels or 'value="team" selected' in levels
    plan = services.create_plan(company["head"], "quarter", local_today(), "rep", {"signed_amount": "1000"},
                                user_id=company["staff"].id)
    services.transition_plan(plan, "submit", company["head"])
    db.session.commit()
    page = client_as("lead").get(f"/plans/{plan.id}").text
    actions = page[page.index('name="d-action"'):page.index("</select>", page.index('name="d-action"'))]
    assert 'value="approve"' in actions and 'value="return"' in actions and 'value="close"' not in actions


def test_plan_vs_actual_leads_back_up_and_on_to_a_reps_deals(company, client_as):
    sales1 = company["departments"]["sales1"]
    customer = customer_of(company["staff"], "甲公司")
    services.create_opportunity(customer, company["staff"], "年度合同", "1000")
    other = customer_of(company["staff2"], "乙公司")
    services.create_opportunity(other, company["staff2"], "试点", "2000")
    db.session.commit()
    client = client_as("head")
    team = client.get(f"/plans/actual?level=team&unit={sales1.id}&rep={company['staff'].id}").text
    crumbs = team[team.index('class="breadcrumb"'):team.index("</ol>")]
    assert f"unit={company['departments']['sales'].id}" in crumbs and "销售部" in crumbs
    assert f'href="/deals?owner_id={company["staff"].id}"' in team
    deals = client.get(f"/deals?owner_id={company['staff'].id}").text
    assert "年度合同" in deals and "试点" not in deals


def test_deals_export_as_the_list_filters_them(company, client_as):
    customer = customer_of(company["staff"], "甲公司")
    won = services.create_opportunity(customer, company["staff"], "年度合同", "12000.50")
    services.create_opportunity(customer, company["staff"], "二期", "1000")
    won.stage, won.closed_on = "won", local_today()
    services.create_opportunity(customer_of(company["staff2"], "乙公司"), company["staff2"], "试点", "2000")
    db.session.commit()
    head = client_as("head")
    assert 'href="/deals/export?' in head.get("/deals?stage=won").text
    rows = list(csv.DictReader(io.StringIO(head.get("/deals/export?format=csv&stage=won").get_data(
        as_text=True).lstrip("\ufeff"))))
    assert [(r["Deal"], r["Stage"], r["Amount"]) for r in rows] == [("年度合同", "Won", "12000.50")]
    everyone = head.get(f"/deals/export?format=csv&owner_id={company['staff'].id}").text
    assert "二期" in everyone and "试点" not in everyone
    assert client_as("staff").get("/deals/export?format=csv").status_code == 403
    assert head.get("/deals/export?format=pdf").status_code == 404


def test_the_pool_tells_a_rep_when_they_may_claim_back_a_customer_they_returned(company, client_as):
    customer = customer_of(company["staff"], "甲公司")
    services.release_to_pool(customer)
    db.session.commit()
    again = (local_today() + timedelta(days=services.CLAIM_BACK_DAYS)).isoformat()
    mine = client_as("staff").get("/customers/pool").text
    assert f"You may claim it from {again}" in mine and f'action="/customers/{customer.id}/claim"' not in mine
    assert f'action="/customers/{customer.id}/claim"' in client_as("staff2").get("/customers/pool").text


def test_a_finance_approver_sees_the_deal_on_the_quote_without_links_it_may_not_open(company, client_as):
    services.save_approval_rule(None, "折扣超过20% 财务", "20", None, "finance", 1)
    customer = services.create_customer("甲公司", company["staff"])
    deal = services.create_opportunity(customer, company["staff"], "年度框架", "150000")
    quote = services.create_quote(customer, company["staff"], "年度框架报价", "200000.00", "25", deal)
    services.submit_quote(quote, company["staff"])
    db.session.commit()
    page = client_as("finance").get(f"/quotes/{quote.id}").get_data(as_text=True)
    assert "甲公司" in page and f'href="/customers/{customer.id}"' not in page
    assert f'href="/deals/{deal.id}"' not in page and 'data-testid="deal-summary"' in page and "¥150,000.00" in page
    rep_page = client_as("staff").get(f"/quotes/{quote.id}").get_data(as_text=True)
    assert f'href="/customers/{customer.id}"' in rep_page and f'href="/deals/{deal.id}"' in rep_page


def test_marketing_hands_a_lead_to_sales_with_the_form_as_the_page_renders_it(company, client_as, app, monkeypatch):
    import re
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    lead = services.create_lead(company["other_staff"], "宏图物流")
    db.session.commit()
    client = client_as("other_staff")
    page = client.get("/leads").get_data(as_text=True)
    form = page[page.index(f'action="/leads/{lead.id}/hand"'):]
    form = form[:form.index("</form>")]
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    data.update({"h-owner_id": str(company["staff"].id), "h-respond_by": "2030-01-02T18:00"})
    assert client.post(f"/leads/{lead.id}/hand", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Lead, lead.id).owner_id == company["staff"].id


def test_finance_staff_open_a_quote_they_were_asked_about_after_a_colleague_decided(company, client_as, factory):
    clerk = factory.user("staff", department=company["departments"]["finance"], username="fin-clerk")
    services.save_approval_rule(None, "折扣超过20% 财务", "20", None, "finance", 1)
    customer = services.create_customer("甲公司", company["staff"])
    quote = services.create_quote(customer, company["staff"], "年度框架报价", "200000.00", "25")
    services.submit_quote(quote, company["staff"])
    services.reject_quote(quote, company["finance"], "折扣超出政策")
    db.session.commit()
    assert client_as(clerk).get(f"/quotes/{quote.id}").status_code == 200
    assert client_as("other_staff").get(f"/quotes/{quote.id}").status_code == 403  # never asked
