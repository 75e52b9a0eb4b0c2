"""Answering: server-side type checks, skip logic, drafts, one response per invitee, anonymity."""
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from rollout.audit.models import AuditEntry
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.notify.models import Notification
from surveys import services
from surveys.models import SurveyAnswer, SurveyInvitation, SurveyResponse
from tests.conftest import english_client
from tests.surveys.conftest import GOOD_ANSWERS, build_survey


BAD_ANSWERS = [
    ("travels", "maybe", "Choose one of the options"),
    ("tools", ["excel", "fax"], "Choose among the options"),
    ("score", "6", "from 1 to 5"),
    ("score", "abc", "from 1 to 5"),
    ("agree", {"a": "9"}, "Choose one of the options"),
    ("agree", {"zzz": "1"}, "Unknown statement"),
    ("rank", ["x", "y"], "different rank"),
    ("rank", ["x", "x", "y"], "different rank"),
]


def test_answers_are_checked_against_their_type(company):
    survey = build_survey(company["lead"])
    assert services.clean_answers(survey, GOOD_ANSWERS)[1] == {}
    for name, bad, message in BAD_ANSWERS:
        values, errors = services.clean_answers(survey, {**GOOD_ANSWERS, name: bad})
        assert message in errors[name], (name, bad)
        assert name not in values


def test_other_types_are_checked_too(company):
    survey = build_survey(company["lead"], open_it=False)
    for kind, bad, good, stored in (("integer", "3.5", "42", 42), ("decimal", "abc", "1,234.5", 1234.5),
                                    ("date", "2026-13-01", "2026-11-30", "2026-11-30")):
        question = services.save_question(survey, name=f"q_{kind}", type=kind, label=kind)
        with pytest.raises(ServiceError):
            services.clean_value(question, bad)
        assert services.clean_value(question, good) == stored


def test_hidden_questions_are_not_required_and_their_answers_dropped(company):
    survey = build_survey(company["lead"])
    values, errors = services.clean_answers(survey, {**GOOD_ANSWERS, "travels": "no", "mobile": "不该保存"})
    assert errors == {}
    assert "mobile" not in values
    values, errors = services.clean_answers(survey, {**GOOD_ANSWERS, "mobile": ""})
    assert errors == {"mobile": "This question is required."}


def test_required_likert_needs_every_row(company):
    survey = build_survey(company["lead"], open_it=False)
    likert = next(q for q in survey.questions if q.type == "likert")
    likert.is_required = True
    values, errors = services.clean_answers(survey, {**GOOD_ANSWERS, "agree": {"a": "1"}})
    assert errors == {"agree": "This question is required."}


def test_named_response_links_person_and_time(company):
    survey = build_survey(company["lead"])
    invitation = services.invite(survey, [company["staff"]])[0]
    response = services.submit_response(invitation, GOOD_ANSWERS)
    db.session.commit()
    assert response.respondent_id == company["staff"].id
    assert response.invitation_id == invitation.id
    assert response.role == "staff"
    assert response.department_id == company["departments"]["sales"].id  # home department of a team member
    assert isinstance(response.submitted_at, datetime)
    stored = {a.question.name: a.value for a in response.answers}
    assert stored["tools"] == ["excel", "paper"] and stored["score"] == 4 and stored["rank"] == ["y", "x", "z"]


def test_anonymous_mode_never_stores_who_answered(company):
    survey = build_survey(company["lead"], anonymous=True)
    invitations = services.invite(survey, [company["staff"], company["staff2"]])
    db.session.commit()
    services.submit_response(invitations[0], GOOD_ANSWERS)
    db.session.commit()
    db.session.expire_all()

    responses = db.session.execute(select(SurveyResponse.__table__)).mappings().all()
    assert len(responses) == 1
    row = responses[0]
    assert row["invitation_id"] is None and row["respondent_id"] is None and row["role"] is None
    assert row["submitted_at"] is None
    assert isinstance(row["submitted_on"], date) and not isinstance(row["submitted_on"], datetime)
    # The invitation keeps only "has responded" and the day, nothing pointing at the response.
    invitation = db.session.execute(select(SurveyInvitation.__table__).where(
        SurveyInvitation.id == invitations[0].id)).mappings().one()
    assert invitation["has_responded"] is True or invitation["has_responded"] == 1
    assert not isinstance(invitation["responded_on"], datetime)
    assert invitation["draft_answers"] is None
    assert not any("response" in column.name for column in inspect(SurveyInvitation).columns)
    # Answers hold only values; no column anywhere ties them to a user.
    assert {c.name for c in SurveyAnswer.__table__.columns} == {"id", "response_id", "question_id", "value"}
    # The audit trail does not record the response rows or the moment the invitation changed.
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.entity.in_(("survey_responses", "survey_answers", "survey_invitations")))) == 0


