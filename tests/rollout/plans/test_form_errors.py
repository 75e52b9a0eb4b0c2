"""Bad input on the plan-tracking forms: every bad field marked at once, at the field, nothing written;
quotes that have run out are neither saved nor sent for approval."""
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.plans import services
from rollout.plans.models import Opportunity, Quote, QuoteApprovalStep, SalesPlan
from rollout.timeutil import local_today

TARGETS = {"signed_amount": "100000", "visits": "20"}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def field_errors(html: str, field_id: str) -> list[str]:
    """The error messages the form macro shows under the input with this id."""
    block = html.split(f'id="{field_id}"', 1)[1].split('<div class="mb-3', 1)[0]
    return re.findall(r'<div class="invalid-feedback d-block">([^<]*)</div>', block)


# --- quotes ------------------------------------------------------------------------------------------------
def test_a_quote_cannot_be_valid_only_until_a_past_day(company):
    customer = services.create_customer("甲公司", company["staff"])
    yesterday = local_today() - timedelta(days=1)
    with pytest.raises(ServiceError) as refused:
        services.create_quote(customer, company["staff"], "报价", "1000", "0", valid_until=yesterday)
    assert refused.value.field == "valid_until" and yesterday.isoformat() in refused.value.message
    quote = services.create_quote(customer, company["staff"], "报价", "1000", "0", valid_until=local_today())
    with pytest.raises(ServiceError) as refused:
        services.update_quote(quote, "报价", "1000", "0", valid_until=date(2020, 1, 1))
    assert refused.value.field == "valid_until"
    assert count(Quote) == 1


def test_a_quote_whose_validity_has_passed_is_not_sent_for_approval(company):
    """A draft saved while still valid runs out later: submitting it is refused until it is revised."""
    customer = services.create_customer("甲公司", company["staff"])
    quote = services.create_quote(customer, company["staff"], "报价", "1000", "0", valid_until=local_today())
    quote.valid_until = date(2020, 1, 1)  # saved when it was still valid
    db.session.flush()
    with pytest.raises(ServiceError, match="2020-01-01") as refused:
        services.submit_quote(quote, company["staff"])
    assert refused.value.field == "valid_until"
    assert quote.status == "draft" and quote.revision == 1 and count(QuoteApprovalStep) == 0
    services.update_quote(quote, "报价", "1000", "0", valid_until=local_today() + timedelta(days=30))
    assert services.submit_quote(quote, company["staff"]).status == "approved"


def test_submitting_an_expired_quote_over_http_says_why_and_changes_nothing(company, client_as):
    customer = services.create_customer("甲公司", company["staff"])
    quote = services.create_quote(customer, company["staff"], "报价", "1000", "0")
    quote.valid_until = date(2020, 1, 1)
    db.session.commit()
    client = client_as("staff")
    page = client.get(f"/quotes/{quote.id}").get_data(as_text=True)
    assert 'data-testid="quote-expired"' in page and "2020-01-01, which has passed" in page
    response = client.post(f"/quotes/{quote.id}/submit", follow_redirects=True)
    assert "which has passed: revise it with a new validity date" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Quote, quote.id).status == "draft"


