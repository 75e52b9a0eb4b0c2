"""In a real browser, in both languages, on a phone: a failed submit puts the focus and the screen on the
first invalid field, Tab first reaches a visible skip link, titles do not break beside their buttons,
an overdue training's badge is on screen, and dates never break at their hyphens."""
from datetime import timedelta

import pytest

from rollout.extensions import db
from rollout.notify.services import notify
from rollout.timeutil import local_today
from tests.conftest import TEST_PASSWORD
from training.models import Course, Track

pytestmark = pytest.mark.browser

PHONE = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
#: Whether an element's text takes a single line (its height below one and a half lines).
ONE_LINE = """el => { const range = document.createRange(); range.selectNodeContents(el);
  return range.getBoundingClientRect().height < 1.5 * parseFloat(getComputedStyle(el).lineHeight); }"""
WORDS = {"zh-CN": {"overdue": "已逾期", "skip": "跳到正文"}, "en": {"overdue": "Overdue", "skip": "Skip to main content"}}


def _phone(browser, live_server, locale, username):
    context = browser.new_context(locale=locale, extra_http_headers={"Accept-Language": locale}, **PHONE)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    return context, page


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_on_a_phone_errors_titles_badges_and_dates_stay_readable(browser, live_server, company, locale):
    sales = company["departments"]["sales"]
    sales.go_live_on = local_today()  # due a week before go-live: overdue
    track = Track(name="销售代表-基础", tier="basic", role="staff", department=sales, due_days_before_go_live=7)
    db.session.add_all([track, Course(track=track, position=1, title="报价审批流程", duration_minutes=60)])
    notify([company["staff2"]], "test", "客户来电", "请回电 0571-86012345，截止 2026-09-22 18:00。", None)
    db.session.commit()
    db.session.close()
    context, page = _phone(browser, live_server, locale, "staff2")
    try:
        # Tab first reaches the skip link, shown while focused; it leads to the content.
        page.keyboard.press("Tab")
        skip = page.locator(".skip-link")
        assert skip.evaluate("el => el === document.activeElement") and skip.is_visible()
        assert skip.inner_text().strip() == WORDS[locale]["skip"]
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"

        # A failed save: the focus and the screen go to the invalid field, at the top of a long form.
        page.goto(f"{live_server}/customers/new")
        save = page.locator("main button[type=submit]")
        save.scroll_into_view_if_needed()
        with page.expect_navigation():
            save.tap()
        assert page.evaluate("document.activeElement.id") == "name"
        box = page.locator("#name").bounding_box()
        assert 0 <= box["y"] and box["y"] + box["height"] <= 844

        # The title keeps its words whole; its buttons wrap below it.
        page.goto(f"{live_server}/notifications")
        assert page.locator("main h1").evaluate(ONE_LINE)
        # A phone number and a date in any text keep their hyphens on one line.
        for run in ("0571-86012345", "2026-09-22 18:00"):
            assert page.locator("main span.text-nowrap", has_text=run).evaluate(ONE_LINE)
        page.goto(f"{live_server}/training/")
        assert page.locator("main h1").evaluate(ONE_LINE)
        badge = page.get_by_text(WORDS[locale]["overdue"], exact=True)
        box = badge.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        # The due date under the track's name is whole, on one line.
        due = page.get_by_text((local_today() - timedelta(days=7)).isoformat(), exact=True).first
        assert due.evaluate(ONE_LINE)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
