"""In a real browser: the form editor swaps the map and tables in place (htmx), errors included."""
import pytest

from rollout.extensions import db
from tests.conftest import TEST_PASSWORD
from tests.processmaps.helpers import sales_process

pytestmark = pytest.mark.browser


def test_editor_redraws_the_map_in_place_and_shows_errors(page, live_server, company):
    process_id = sales_process(company).id
    db.session.commit()
    db.session.close()  # hold no read transaction while the server writes
    page.goto(f"{live_server}/login")
    page.fill("#username", "head")
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
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
