"""A pool customer's page is open, read only, to those who claim from its pool: a rep who opens a customer named
in yesterday's pool warning after it was released sees when they may claim it back."""
from datetime import timedelta

from sqlalchemy import select

from rollout.access import may_view_customer
from rollout.extensions import db
from rollout.plans import services
from rollout.plans.models import CustomerAssignment
from rollout.timeutil import to_local, utcnow


def _released(company, name="宁波联科物流", owner="staff"):
    customer = services.create_customer(name, company[owner], phone="0574-87654321")
    services.log_activity(customer, company[owner], "call", utcnow() - timedelta(days=40), "暂无采购计划")
    services.release_to_pool(customer, note="No follow-up for 30 days")
    db.session.commit()
    return customer


def test_the_former_owner_opens_a_released_customer_and_reads_when_to_claim_it_back(company, client_as):
    customer = _released(company)
    returned = db.session.scalar(select(CustomerAssignment.created_at).where(
        CustomerAssignment.customer_id == customer.id, CustomerAssignment.kind == "release"))
    response = client_as("staff").get(f"/customers/{customer.id}")
    assert response.status_code == 200
    page = response.text
    again = to_local(returned + timedelta(days=services.CLAIM_BACK_DAYS)).strftime("%Y-%m-%d %H:%M")
    assert f"You returned it to the pool; you may claim it again from {again}" in page
    assert "In the public pool" in page and "0574-87654321" in page
    # Read only: no claim yet, nothing to edit, release or transfer.
    assert f'action="/customers/{customer.id}/claim"' not in page
    for action in ("edit", "contacts", "activities", "release", "transfer", "delete"):
        assert f"/customers/{customer.id}/{action}" not in page, action
    assert "暂无采购计划" in client_as("staff").get(f"/customers/{customer.id}?tab=activities").text


def test_a_colleague_of_the_pool_sees_it_and_claims_it_from_its_page(company, client_as):
    customer = _released(company)
    client = client_as("staff2")  # another team of the same department: same pool
    page = client.get(f"/customers/{customer.id}").text
    assert f'action="/customers/{customer.id}/claim"' in page
    response = client.post(f"/customers/{customer.id}/claim")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/customers/{customer.id}")
    db.session.expire_all()
    assert customer.owner_id == company["staff2"].id
    # Once claimed, it is the new owner's: the former owner's reach ends with the pool.
    assert client_as("staff").get(f"/customers/{customer.id}").status_code == 403


def test_a_pool_customer_stays_closed_to_other_departments_and_to_writes(company, client_as):
    customer = _released(company)
    assert client_as("other_staff").get(f"/customers/{customer.id}").status_code == 403
    assert not may_view_customer(company["other_staff"], customer)
    assert may_view_customer(company["staff2"], customer) and may_view_customer(company["head"], customer)
    client = client_as("staff2")
    assert client.post(f"/customers/{customer.id}/contacts", data={"c-name": "王经理"}).status_code == 403
    assert client.post(f"/customers/{customer.id}/activities", data={"a-kind": "call"}).status_code == 403
    assert client.get(f"/customers/{customer.id}/edit").status_code == 403
    # A colleague's owned customer stays theirs alone, and a deleted pool customer is gone.
    owned = services.create_customer("他人客户", company["staff"])
    db.session.commit()
    assert client.get(f"/customers/{owned.id}").status_code == 403
    services.delete_customer(customer, company["head"])
    db.session.commit()
    assert client.get(f"/customers/{customer.id}").status_code == 404
    assert not may_view_customer(company["staff2"], customer)


def test_the_pool_links_each_customer_to_its_page(company, client_as):
    customer = _released(company)
    assert f'href="/customers/{customer.id}"' in client_as("staff2").get("/customers/pool").text


def test_deals_of_a_pool_customer_are_named_but_linked_only_for_who_may_open_them(company, client_as):
    customer = services.create_customer("宁波联科物流", company["staff"])
    deal = services.create_opportunity(customer, company["staff"], "仓储系统", "370000")
    deal.stage = "won"
    services.release_to_pool(customer)
    db.session.commit()
    assert f'href="/deals/{deal.id}"' in client_as("staff").get(f"/customers/{customer.id}?tab=deals").text
    page = client_as("staff2").get(f"/customers/{customer.id}?tab=deals").text
    assert "仓储系统" in page and f'href="/deals/{deal.id}"' not in page