def test_one_response_per_invitee(company):
    survey = build_survey(company["lead"], anonymous=True)
    invitation = services.invite(survey, [company["staff"]])[0]
    services.submit_response(invitation, GOOD_ANSWERS)
    db.session.commit()
    with pytest.raises(ServiceError, match="already answered"):
        services.submit_response(invitation, GOOD_ANSWERS)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 1


def test_draft_is_kept_then_erased_on_submit(company):
    survey = build_survey(company["lead"])
    invitation = services.invite(survey, [company["staff"]])[0]
    services.save_draft(invitation, {"travels": "yes", "score": "2"})
    db.session.commit()
    assert db.session.get(SurveyInvitation, invitation.id).draft_answers == {"travels": "yes", "score": 2}
    with pytest.raises(services.AnswerErrors):
        services.save_draft(invitation, {"score": "99"})
    db.session.rollback()
    services.submit_response(invitation, GOOD_ANSWERS)
    db.session.commit()
    assert db.session.get(SurveyInvitation, invitation.id).draft_answers is None


def test_closed_or_not_yet_open_survey_refuses_answers(company):
    survey = build_survey(company["lead"])
    invitation = services.invite(survey, [company["staff"]])[0]
    survey.opens_on = date(2999, 1, 1)
    with pytest.raises(ServiceError, match="opens on 2999-01-01"):
        services.submit_response(invitation, GOOD_ANSWERS)
    survey.opens_on, survey.closes_on = None, date(2020, 1, 31)
    with pytest.raises(ServiceError, match="closed on 2020-01-31"):
        services.submit_response(invitation, GOOD_ANSWERS)
    survey.closes_on = None
    services.change_survey_status(survey, "closed")
    with pytest.raises(ServiceError, match="is closed"):
        services.submit_response(invitation, GOOD_ANSWERS)


def test_the_link_and_the_lists_say_when_a_survey_opens_or_that_it_closed(company, client_as):
    survey = build_survey(company["lead"])
    invitation = services.invite(survey, [company["staff"]])[0]
    survey.opens_on, survey.closes_on = date(2999, 1, 1), date(2999, 1, 31)
    db.session.commit()
    page = english_client(client_as("lead").application).get(f"/surveys/respond/{invitation.token}")
    assert "This survey opens on 2999-01-01" in page.get_data(as_text=True)
    listing = client_as("lead").get("/surveys/list").get_data(as_text=True)
    assert "opens 2999-01-01" in listing
    overview = client_as("lead").get("/surveys/").get_data(as_text=True)
    assert "0</div><div class=\"text-muted\">open surveys" in overview.replace("\n", "")
    survey.opens_on, survey.closes_on = date(2020, 1, 1), date(2020, 1, 31)
    db.session.commit()
    assert "past its closing date" in client_as("lead").get("/surveys/list").get_data(as_text=True)


def test_invite_audience_by_department_and_role_and_remind(company, factory):
    departments = company["departments"]
    survey = build_survey(company["lead"], departments=[departments["sales"]], roles=["staff"])
    created = services.invite_audience(survey)
    db.session.commit()
    assert {i.user.username for i in created} == {"staff", "staff2"}  # teams included, head excluded by role
    assert services.invite_audience(survey) == []  # nobody twice
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.event == "survey.invited")) == 2
    services.submit_response(created[0], GOOD_ANSWERS)
    # Not on the day they were invited, and then once a day at most.
    with pytest.raises(ServiceError, match="remind them again tomorrow"):
        services.remind(survey)
    created[1].invited_on -= timedelta(days=2)
    assert services.remind(survey) == 1
    db.session.commit()
    reminded = db.session.scalars(select(Notification).where(Notification.event == "survey.reminder")).all()
    assert [n.user_id for n in reminded] == [company["staff2"].id]
    assert reminded[0].link.endswith(created[1].token)
    with pytest.raises(ServiceError, match="remind them again tomorrow"):
        services.remind(survey)


