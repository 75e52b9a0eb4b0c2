"""The public pool tells a rep who returned a customer when, to the minute, they may claim it back."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from rollout.extensions import db
from rollout.plans import services
from rollout.plans.models import CustomerAssignment
from rollout.plans.services import ServiceError
from rollout.timeutil import to_local, utcnow
from tests.conftest import chinese_client


def _returned(user, name, at: datetime):
    """``user``'s customer ``name``, returned to the pool at ``at`` (UTC)."""
    customer = services.create_customer(name, user)
    services.release_to_pool(customer)
    db.session.flush()
    assignment = db.session.scalars(select(CustomerAssignment).where(
        CustomerAssignment.customer_id == customer.id, CustomerAssignment.kind == "release")).one()
    assignment.created_at = at
    db.session.commit()
    return customer


def test_the_pool_shows_the_local_date_and_time_a_returned_customer_may_be_claimed_back(company, client_as):
    at = (utcnow() - timedelta(days=2)).replace(hour=17, minute=47, second=0, microsecond=0)
    customer = _returned(company["staff"], "甲公司", at)
    again = to_local(at + timedelta(days=services.CLAIM_BACK_DAYS)).strftime("%Y-%m-%d %H:%M")
    page = client_as("staff").get("/customers/pool").get_data(as_text=True)
    assert f"You may claim it from {again}" in page
    assert f'action="/customers/{customer.id}/claim"' not in page
    # A colleague may claim it now.
    assert f'action="/customers/{customer.id}/claim"' in client_as("staff2").get("/customers/pool").get_data(
        as_text=True)


def test_the_pool_speaks_the_time_in_chinese_too(app, company):
    at = (utcnow() - timedelta(days=1)).replace(hour=3, minute=5, second=0, microsecond=0)
    _returned(company["staff"], "乙公司", at)
    again = to_local(at + timedelta(days=services.CLAIM_BACK_DAYS)).strftime("%Y-%m-%d %H:%M")
    page = chinese_client(app, company["staff"]).get("/customers/pool").get_data(as_text=True)
    assert f"{again} 起可再认领" in page


def test_claiming_too_early_says_the_time_it_becomes_possible(company):
    at = (utcnow() - timedelta(days=1)).replace(hour=9, minute=30, second=0, microsecond=0)
    customer = _returned(company["staff"], "丙公司", at)
    again = to_local(at + timedelta(days=services.CLAIM_BACK_DAYS)).strftime("%Y-%m-%d %H:%M")
    with pytest.raises(ServiceError, match=f"claim it again from {again}"):
        services.claim_customer(customer, company["staff"])


def test_the_pool_issues_the_same_number_of_statements_with_one_or_many_returned_customers(
        company, client_as, count_statements):
    client = client_as("staff")
    counts = []
    for names in (["甲公司"], ["乙公司", "丙公司", "丁公司", "戊公司"]):
        for name in names:
            _returned(company["staff"], name, utcnow() - timedelta(hours=5))
        client.get("/customers/pool")
        db.session.expire_all()
        with count_statements() as counter:
            response = client.get("/customers/pool")
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]
