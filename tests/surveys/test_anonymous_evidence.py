"""A requirement made from an anonymous survey's answer says which department it came from only where the
survey's results name that department (MIN_GROUP_SIZE answers, see groups_to_name); otherwise its evidence
is an "anonymous answer" and the requirement takes no department from it."""
from sqlalchemy import select

from rollout.audit.models import AuditEntry
from rollout.extensions import db
from surveys import services
from surveys.models import Question, Requirement, SurveyAnswer
from tests.surveys.test_small_groups import _anonymous_survey_with_answers


def _text_answer(survey, text) -> SurveyAnswer:
    return next(answer for answer in db.session.scalars(select(SurveyAnswer).join(Question).where(
        Question.survey_id == survey.id, Question.name == "mobile")) if answer.value == text)


def test_an_answer_of_a_small_department_gives_no_department_to_its_requirement(company, factory):
    departments = company["departments"]
    survey = _anonymous_survey_with_answers(company, factory)  # 销售部 6 answers, 市场部 2, 财务部 3
    marketing, sales = _text_answer(survey, "市场的话0"), _text_answer(survey, "销售的话0")
    assert services.answer_department_id(marketing) is None
    assert services.answer_department_id(sales) == departments["sales"].id
    assert services.answer_source(marketing) == "Anonymous answer" and services.answer_source(sales) == "销售部"
    requirement = services.create_requirement("手机查订单", answer=marketing, owner=company["lead"])
    assert requirement.departments == [] and requirement.roles == []
    services.add_evidence(requirement, answer=sales)
    assert [d.name for d in requirement.departments] == ["销售部"]
    # Everyone who chose Excel: only the named department is credited.
    tools = db.session.scalar(select(Question).where(Question.survey_id == survey.id, Question.name == "tools"))
    chosen = services.chosen_option(tools, "excel")
    assert len(chosen.answers) == 11 and chosen.department_ids == {departments["sales"].id}


def test_a_named_survey_keeps_the_department_and_role_of_every_answer(company, factory):
    survey = _anonymous_survey_with_answers(company, factory, anonymous=False)
    marketing = _text_answer(survey, "市场的话0")
    assert services.answer_department_id(marketing) == company["departments"]["marketing"].id
    requirement = services.create_requirement("手机查订单", answer=marketing)
    assert [d.name for d in requirement.departments] == ["市场部"] and requirement.roles == ["staff"]
    assert services.answer_source(marketing) == "市场部 · Staff"


def test_pages_and_the_trail_of_a_requirement_from_an_anonymous_answer_name_no_small_department(
        client_as, company, factory):
    survey = _anonymous_survey_with_answers(company, factory)
    answer = _text_answer(survey, "市场的话0")
    lead = client_as("lead")
    form = lead.get(f"/surveys/requirements/new?answer={answer.id}").text
    assert "selected" not in form.split('name="department_ids"')[1].split("</select>")[0]
    response = lead.post(f"/surveys/requirements/new?answer={answer.id}",
                         data={"title": "手机查订单", "priority": "should", "owner_id": company["lead"].id})
    assert response.status_code == 302
    requirement = db.session.scalar(select(Requirement).where(Requirement.title == "手机查订单"))
    assert requirement.departments == [] and len(requirement.evidence) == 1
    page = lead.get(f"/surveys/requirements/{requirement.id}").text
    evidence = page.split('data-testid="evidence"')[1].split("</div>\n      </div>")[0]
    assert "市场的话0" in evidence and 'data-testid="answer-source">Anonymous answer<' in evidence
    assert "市场部" not in page.split("<main")[-1].split('name="duplicate_ids"')[0]
    trail = db.session.scalars(select(AuditEntry).where(
        AuditEntry.entity.in_(("requirements", "requirement_evidence")))).all()
    assert trail and all("department" not in str(row.changes) and "市场部" not in str(row.changes) for row in trail)
    # A head reading the backlog of 市场部 does not find it there either.
    assert "手机查订单" not in client_as("other_staff").get("/surveys/requirements").text
    # The specification lists it with no department, its evidence as an anonymous answer.
    from flask import render_template
    with lead.application.test_request_context():
        html = render_template("surveys/specification_pdf.html", groups=services.specification(),
                               report_date="2026-11-30")
    row = html.split("手机查订单")[1].split("</tr>")[0]
    assert "Anonymous answer" in row and "市场部" not in row