def test_publishing_a_survey_invites_its_audience_when_nobody_was_invited(company, client_as):
    departments = company["departments"]
    survey = build_survey(company["lead"], departments=[departments["sales"]], roles=["staff"], open_it=False)
    lead = client_as("lead")
    response = lead.post(f"/surveys/{survey.id}/status", data={"status": "open"}, follow_redirects=True)
    assert "2 invitations sent." in response.get_data(as_text=True)
    invited = db.session.scalars(select(SurveyInvitation.user_id).where(SurveyInvitation.survey_id == survey.id))
    assert set(invited) == {company["staff"].id, company["staff2"].id}
    # A survey for no audience in particular invites nobody on its own, and says so.
    open_to_all = build_survey(company["lead"], title="开放调研", open_it=False)
    response = lead.post(f"/surveys/{open_to_all.id}/status", data={"status": "open"}, follow_redirects=True)
    assert "Nobody is invited yet" in response.get_data(as_text=True)


def test_progress_per_department_and_role(company):
    survey = build_survey(company["lead"])
    invitations = services.invite(survey, [company["staff"], company["staff2"], company["head"],
                                           company["other_staff"]])
    services.submit_response(invitations[0], GOOD_ANSWERS)
    db.session.commit()
    rows = {(r.department, r.role): (r.invited, r.responded) for r in services.progress(survey)}
    assert rows == {("销售部", "head"): (1, 0), ("销售部", "staff"): (2, 1), ("市场部", "staff"): (1, 0)}


@pytest.mark.parametrize("typed, stored", [("1.5", 1.5), ("1,500", 1500.0), ("12,345,678", 12345678.0),
                                           ("-1,234.5", -1234.5), (" 42 ", 42.0), ("0.25", 0.25)])
def test_a_number_takes_a_point_for_decimals_and_commas_only_between_thousands(company, typed, stored):
    survey = build_survey(company["lead"], open_it=False)
    question = services.save_question(survey, name="hours", type="decimal", label="小时")
    assert services.clean_value(question, typed) == stored


@pytest.mark.parametrize("typed", ["1,5", "1,50", "12,34", "1,5000", ",5", "1,", "1,500,00", "1.500,5"])
def test_an_ambiguous_comma_is_refused_not_guessed(company, typed):
    survey = build_survey(company["lead"], open_it=False)
    question = services.save_question(survey, name="hours", type="decimal", label="小时")
    with pytest.raises(ServiceError, match="“.” as the decimal point"):
        services.clean_value(question, typed)


def test_a_whole_number_takes_digits_only(company):
    survey = build_survey(company["lead"], open_it=False)
    question = services.save_question(survey, name="visits", type="integer", label="次数")
    assert services.clean_value(question, " -1500 ") == -1500
    for typed in ("1,5", "1,500", "3.5", "3.0", "abc"):
        with pytest.raises(ServiceError, match="Enter a whole number."):
            services.clean_value(question, typed)


def test_heads_of_the_departments_a_survey_is_aimed_at_see_its_results(company, client_as, factory):
    departments = company["departments"]
    it = factory.department("IT部", parent=departments["company"], code="it-test")
    survey = build_survey(factory.user("lead", department=it), departments=[departments["sales"]], roles=["staff"])
    assert client_as("head").get(f"/surveys/{survey.id}/results").status_code == 200  # 销售部 was asked
    team_head = factory.user("head", department=departments["sales1"], username="team.head")
    assert client_as(team_head).get(f"/surveys/{survey.id}/results").status_code == 200
    assert client_as("other_head").get(f"/surveys/{survey.id}/results").status_code == 403  # 市场部 was not


def test_answering_clears_the_invitation_from_the_unread_notifications(company, client_as):
    survey = build_survey(company["lead"])
    invitation = services.invite(survey, [company["staff"]])[0]
    db.session.commit()
    unread = select(func.count()).select_from(Notification).where(
        Notification.user_id == company["staff"].id, Notification.read_at.is_(None))
    assert db.session.scalar(unread) == 1
    services.submit_response(invitation, GOOD_ANSWERS)
    db.session.commit()
    assert db.session.scalar(unread) == 0
    done = client_as("staff").get(f"/surveys/respond/{invitation.token}").get_data(as_text=True)
    assert 'href="/surveys/"' in done  # a way on from the thank-you page


def test_an_invitation_ahead_of_the_opening_day_says_when_it_opens(company):
    survey = build_survey(company["lead"])
    survey.opens_on, survey.closes_on = date(2999, 1, 10), date(2999, 1, 20)
    services.invite(survey, [company["staff"]])
    body = db.session.scalar(select(Notification.body_markdown).where(Notification.event == "survey.invited"))
    assert "开放时间：2999-01-10 至 2999-01-20。" in body  # the company's language: staff chose none
