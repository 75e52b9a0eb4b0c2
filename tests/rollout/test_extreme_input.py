"""Dates no one means and numbers too big for the database, typed or put in a URL: refused or ignored,
never a 500 (and never stored, where they would break the pages that compute with them)."""
from sqlalchemy import func, select

from changes.models import ReviewCadence
from rollout.extensions import db
from rollout.retros.models import Retro

RANGE_MESSAGE = "The date must be between 2000-01-01 and 2100-12-31."


def test_a_retro_dated_in_year_9999_or_1_is_refused_at_its_date(client_as, company):
    client = client_as("head")
    for held_on in ("9999-12-31", "0001-01-01"):
        response = client.post("/retros/new", data={
            "team_id": company["departments"]["sales1"].id, "title": "第48周回顾", "held_on": held_on,
            "cadence_days": 7, "template": "mad_sad_glad", "vote_budget": 3, "facilitator_id": company["head"].id})
        assert response.status_code == 422 and RANGE_MESSAGE in response.text
    assert db.session.scalar(select(func.count()).select_from(Retro)) == 0
    assert client.get("/retros/new").status_code == 200


def test_a_cadence_running_to_year_9999_is_refused(client_as, company):
    response = client_as("lead").post("/changes/cadences/new", data={
        "name": "变更评审会", "weekday": "2", "every_n_weeks": "1", "start_time": "14:00", "duration_minutes": "60",
        "cutoff_hours": "24", "starts_on": "2026-12-01", "ends_on": "9999-12-31"})
    assert response.status_code == 422 and RANGE_MESSAGE in response.text
    assert db.session.scalar(select(func.count()).select_from(ReviewCadence)) == 0


def test_a_training_session_in_year_9999_is_refused(client_as, company):
    response = client_as("trainer").post("/training/sessions/new", data={
        "title": "报价审批演练", "kind": "drill", "starts_at": "9999-12-31T09:00", "ends_at": "9999-12-31T10:00",
        "capacity": "10", "location": "培训室A", "course_id": "0", "trainer_id": "0"})
    assert response.status_code == 422 and RANGE_MESSAGE in response.text


def test_audit_filters_with_dates_out_of_range_are_left_out_and_said(client_as, company):
    client = client_as("admin")
    for query in ("date_from=0001-01-01", "date_to=9999-12-31"):
        page = client.get(f"/audit/?{query}")
        assert page.status_code == 200 and "it was left out of the filter" in page.text
    for path in ("/reports/audit-summary?date_to=9999-12-31", "/reports/audit-summary.pdf?date_from=0001-01-01"):
        assert client.get(path).status_code == 200


def test_numbers_too_big_for_the_database_in_a_url_are_ignored(client_as, company):
    huge = "9" * 20
    client = client_as("lead")
    for path in (f"/changes/calendar?year={huge}", f"/changes/calendar?month={huge}", f"/retros/?team={huge}",
                 f"/retros/new?team={huge}", f"/surveys/requirements?department={huge}",
                 "/retros/?team=-1", "/retros/?team=abc"):
        assert client.get(path).status_code == 200, path


def test_stray_parameters_do_not_break_the_customer_list(client_as, company):
    client = client_as("admin")
    for query in ("format=csv", "_method=POST", "_anchor=x", "_external=1"):
        page = client.get(f"/customers?{query}&q=华")
        assert page.status_code == 200, query
        assert "/customers/export.xlsx?q=" in page.text or "format=xlsx" in page.text
