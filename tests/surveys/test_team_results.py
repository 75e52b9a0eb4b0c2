"""A team's head reads their own team's answers, a department's head the department's (its teams too),
leads and admins every answer; an anonymous survey's answers are never split by team."""
import csv
import io

from sqlalchemy import select

from rollout.extensions import db
from surveys import services
from surveys.models import Question, SurveyAnswer
from tests.surveys.test_small_groups import _anonymous_survey_with_answers, _answers_section


def _team_head(company, factory):
    return factory.user("head", department=company["departments"]["sales1"], username="team1_head")


def _answer_id(survey, text) -> int:
    return next(answer.id for answer in db.session.scalars(select(SurveyAnswer).join(Question).where(
        Question.survey_id == survey.id, Question.name == "mobile")) if answer.value == text)


def test_a_team_head_reads_their_own_teams_answers_only(client_as, company, factory):
    # 销售的话0 and 2–5 come from 销售一组, 销售的话1 from 销售二组.
    survey = _anonymous_survey_with_answers(company, factory, anonymous=False)
    team_head = _team_head(company, factory)
    page = client_as(team_head).get(f"/surveys/{survey.id}/results").text
    assert "These figures are for the answers of 销售一组 only" in page
    answers = _answers_section(page)
    assert all(f"销售的话{n}" in answers for n in (0, 2, 3, 4, 5))
    assert "销售的话1" not in answers and "市场的话" not in answers and "财务的话" not in answers
    assert "5 answers" in answers.split('id="q-travels"')[1].split("</h3>")[0]
    all_texts = client_as(team_head).get(f"/surveys/{survey.id}/results/{_mobile(survey).id}/answers").text
    assert "销售的话0" in all_texts and "销售的话1" not in all_texts
    # The department's head reads both teams'; the lead everyone's.
    answers = _answers_section(client_as("head").get(f"/surveys/{survey.id}/results").text)
    assert "销售的话0" in answers and "销售的话1" in answers and "市场的话" not in answers
    answers = _answers_section(client_as("lead").get(f"/surveys/{survey.id}/results").text)
    assert "销售的话1" in answers and "市场的话0" in answers
    # Nor does the team's head make a requirement of the team next door's answer.
    client = client_as(team_head)
    assert client.get(f"/surveys/requirements/new?answer={_answer_id(survey, '销售的话0')}").status_code == 200
    assert client.get(f"/surveys/requirements/new?answer={_answer_id(survey, '销售的话1')}").status_code == 403
    assert services.results_scope(team_head, survey) == {company["departments"]["sales1"].id}


def _mobile(survey):
    return next(q for q in survey.questions if q.name == "mobile")


def test_a_team_head_does_not_run_nor_export_their_departments_survey(client_as, company, factory):
    survey = _anonymous_survey_with_answers(company, factory, anonymous=False)
    survey.department_id = company["departments"]["sales"].id
    db.session.commit()
    team_head = _team_head(company, factory)
    client = client_as(team_head)
    page = client.get(f"/surveys/{survey.id}/results").text
    assert 'data-testid="results-scope"' in page and "市场的话0" not in page and "销售的话1" not in page
    assert "Export CSV" not in page
    assert client.get(f"/surveys/{survey.id}/responses.csv").status_code == 403
    # The department's head runs it: every answer, and the export.
    head = client_as("head")
    assert "市场的话0" in head.get(f"/surveys/{survey.id}/results").text
    rows = list(csv.DictReader(io.StringIO(head.get(f"/surveys/{survey.id}/responses.csv").data.decode("utf-8-sig"))))
    assert len(rows) == 11
    # A team's head who owns a survey runs it.
    survey.owner_id = team_head.id
    db.session.commit()
    assert client.get(f"/surveys/{survey.id}/responses.csv").status_code == 200


def test_an_anonymous_survey_shows_a_team_head_no_answers(client_as, company, factory):
    survey = _anonymous_survey_with_answers(company, factory)
    team_head = _team_head(company, factory)
    page = client_as(team_head).get(f"/surveys/{survey.id}/results").text
    assert "An anonymous survey keeps no team with an answer" in page
    answers = _answers_section(page)
    assert "销售的话" not in answers and 'id="q-travels"' not in answers and "<svg" not in answers
    assert client_as(team_head).get(
        f"/surveys/requirements/new?answer={_answer_id(survey, '销售的话0')}").status_code == 403
    tools = next(q for q in survey.questions if q.name == "tools")
    assert client_as(team_head).get(f"/surveys/requirements/new?question={tools.id}&option=excel").status_code == 404
    # The department's head reads the department's six answers, none linked to a person.
    answers = _answers_section(client_as("head").get(f"/surveys/{survey.id}/results").text)
    assert "销售的话0" in answers and "销售的话1" in answers
    assert company["staff"].display_name not in answers and company["staff2"].display_name not in answers


def test_a_team_heads_progress_names_their_team(company, factory):
    survey = _anonymous_survey_with_answers(company, factory, anonymous=False)
    team = services.progress(survey, {company["departments"]["sales1"].id})
    assert {row.department for row in team} == {"销售一组"} and sum(row.responded for row in team) == 5
    department = services.progress(survey, services.subtree_ids(company["departments"]["sales"].id))
    assert {row.department for row in department} == {"销售部"}
