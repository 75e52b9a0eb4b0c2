"""A company's first day: pages with no data say what to do next instead of showing nothing (or a claim
that everything is done)."""
from rollout.accounts.models import Department, User
from rollout.extensions import db
from tests.conftest import login


def _admin_of_an_empty_company(app, factory):
    company = Department(name="新公司", code="company", kind="company")
    db.session.add(company)
    db.session.commit()
    admin = factory.user("admin", department=company, username="first-admin")
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, admin)
    return client


def test_readiness_without_departments_leads_to_creating_one(app, factory):
    page = _admin_of_an_empty_company(app, factory).get("/rollout/").get_data(as_text=True)
    assert "No departments yet" in page and 'href="/admin/departments/new"' in page


def test_coverage_with_nobody_does_not_say_everyone_was_heard(app, factory):
    page = _admin_of_an_empty_company(app, factory).get("/surveys/coverage").get_data(as_text=True)
    assert "Everyone has been heard." not in page and "Nobody holds a business role here yet" in page


def test_the_new_user_form_does_not_offer_to_keep_a_password(app, factory):
    client = _admin_of_an_empty_company(app, factory)
    assert "Leave empty to keep the current password." not in client.get("/admin/users/new").get_data(as_text=True)
    user = db.session.query(User).filter_by(username="first-admin").one()
    assert "Leave empty to keep the current password." in client.get(f"/admin/users/{user.id}").get_data(as_text=True)


def test_the_home_page_of_an_empty_company_says_where_to_start(app, factory):
    page = _admin_of_an_empty_company(app, factory).get("/").get_data(as_text=True)
    assert 'data-testid="home-readiness-empty"' in page and 'href="/admin/departments/new"' in page
