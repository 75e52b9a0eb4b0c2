"""The leads list a reminder opens: the linked row is marked and clear of the top edge, and on a phone a rep's
Accept and Send back buttons are on screen, under the company's name."""
from datetime import timedelta

import pytest

from rollout.audit.services import acting_as
from rollout.extensions import db
from rollout.plans import services
from rollout.timeutil import utcnow
from tests.conftest import log_in


def _handed(company, count=1):
    leads = []
    for number in range(count):
        lead = services.create_lead(company["other_staff"], f"宏图物流{number:02d}有限公司")
        with acting_as(company["other_staff"]):
            services.hand_lead(lead, company["staff"], utcnow() + timedelta(hours=30 + number), company["other_staff"])
        leads.append(lead)
    db.session.commit()
    return leads


def test_the_linked_row_is_styled_and_the_buttons_are_there_for_a_phone_and_a_wide_screen(company, client_as):
    [lead] = _handed(company)
    page = client_as("staff").get("/leads?status=handed&mine=1").text
    assert ".lead-row:target" in page and "scroll-margin-top" in page
    assert f'<tr id="lead-{lead.id}" class="lead-row' in page
    # Once for a phone (under the name), once for a wider screen (its own column).
    assert page.count(f'action="/leads/{lead.id}/respond"') == 2
    assert 'class="d-md-none mt-2 lead-actions-narrow"' in page


@pytest.mark.browser
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_on_a_phone_the_buttons_are_on_screen_and_the_linked_row_is_marked(browser, live_server, company, locale):
    ids = [lead.id for lead in _handed(company, count=12)]
    db.session.close()
    context = browser.new_context(locale=locale, viewport={"width": 390, "height": 844}, is_mobile=True,
                                  extra_http_headers={"Accept-Language": locale})
    page = context.new_page()
    try:
        log_in(page, live_server, "staff")
        page.goto(f"{live_server}/leads?status=handed&mine=1#lead-{ids[-1]}")
        row = page.locator(f"#lead-{ids[-1]}")
        for value in ("accept", "reject"):
            button = row.locator(f"button[value={value}]:visible")
            assert button.count() == 1
            box = button.bounding_box()
            assert 0 <= box["x"] and box["x"] + box["width"] <= 390, (value, box)
        # Scrolled to, marked, and not under the top edge.
        cell = row.locator("td").first
        assert cell.evaluate("c => getComputedStyle(c).boxShadow") != "none"
        assert row.bounding_box()["y"] >= 40
        other = page.locator(f"#lead-{ids[0]} td").first
        assert other.evaluate("c => getComputedStyle(c).boxShadow") != cell.evaluate(
            "c => getComputedStyle(c).boxShadow")
    finally:
        context.close()
