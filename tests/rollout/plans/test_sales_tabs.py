"""The sales pages' tab bar shows each person the tabs that are their work: a finance approver Quotes, the
marketing department Campaigns and Leads, sales people every sales tab. Access itself is unchanged."""
import re

import pytest

from rollout.extensions import db
from rollout.plans import services
from tests.conftest import chinese_client

SELLING = ["/plans", "/plans/actual", "/customers", "/customers/pool", "/activities", "/deals", "/quotes",
           "/campaigns", "/leads"]


def _tabs(page: str) -> list[str]:
    if '<ul class="nav nav-tabs mb-3">' not in page:
        return []
    bar = page.split('<ul class="nav nav-tabs mb-3">', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'href="([^"]+)"', bar)


@pytest.fixture
def it_staff(company, factory):
    it = factory.department("IT部", parent=company["departments"]["company"], code="it")
    return factory.user("staff", department=it, username="it1")


def _finance_rule():
    services.save_approval_rule(None, "折扣超过20% 财务", "20", None, "finance", 1)
    db.session.commit()


def test_a_sales_rep_without_records_yet_sees_every_sales_tab(company, client_as):
    assert _tabs(client_as("staff").get("/customers").text) == SELLING
    assert _tabs(client_as("head").get("/plans").text) == SELLING


def test_leads_and_admins_see_every_tab(company, client_as):
    assert _tabs(client_as("lead").get("/plans").text) == SELLING
    assert _tabs(client_as("admin").get("/plans").text) == SELLING + ["/plans/settings"]


def test_a_finance_approver_sees_quotes_and_not_the_selling_tabs(company, client_as):
    _finance_rule()
    finance = client_as("finance")
    assert _tabs(finance.get("/quotes").text) == ["/quotes"]
    # Reached by the main menu's Plans entry: the page they are on stays in the bar, beside their own.
    assert _tabs(finance.get("/plans").text) == ["/plans", "/quotes"]


def test_a_finance_colleague_who_decided_a_quote_keeps_the_quotes_tab_after_the_rule_is_switched_off(
        company, client_as):
    _finance_rule()
    customer = services.create_customer("甲公司", company["staff"])
    quote = services.create_quote(customer, company["staff"], "报价", "1000", "25")
    services.submit_quote(quote, company["staff"])
    services.approve_step(quote, company["finance"])
    for rule in db.session.scalars(db.select(services.QuoteApprovalRule)):
        rule.is_active = False
    db.session.commit()
    assert "/quotes" in _tabs(client_as("finance").get("/quotes").text)


def test_marketing_sees_campaigns_and_leads(company, client_as):
    assert _tabs(client_as("other_staff").get("/campaigns").text) == ["/campaigns", "/leads"]
    assert _tabs(client_as("other_head").get("/leads").text) == ["/campaigns", "/leads"]


def test_someone_outside_sales_sees_no_tabs_but_keeps_access(company, client_as, it_staff):
    client = client_as(it_staff)
    assert _tabs(client.get("/quotes").text) == []  # no row of tabs that are not their work
    for path in ("/plans", "/customers", "/quotes", "/campaigns"):
        assert client.get(path).status_code == 200, path  # nothing taken away


def test_anyone_holding_sales_records_sees_the_sales_tabs(company, client_as, it_staff):
    services.create_customer("乙公司", it_staff)
    db.session.commit()
    assert _tabs(client_as(it_staff).get("/customers").text) == SELLING


def test_a_department_with_its_own_sales_settings_sells(company, client_as, it_staff):
    services.save_settings(it_staff.department_id, 30, 5, 10)
    db.session.commit()
    assert _tabs(client_as(it_staff).get("/customers").text) == SELLING


def test_the_tabs_read_in_chinese(app, company):
    _finance_rule()
    page = chinese_client(app, company["finance"]).get("/quotes").get_data(as_text=True)
    bar = page.split('<ul class="nav nav-tabs mb-3">', 1)[1].split("</ul>", 1)[0]
    assert "报价" in bar and "公海" not in bar


def test_where_the_main_menu_sales_entries_lead(company, it_staff):
    _finance_rule()
    assert services.sales_menu_endpoint(company["staff"], "plans.index") == "plans.index"
    assert services.sales_menu_endpoint(company["staff"], "plans.customers") == "plans.customers"
    assert services.sales_menu_endpoint(company["finance"], "plans.index") == "plans.quotes"
    assert services.sales_menu_endpoint(company["finance"], "plans.customers") is None
    assert services.sales_menu_endpoint(company["other_staff"], "plans.index") == "plans.campaigns"
    assert services.sales_menu_endpoint(it_staff, "plans.index") is None
    assert services.sales_menu_endpoint(it_staff, "plans.customers") is None


def test_the_tab_bar_costs_the_same_statements_however_many_records(company, client_as, count_statements):
    _finance_rule()
    client = client_as("finance")
    counts = []
    for size in (1, 6):
        for n in range(size):
            customer = services.create_customer(f"客户{size}-{n}", company["staff"])
            quote = services.create_quote(customer, company["staff"], "报价", "1000", "25")
            services.submit_quote(quote, company["staff"])
        db.session.commit()
        client.get("/quotes")
        db.session.expire_all()
        with count_statements() as counter:
            assert client.get("/quotes").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]


def _menu(page: str) -> list[str]:
    """The main menu's addresses."""
    return re.findall(r'<li class="nav-item"><a class="nav-link[^"]*"(?: aria-current="page")? href="([^"]+)"', page)


def test_the_main_menu_leads_non_sales_staff_to_their_own_sales_work(company, client_as, it_staff):
    def menu(who):
        return _menu(client_as(who).get("/").text)

    assert {"/plans", "/customers"} <= set(menu("staff")) and {"/plans", "/customers"} <= set(menu("admin"))
    assert "/plans" not in menu(it_staff) and "/customers" not in menu(it_staff)
    _finance_rule()
    finance = menu("finance")
    assert "/quotes" in finance and "/customers" not in finance and "/plans" not in finance
    # The pages stay open to whoever rollout/access.py lets in.
    assert client_as("finance").get("/customers").status_code == 200