def test_the_quote_form_marks_the_discount_and_the_past_validity_together(company, client_as):
    customer = services.create_customer("甲公司", company["staff"])
    db.session.commit()
    response = client_as("staff").post(f"/customers/{customer.id}/quotes/new", data={
        "title": "报价", "list_amount": "10000", "discount_percent": "-10", "valid_until": "2020-01-01",
        "opportunity_id": "0"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_errors(html, "discount_percent") == [
        "Enter a percentage between 0 and 100 (at most two decimal places)."]
    assert "2020-01-01 has already passed" in field_errors(html, "valid_until")[0]
    assert "cannot be negative" not in html  # the discount is a percentage, not an amount
    assert count(Quote) == 0


@pytest.mark.parametrize("typed, stored", [("15", "15.00"), ("15%", "15.00"), ("12.5 ％", "12.50"), ("", "0.00"),
                                           ("100", "100.00")])
def test_discounts_are_percentages(typed, stored):
    assert str(services.parse_percent(typed)) == stored


@pytest.mark.parametrize("typed", ["-10", "100.01", "abc", "1.234", "1e400"])
def test_a_discount_outside_0_to_100_names_the_percentage(typed):
    with pytest.raises(ServiceError, match="percentage between 0 and 100") as refused:
        services.parse_percent(typed)
    assert refused.value.field == "discount_percent"


# --- deals -----------------------------------------------------------------------------------------------------
def test_an_empty_deal_form_marks_its_fields_not_a_banner(company, client_as):
    customer = services.create_customer("甲公司", company["staff"])
    db.session.commit()
    response = client_as("staff").post(f"/customers/{customer.id}/deals", data={
        "o-name": "", "o-amount": "", "o-campaign_id": "0"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_errors(html, "o-name") == ["This field is required."]
    assert field_errors(html, "o-amount") == ["This field is required."]
    assert "alert-danger" not in html  # no banner naming no field
    assert count(Opportunity) == 0


def test_a_deal_with_several_bad_values_is_refused_at_each_field(company, client_as):
    customer = services.create_customer("甲公司", company["staff"])
    with pytest.raises(services.InvalidFields) as refused:
        services.create_opportunity(customer, company["staff"], " ", "-1", date(1999, 1, 1))
    assert set(refused.value.errors) == {"name", "amount", "expected_close_on"}
    db.session.commit()
    response = client_as("staff").post(f"/customers/{customer.id}/deals", data={
        "o-name": "大单", "o-amount": "-5", "o-expected_close_on": "1999-01-01", "o-campaign_id": "0"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_errors(html, "o-amount") == ["An amount cannot be negative."]
    assert "between" in field_errors(html, "o-expected_close_on")[0]
    assert count(Opportunity) == 0


# --- plans --------------------------------------------------------------------------------------------------------
def test_a_plan_clashing_with_another_also_reports_its_bad_targets(company):
    services.create_plan(company["head"], "quarter", date(2026, 10, 15), "rep", TARGETS, user_id=company["staff"].id)
    with pytest.raises(services.InvalidFields) as refused:
        services.create_plan(company["head"], "quarter", date(2026, 11, 1), "rep",
                             {"signed_amount": "-5", "visits": "2.5", "quotes": "abc"}, user_id=company["staff"].id)
    errors = refused.value.errors
    assert set(errors) == {"starts_on", "signed_amount", "visits", "quotes"}
    assert "overlaps" in errors["starts_on"] and "whole number" in errors["visits"]
    assert count(SalesPlan) == 1


def test_the_plan_form_marks_the_overlap_and_the_targets_at_once(company, client_as):
    services.create_plan(company["head"], "quarter", date(2026, 10, 15), "rep", TARGETS, user_id=company["staff"].id)
    db.session.commit()
    response = client_as("head").post("/plans/new", data={
        "period_kind": "quarter", "starts_on": "2026-11-05", "level": "rep", "department_id": "0",
        "user_id": str(company["staff"].id), "signed_amount": "-5", "visits": "2.5", "quotes": "-1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "overlaps" in field_errors(html, "starts_on")[0]
    assert field_errors(html, "signed_amount") == ["An amount cannot be negative."]
    assert field_errors(html, "visits") == ["A count is a whole number."]
    assert field_errors(html, "quotes") == ["A count cannot be negative."]  # a count, not an amount
    assert count(SalesPlan) == 1


def test_changing_targets_marks_every_bad_one(company, client_as):
    plan = services.create_plan(company["head"], "quarter", date(2026, 10, 15), "rep", TARGETS,
                                user_id=company["staff"].id)
    db.session.commit()
    response = client_as("head").post(f"/plans/{plan.id}", data={
        "t-signed_amount": "x", "t-visits": "1.5", "t-reason": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_errors(html, "t-signed_amount") and field_errors(html, "t-visits")
    db.session.expire_all()
    assert db.session.get(SalesPlan, plan.id).target("visits") == 20


# --- custom fields -------------------------------------------------------------------------------------------------
def test_a_choice_is_matched_regardless_of_case_and_a_wrong_one_names_the_options(company):
    fields = [services.save_field(None, "level", "客户等级", "choice", "A\nB\nC", False),
              services.save_field(None, "size", "企业规模", "choice", "大\n中\n小", False),
              services.save_field(None, "focus", "关注点", "multi_choice", "价格\n服务", False)]
    assert services.clean_extra({"level": "b", "focus": ["服务", "价格"]}, fields) == {
        "level": "B", "focus": ["服务", "价格"]}
    with pytest.raises(services.InvalidFields) as refused:
        services.clean_extra({"level": "D", "size": "超大", "focus": ["价钱"]}, fields)
    errors = refused.value.errors
    assert set(errors) == {"x_level", "x_size", "x_focus"}  # every bad field at once
    assert "“D”" in errors["x_level"] and "A / B / C" in errors["x_level"]
    assert "“超大”" in errors["x_size"] and "大 / 中 / 小" in errors["x_size"]


def test_a_choice_that_two_options_match_but_for_case_is_refused(company):
    field = services.save_field(None, "grade", "等级", "choice", "Ab\naB", False)
    assert services.clean_extra({"grade": "aB"}, [field]) == {"grade": "aB"}
    with pytest.raises(ServiceError, match="not one of the options"):
        services.clean_extra({"grade": "ab"}, [field])
