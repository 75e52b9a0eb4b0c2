"""Counts of one in the sales pages and messages read in the singular in English."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.plans import services
from rollout.timeutil import utcnow


def test_pool_of_one_day_one_claim_and_one_customer(company, client_as):
    sales = company["departments"]["sales"]
    services.save_settings(sales.id, pool_release_days=1, daily_claim_cap=1, behind_margin_percent=10)
    company["staff"].locale = "en"
    stale = services.create_customer("久未跟进公司", company["staff"], last_followup_at=utcnow() - timedelta(days=2))
    assert services.release_pool() == [stale]
    db.session.commit()
    subjects = db.session.scalars(select(Notification.subject).where(Notification.user_id == company["staff"].id))
    assert "1 customer returned to the public pool" in list(subjects)
    page = client_as("staff").get("/customers/pool").get_data(as_text=True)
    assert "Customers without a follow-up for 1 day return here automatically." in page

    other = services.create_customer("公海乙", company["head"], in_pool=True, department_id=sales.id)
    services.claim_customer(stale, company["staff2"])
    with pytest.raises(ServiceError, match="today's limit of 1 claim from the pool"):
        services.claim_customer(other, company["staff2"])
    db.session.commit()
    # Once the day's claims are used up, the pool offers no claim buttons to press in vain.
    page = client_as("staff2").get("/customers/pool").text
    assert "公海乙" in page and f'action="/customers/{other.id}/claim"' not in page and "Claim tomorrow" in page

