"""In a real browser: a long list of people narrows to the name typed above it; a support request's
answer that did not help is replied to and the request opens again."""
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


def test_an_answer_that_did_not_help_is_replied_to_and_the_request_opens_again(page, live_server, company, factory):
    from training import support
    seed = factory.user("staff", department=company["departments"]["sales1"], is_seed_user=True, username="seed")
    item = support.create_request(company["staff"], "客户地址可以填多个吗？", "")
    support.answer(item, seed, "在客户详情页右上角的 **更多** 菜单里。")
    db.session.commit()
    request_id = item.id
    db.session.close()
    log_in(page, live_server, "staff")
    page.goto(f"{live_server}/training/support/{request_id}")
    page.get_by_role("link", name="No, reply").click()
    page.get_by_label("Your reply (Markdown)").fill("“更多”菜单里没有添加地址。")
    page.get_by_role("button", name="Send reply").click()
    page.get_by_text("Your reply is sent and the request is open again.").wait_for()
    assert page.locator("[data-testid=status]").inner_text() == "Awaiting answer"
    assert "“更多”菜单里没有添加地址。" in page.locator("[data-testid=conversation]").inner_text()


def test_a_form_posted_twice_in_a_row_asks_once(page, live_server, company):
    from sqlalchemy import func, select

    from training.models import SupportRequest
    db.session.close()
    log_in(page, live_server, "staff")
    page.goto(f"{live_server}/training/support")
    page.locator("input[name=subject]").fill("客户地址可以填多个吗？")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    # A second submission while the first answer is still on its way (a slow network, a double click).
    page.route("**/training/support", lambda route: (page.wait_for_timeout(400), route.continue_()))
    page.evaluate("""() => { const form = document.querySelector('input[name=subject]').form;
                             form.requestSubmit(); setTimeout(() => form.requestSubmit(), 100); }""")
    page.wait_for_timeout(1500)
    assert len(posts) == 1
    assert db.session.scalar(select(func.count()).select_from(SupportRequest)) == 1
