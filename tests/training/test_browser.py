"""In a real browser: a long list of people narrows to the name typed above it."""
import pytest

from rollout.extensions import db
from tests.conftest import log_in

pytestmark = pytest.mark.browser


def test_a_long_list_of_people_narrows_to_the_name_typed(page, live_server, company, factory):
    for number in range(30):
        factory.user("staff", department=company["departments"]["sales1"], display_name=f"销售{number:02d}")
    db.session.commit()
    db.session.close()
    log_in(page, live_server, "lead")
    page.goto(f"{live_server}/training/seeds")
    page.get_by_placeholder("Type a name").fill("销售17")
    visible = page.locator("#seed-user option:not([hidden])")
    assert [text.split(" · ")[0] for text in visible.all_inner_texts()] == ["销售17"]
    assert page.locator("#seed-user").input_value() == page.locator("#seed-user option:not([hidden])").get_attribute("value")
    page.get_by_role("button", name="Name seed user").click()
    page.locator("[data-testid=coverage]", has_text="销售17").wait_for()
