"""In a real browser at 1280 px: a retro's action items fit their table and their menu opens whole."""
from datetime import date

import pytest

from rollout.extensions import db
from rollout.retros import services
from tests.conftest import log_in

pytestmark = pytest.mark.browser

#: Whether an element's text takes a single line (its height below one and a half lines).
ONE_LINE = """el => { const range = document.createRange(); range.selectNodeContents(el);
  return range.getBoundingClientRect().height < 1.5 * parseFloat(getComputedStyle(el).lineHeight); }"""


def test_action_items_fit_and_their_menu_works(page, live_server, company, factory):
    team = company["departments"]["sales1"]
    owner = factory.user("staff", department=team, display_name="销售代表 张伟")
    retro = services.create_retro(team, "第48周回顾", date(2026, 11, 27), "start_stop_continue", company["head"])
    services.transition_retro(retro, "reveal")
    for number in range(2):
        services.add_action_item(retro, "整理客户查重误报案例发给IT，附上截图和客户名称", owner.id,
                                 date(2026, 12, 6 + number), None)
    db.session.commit()
    retro_id = retro.id
    db.session.close()
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server, "head")
    page.goto(f"{live_server}/retros/{retro_id}")
    row = page.locator("#actions tbody tr").first
    assert row.locator("td").nth(1).evaluate(ONE_LINE), "the owner's name wraps"
    assert row.locator("td").nth(2).evaluate(ONE_LINE), "the due date wraps"
    # A whole date fits the date box of the form below the table.
    assert page.locator("#due_on").bounding_box()["width"] >= 160
    row.get_by_role("button", name="Actions").click()
    # Clicking checks the item is really there to click, not cut off by the scrolling table.
    row.get_by_role("button", name="Start").click()
    page.wait_for_url(f"**/retros/{retro_id}#actions")
    assert page.locator("#actions tbody tr").first.locator("td:nth-child(4) .badge").inner_text() == "In progress"
