"""The department form asks before saving a go-live date that has passed, as the rollout plan does."""
from datetime import timedelta

from rollout.extensions import db
from rollout.timeutil import local_today
from tests.conftest import chinese_client


def _form(department, go_live_on, **extra) -> dict:
    return {"name": department.name, "kind": department.kind, "parent_id": department.parent_id or 0,
            "code": department.code or "", "go_live_on": go_live_on.isoformat() if go_live_on else "", **extra}


def test_a_past_go_live_date_is_saved_only_once_confirmed(company, client_as):
    sales = company["departments"]["sales"]
    before = sales.go_live_on
    past = local_today() - timedelta(days=30)
    client = client_as("admin")
    asked = client.post(f"/admin/departments/{sales.id}", data=_form(sales, past))
    assert asked.status_code == 422
    page = asked.get_data(as_text=True)
    assert "data-testid=\"past-go-live\"" in page and f"{past.isoformat()} was 30 days ago" in page
    assert f'name="confirm_past" value="{past.isoformat()}"' in page
    db.session.expire_all()
    assert sales.go_live_on == before  # nothing saved yet
    confirmed = client.post(f"/admin/departments/{sales.id}", data=_form(sales, past, confirm_past=past.isoformat()))
    assert confirmed.status_code == 302
    db.session.expire_all()
    assert sales.go_live_on == past


def test_a_confirmation_covers_only_the_date_it_was_given_for(company, client_as):
    sales = company["departments"]["sales"]
    before = sales.go_live_on
    yesterday, earlier = local_today() - timedelta(days=1), local_today() - timedelta(days=400)
    client = client_as("admin")
    # The user confirmed yesterday, then changed the date to a year ago before saving: asked again.
    response = client.post(f"/admin/departments/{sales.id}",
                           data=_form(sales, earlier, confirm_past=yesterday.isoformat()))
    assert response.status_code == 422 and "400 days ago" in response.get_data(as_text=True)
    db.session.expire_all()
    assert sales.go_live_on == before
    response = client.post(f"/admin/departments/{sales.id}", data=_form(sales, yesterday))
    assert response.status_code == 422 and f"{yesterday.isoformat()} was yesterday" in response.get_data(as_text=True)


def test_future_unchanged_and_empty_dates_are_saved_without_asking(company, client_as, factory):
    sales = company["departments"]["sales"]
    client = client_as("admin")
    future = local_today() + timedelta(days=10)
    assert client.post(f"/admin/departments/{sales.id}", data=_form(sales, future)).status_code == 302
    assert client.post(f"/admin/departments/{sales.id}", data=_form(sales, None)).status_code == 302
    # A department that already went live keeps its date through an edit of its name.
    marketing = company["departments"]["marketing"]
    marketing.go_live_on = local_today() - timedelta(days=90)
    db.session.commit()
    went_live = marketing.go_live_on
    response = client.post(f"/admin/departments/{marketing.id}", data={**_form(marketing, went_live), "name": "市场营销部"})
    assert response.status_code == 302
    db.session.expire_all()
    assert marketing.name == "市场营销部" and marketing.go_live_on == went_live


def test_a_new_department_with_a_past_date_is_asked_about_too(company, client_as):
    past = local_today() - timedelta(days=3)
    data = {"name": "法务部", "kind": "department", "parent_id": company["departments"]["company"].id,
            "code": "legal", "go_live_on": past.isoformat()}
    client = client_as("admin")
    response = client.post("/admin/departments/new", data=data)
    assert response.status_code == 422 and "3 days ago" in response.get_data(as_text=True)
    assert client.post("/admin/departments/new", data={**data, "confirm_past": past.isoformat()}).status_code == 302


def test_the_question_reads_in_chinese(app, company):
    sales = company["departments"]["sales"]
    past = local_today() - timedelta(days=5)
    page = chinese_client(app, company["admin"]).post(f"/admin/departments/{sales.id}",
                                                      data=_form(sales, past)).get_data(as_text=True)
    assert f"确认以 {past.isoformat()} 为上线日期" in page
