"""The weekly signed-amount chart says why it is empty instead of drawing a meaningless 0–1 axis."""
from datetime import date

from rollout.extensions import db
from rollout.plans import services


def _plan(company, targets):
    plan = services.create_plan(company["head"], "quarter", date(2026, 10, 15), "rep", targets,
                                user_id=company["staff"].id)
    db.session.commit()
    return plan


def test_a_plan_without_a_signed_amount_target_or_won_deals_says_so(company, client_as):
    plan = _plan(company, {"visits": "20"})
    page = client_as("head").get(f"/plans/{plan.id}").text
    assert 'data-testid="chart-empty"' in page
    assert "no deal has been won in this period and the plan sets no signed-amount target" in page


def test_a_target_draws_the_chart(company, client_as):
    plan = _plan(company, {"signed_amount": "100000"})
    page = client_as("head").get(f"/plans/{plan.id}").text
    assert 'data-testid="chart-empty"' not in page and "<svg" in page
