"""The home page lists a rep's oldest overdue next steps, says how many there are and leads to all of them."""
from datetime import timedelta

import pytest

from rollout.extensions import db
from rollout.timeutil import local_today, utcnow

plans = pytest.importorskip("rollout.plans.services")


def test_the_home_card_shows_the_oldest_five_of_all_and_links_to_the_rest(company, client_as):
    staff = company["staff"]
    customer = plans.create_customer("甲公司", staff)
    for days in range(1, 8):
        plans.log_activity(customer, staff, "call", utcnow() - timedelta(days=30), f"通话{days}",
                           next_step=f"回访{days}", next_step_on=local_today() - timedelta(days=days))
    db.session.commit()
    page = client_as("staff").get("/").get_data(as_text=True)
    card = page.split('data-testid="home-overdue"')[1].split("</div></div></div>")[0]
    assert card.count("回访") == 5 and "回访7" in card and "回访1<" not in card  # the oldest first
    assert "the oldest 5 of 7" in card and "All my overdue next steps (7)" in card
    assert f"/activities?overdue=1&amp;user_id={staff.id}" in card


def test_no_count_line_when_nothing_is_overdue(company, client_as):
    page = client_as("staff").get("/").get_data(as_text=True)
    assert "Nothing overdue." in page and 'data-testid="home-overdue-total"' not in page


def test_colleagues_outside_sales_are_not_greeted_with_empty_sales_cards(company, client_as):
    """A rep opens on their plan and follow-ups; the finance colleague, for whom neither is work, does not."""
    rep_home = client_as("staff").get("/").text
    assert "My plan progress" in rep_home and "Overdue follow-ups" in rep_home
    finance_home = client_as("finance").get("/").text
    assert "My plan progress" not in finance_home and "Overdue follow-ups" not in finance_home
