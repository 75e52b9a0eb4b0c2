"""In a real browser: the form editor swaps the map and tables in place (htmx), errors included; the step
picker other forms use keeps ticked steps when another process is chosen."""
import pytest

from rollout.extensions import db
from tests.conftest import log_in
from tests.processmaps.helpers import sales_process

pytestmark = pytest.mark.browser


def test_editor_redraws_the_map_in_place_and_shows_errors(page, live_server, company):
    process_id = sales_process(company).id
    db.session.commit()
    db.session.close()  # hold no read transaction while the server writes
    log_in(page, live_server, "head")
    page.goto(f"{live_server}/processes/{process_id}/v/1")
    page.evaluate("window.__sameDocument = true")
    form = page.locator("[data-testid=add-node]")
    form.locator("input[name='newnode-name']").fill("合同评审")
    form.locator("input[name='newnode-owner_role']").fill("法务专员")
    form.locator("button").click()
    page.locator("[data-testid=process-map] svg text", has_text="合同评审").wait_for()
    assert page.locator("[data-testid=checks]").inner_text().count("合同评审") >= 1
    # An empty name comes back with its error, still without a page load.
    page.locator("[data-testid=add-node] button").click()
    page.locator("[data-testid=add-node] .invalid-feedback").wait_for()
    assert page.evaluate("window.__sameDocument") is True


def test_step_picker_keeps_ticked_steps_when_another_process_is_chosen(page, live_server, company):
    from processmaps import services
    sales = sales_process(company, approve=True)
    other = services.create_process("线索分配", actor=company["lead"])
    services.add_node(other.versions[0], key="assign", kind="task", name="分配线索")
    db.session.commit()
    sales_id, other_id = sales.id, other.id
    db.session.close()  # hold no read transaction while the server writes
    log_in(page, live_server, "staff")
    page.goto(f"{live_server}/changes/new")
    picker = page.locator("[data-testid=step-picker]")
    picker.locator("select").select_option(str(sales_id))
    picker.get_by_label("报价审批").check()
    picker.locator("select").select_option(str(other_id))
    picker.get_by_label("分配线索").wait_for()
    assert picker.get_by_label("销售流程 v1 › 报价审批").is_checked()
    assert picker.get_by_label("报价", exact=True).count() == 0  # the first process's other steps are gone
    picker.get_by_label("分配线索").check()
    page.fill("input[name=title]", "报价审批改为两级")
    page.fill("textarea[name=description]", "金额大的报价要总监审批。")
    page.fill("textarea[name=reason]", "控制折扣。")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url("**/changes/*")
    steps = page.locator("dd", has_text="报价审批").inner_text()
    assert "报价审批" in steps and "分配线索" in steps


def test_long_values_wrap_in_the_steps_table_and_the_editor_says_what_it_did(page, live_server, company):
    from processmaps import services
    process = sales_process(company)
    quote = next(n for n in process.versions[0].nodes if n.key == "quote")
    services.update_node(quote, name="报价" * 60,
                         owner_role="Regional-Key-Account-Sales-Manager-For-East-China-Region-XX")
    db.session.commit()
    process_id, quote_id = process.id, quote.id
    db.session.close()  # hold no read transaction while the server writes
    log_in(page, live_server, "head")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server}/processes/{process_id}/v/1")
    row = page.locator(f"#node-row-{quote_id}")
    # The department, time limit and data item columns keep a readable width beside the long values.
    for column in (5, 6, 7):
        assert row.locator(f"td:nth-child({column})").bounding_box()["width"] >= 80, column
    assert page.locator("[data-testid=nodes]").bounding_box()["width"] <= 1280
    # The map draws the long name wrapped: the step is not page-wide.
    box = page.locator("#node-quote").bounding_box()
    svg = page.locator("[data-testid=process-map] svg").bounding_box()
    assert box["width"] < svg["width"] / 3
    # Adding a step says so; an error leaves the map's address in the address bar.
    form = page.locator("[data-testid=add-node]")
    form.locator("input[name='newnode-name']").fill("合同评审")
    form.locator("input[name='newnode-owner_role']").fill("法务专员")
    form.locator("button").click()
    page.locator("[data-testid=editor-message]", has_text="合同评审").wait_for()
    form = page.locator("[data-testid=add-node]")
    form.locator("input[name='newnode-name']").fill("合同归档")
    form.locator("input[name='newnode-time_limit']").fill("abc")
    form.locator("button").click()
    page.locator("[data-testid=add-node] .invalid-feedback", has_text="time limit").wait_for()
    assert page.url.split("#")[0].endswith(f"/processes/{process_id}/v/1")
    page.reload()
    assert page.url.split("#")[0].endswith(f"/processes/{process_id}/v/1")
