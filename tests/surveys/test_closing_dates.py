"""A survey past its closing date takes no answers: it is neither opened nor sent to anyone until it has a
new closing date, and a new version does not inherit a closing date that has passed."""
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.notify.models import Notification
from rollout.timeutil import local_today
from surveys import services
from surveys.models import Survey, SurveyInvitation
from tests.surveys.conftest import build_survey


def _notifications() -> int:
    return db.session.scalar(select(func.count()).select_from(Notification))


def _closed_last_week(company, **kwargs):
    """A survey that ran until three days ago and was closed, with one person invited."""
    survey = build_survey(company["lead"], **kwargs)
    services.invite(survey, [company["staff"]])
    survey.closes_on = local_today() - timedelta(days=3)
    services.change_survey_status(survey, "closed")
    db.session.commit()
    return survey


def test_a_new_version_leaves_out_a_closing_date_that_has_passed(company):
    old = _closed_last_week(company)
    copy = services.new_version(old, company["lead"])
    db.session.commit()
    assert (copy.status, copy.closes_on, old.closes_on) == ("draft", None, local_today() - timedelta(days=3))
    running = build_survey(company["lead"], title="还在进行")
    running.closes_on = local_today() + timedelta(days=7)
    assert services.new_version(running).closes_on == local_today() + timedelta(days=7)  # still ahead: kept


def test_a_survey_past_its_closing_date_is_not_opened_reopened_invited_or_reminded(company):
    survey = _closed_last_week(company)
    draft = services.new_version(survey)
    draft.closes_on = survey.closes_on  # as a copy made before this rule would have it
    db.session.commit()
    before = _notifications()
    day = survey.closes_on.isoformat()
    for action in (lambda: services.change_survey_status(draft, "open"),
                   lambda: services.invite(draft, [company["staff2"]]),
                   lambda: services.change_survey_status(survey, "open")):
        with pytest.raises(ServiceError, match=f"closing date {day} has passed") as refused:
            action()
        assert refused.value.field == "closes_on"
        db.session.rollback()
    assert (draft.status, survey.status) == ("draft", "closed")
    assert db.session.scalar(select(func.count()).select_from(SurveyInvitation)
                             .where(SurveyInvitation.survey_id == draft.id)) == 0
    assert _notifications() == before

    # An open survey whose closing date passes sends no reminders either.
    running = build_survey(company["lead"], title="进行中")
    services.invite(running, [company["staff"]])
    running.closes_on = local_today() - timedelta(days=1)
    db.session.commit()
    before = _notifications()
    with pytest.raises(ServiceError, match="has passed"):
        services.remind(running)
    db.session.rollback()
    assert _notifications() == before

    # With a new closing date (today counts) it opens and its invitations go out.
    services.update_survey(draft, title=draft.title, closes_on=local_today())
    services.change_survey_status(draft, "open")
    assert [i.user_id for i in services.invite(draft, [company["staff2"]])] == [company["staff2"].id]


def test_settings_refuse_a_past_closing_date_except_on_a_closed_survey(company):
    draft = build_survey(company["lead"], open_it=False)
    yesterday = local_today() - timedelta(days=1)
    with pytest.raises(ServiceError, match="This day has passed") as refused:
        services.update_survey(draft, title="需求调研", closes_on=yesterday)
    assert refused.value.field == "closes_on"
    with pytest.raises(ServiceError, match="This day has passed"):
        services.create_survey("新问卷", company["lead"], closes_on=yesterday)
    db.session.rollback()
    closed = _closed_last_week(company)
    services.update_survey(closed, title="改个名字", closes_on=closed.closes_on)  # unchanged: fine
    services.update_survey(closed, title="改个名字", closes_on=yesterday)  # the day it really closed
    assert closed.closes_on == yesterday


