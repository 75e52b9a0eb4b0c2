"""In a real browser at 1280 px, in both languages: plan vs actual shows every column without scrolling."""
from datetime import date, datetime, time, timedelta

import pytest

from rollout.extensions import db
from rollout.plans import services
from rollout.timeutil import local_today
from tests.conftest import log_in

pytestmark = pytest.mark.browser

#: The cells of an element whose text takes more than one line (its height over one and a half lines).
WRAPPED = """row => Array.from(row.cells).slice(1).filter(cell => {
  const range = document.createRange(); range.selectNodeContents(cell);
  return range.getBoundingClientRect().height > 1.5 * parseFloat(getComputedStyle(cell).lineHeight);
}).map(cell => cell.innerText)"""


def _company_with_plans(company) -> date:
    """Last quarter's company and department plans with all five targets, won deals in millions, and a
    company name as long as real ones; returns a day of that quarter."""
    lead, staff = company["lead"], company["staff"]
    day = services.period_bounds("quarter", local_today())[0] - timedelta(days=1)
    company["departments"]["company"].name = "华东智联科技有限公司"
    targets = {"signed_amount": "8400000", "new_customers": "80", "visits": "320", "quotes": "48", "won_deals": "48"}
    for department in (company["departments"]["company"], company["departments"]["sales"]):
        level = "company" if department.kind == "company" else "department"
        services.create_plan(lead, "quarter", day, level, targets, department_id=department.id)
    won_at = datetime.combine(day, time(4))  # noon in China, in UTC
    for number in range(3):
        customer = services.create_customer(f"华东客户{number}有限公司", staff, created_at=won_at)
        deal = services.create_opportunity(customer, staff, f"年度框架合同{number}", "1540391.67",
                                           stage="negotiating", created_at=won_at)
        services.move_stage(deal, "won", staff, when=won_at)
    db.session.commit()
    return day


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_plan_vs_actual_fits_the_page(browser, live_server, company, locale):
    day = _company_with_plans(company)
    db.session.close()
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900},
                                  extra_http_headers={"Accept-Language": locale})
    page = context.new_page()
    try:
        log_in(page, live_server, "lead")
        page.goto(f"{live_server}/plans/actual?period=quarter&day={day}")
        table = page.locator("[data-testid=plan-vs-actual]")
        overflow = table.evaluate("t => t.scrollWidth - t.parentElement.clientWidth")
        assert overflow <= 0, f"the table is {overflow}px wider than its box"
        # Fitting is not squeezing: no figure is broken over two lines.
        for row in table.locator("tbody tr").all():
            assert row.evaluate(WRAPPED) == []
        # The last columns (won deals' share, forecast) are on screen, not behind a scroll bar.
        last = table.locator("tbody tr").first.locator("td").last
        box = last.bounding_box()
        assert box["x"] + box["width"] <= 1280
        assert last.inner_text().strip() == "4,621,175.01"  # the forecast: what was signed, whole
        assert page.locator("[data-testid=behind]").count() >= 2
    finally:
        context.close()