def test_opening_from_the_page_sends_to_the_settings_with_the_field_marked(client_as, company):
    client = client_as("lead")
    old = _closed_last_week(company)
    response = client.post(f"/surveys/{old.id}/new-version", follow_redirects=True)
    day = old.closes_on.isoformat()
    assert "the new version has none yet" in response.text and day in response.text
    copy = db.session.scalar(select(Survey).where(Survey.previous_version_id == old.id))
    assert copy.closes_on is None
    copy.closes_on = old.closes_on  # a copy made before this rule
    db.session.commit()
    before = _notifications()
    page = client.get(f"/surveys/{copy.id}")
    assert 'data-testid="closing-day-passed"' in page.text and day in page.text

    response = client.post(f"/surveys/{copy.id}/status", data={"status": "open"})
    assert response.status_code == 303 and response.location.endswith(f"/surveys/{copy.id}/edit")
    settings = client.get(response.location)
    assert settings.status_code == 200
    assert f"The closing date {day} has passed, so nobody could answer" in settings.text  # the page message
    field = re.search(r'<input[^>]*id="closes_on"[^>]*>\s*(.*?)</div>\s*</div>', settings.text, re.S)
    assert "is-invalid" in field.group(0)
    assert "This day has passed: choose today or a later day, or leave it empty." in field.group(1)
    assert client.post(f"/surveys/{copy.id}/invite").location.endswith(f"/surveys/{copy.id}/edit")
    db.session.expire_all()
    assert db.session.get(Survey, copy.id).status == "draft" and _notifications() == before

    form = {"title": copy.title, "department_id": "0", "recurrence": "", "closes_on": day}
    refused = client.post(f"/surveys/{copy.id}/edit", data={**form, "closes_on": "2020-01-01"})
    assert refused.status_code == 422 and "This day has passed" in refused.text
    assert db.session.get(Survey, copy.id).closes_on == old.closes_on
    ahead = (local_today() + timedelta(days=14)).isoformat()
    assert client.post(f"/surveys/{copy.id}/edit", data={**form, "closes_on": ahead}).status_code == 302
    assert client.post(f"/surveys/{copy.id}/status", data={"status": "open"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Survey, copy.id).status == "open"
    assert "closing-day-passed" not in client.get(f"/surveys/{copy.id}").text


def test_reopening_a_closed_survey_past_its_closing_date_marks_the_field(client_as, company):
    survey = _closed_last_week(company)
    client = client_as("lead")
    assert "This day has passed" not in client.get(f"/surveys/{survey.id}/edit").text  # its history, no error
    response = client.post(f"/surveys/{survey.id}/status", data={"status": "open"})
    assert response.status_code == 303 and response.location.endswith(f"/surveys/{survey.id}/edit?reopen=1")
    settings = client.get(response.location)
    assert settings.status_code == 200 and "has passed, so nobody could answer" in settings.text
    assert "This day has passed" in settings.text
    db.session.expire_all()
    assert db.session.get(Survey, survey.id).status == "closed"


def test_surveys_past_their_closing_date_are_neither_waiting_nor_offered(client_as, company):
    survey = build_survey(company["lead"])
    services.invite(survey, [company["staff"]])
    db.session.commit()
    assert [i.survey_id for i in services.invitations_for(company["staff"])] == [survey.id]
    survey.closes_on = local_today() - timedelta(days=1)
    db.session.commit()
    assert services.invitations_for(company["staff"]) == []
    assert survey.title not in client_as("staff").get("/surveys/").text
    coverage = client_as("lead").get("/surveys/coverage").text
    assert f'<option value="{survey.id}">' not in coverage


def test_a_monthly_period_whose_closing_day_passed_is_not_opened(company, monkeypatch):
    monkeypatch.setattr(services, "local_today", lambda: date(2026, 9, 1))
    survey = services.create_survey("月度脉搏", company["lead"], recurrence="monthly", opens_on=date(2026, 9, 1),
                                    closes_on=date(2026, 9, 10))
    services.save_question(survey, name="score", type="rating5", label="满意度")
    services.change_survey_status(survey, "open")
    db.session.commit()
    # Run late, on 20 October: October's answering days (1–10) are over, so nothing is sent.
    assert services.run_schedules(date(2026, 10, 20)) == []
    assert db.session.scalar(select(func.count()).select_from(Survey)) == 1
    assert [s.occurrence_on for s in services.run_schedules(date(2026, 11, 2))] == [date(2026, 11, 1)]
