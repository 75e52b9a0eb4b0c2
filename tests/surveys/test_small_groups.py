"""Anonymous surveys name no department with fewer than MIN_GROUP_SIZE answers; heads who do not run a
survey read their own department's answers only."""
import csv
import io
from datetime import date

from rollout.extensions import db
from surveys import services
from tests.surveys.conftest import GOOD_ANSWERS, build_survey


def _answer(survey, people_and_texts):
    """Invite these people and submit GOOD_ANSWERS with each one's own text answer."""
    invitations = services.invite(survey, [person for person, _text in people_and_texts])
    for invitation, (_person, text) in zip(invitations, people_and_texts, strict=True):
        services.submit_response(invitation, {**GOOD_ANSWERS, "mobile": text})
    db.session.commit()


def _people(company, factory):
    """Six who answer in 销售部, two in 市场部 and three in 财务部 (one more invited there)."""
    departments = company["departments"]
    sales = [company["staff"], company["staff2"]] + [factory.user("staff", department=departments["sales1"])
                                                     for _n in range(4)]
    finance = [company["finance"]] + [factory.user("staff", department=departments["finance"]) for _n in range(3)]
    return {"sales": sales, "marketing": [company["other_staff"], company["other_head"]], "finance": finance}


def _anonymous_survey_with_answers(company, factory, anonymous=True):
    survey = build_survey(company["lead"], anonymous=anonymous,
                          departments=[company["departments"]["sales"], company["departments"]["marketing"]])
    people = _people(company, factory)
    _answer(survey, [(person, f"销售的话{n}") for n, person in enumerate(people["sales"])]
            + [(person, f"市场的话{n}") for n, person in enumerate(people["marketing"])]
            + [(person, f"财务的话{n}") for n, person in enumerate(people["finance"][:3])])
    services.invite(survey, [company["head"], people["finance"][3]])  # invited, no answer
    db.session.commit()
    return survey


def _answers_section(page: str) -> str:
    return page.split("data-testid=\"progress-table\"")[1].split("</table>", 1)[1]


def test_a_group_is_named_from_five_answers_unless_the_rest_could_be_worked_out():
    assert services.MIN_GROUP_SIZE == 5
    assert services.groups_to_name({"销售部": 13, "市场部": 3, "财务部": 3, "IT部": 2}) == {"销售部"}
    assert services.groups_to_name({"销售部": 6, "市场部": 5}) == {"销售部", "市场部"}
    assert services.groups_to_name({"IT部": 4}) == set()
    # Naming 销售部 would leave 市场部's three answers known as theirs: nobody is named.
    assert services.groups_to_name({"销售部": 10, "市场部": 3}) == set()
    # The smallest named group joins the pool, the others stay named.
    assert services.groups_to_name({"销售部": 10, "财务部": 6, "市场部": 3}) == {"销售部"}


def test_anonymous_results_name_no_small_department_and_split_no_roles(client_as, company, factory):
    survey = _anonymous_survey_with_answers(company, factory)
    page = client_as("lead").get(f"/surveys/{survey.id}/results").text
    progress = page.split('data-testid="progress-table"')[1].split("</table>")[0]
    assert "Role" not in progress and "Department head" not in progress and "Staff" not in progress
    # 销售部 has 7 invited; 市场部 (2) and 财务部 (4) are merged.
    assert "<td>销售部</td>" in progress and "市场部" not in progress and "财务部" not in progress
    merged = progress.split("Departments with fewer than 5 people invited")[1].split("</tr>")[0]
    assert ">6<" in merged and ">5<" in merged
    answers = _answers_section(page)
    assert "销售的话0" in answers and "市场的话0" in answers and "财务的话0" in answers
    assert "市场部" not in answers and "财务部" not in answers
    assert answers.split("市场的话0")[1].split("</li>")[0].count("Departments not named (fewer than 5 answers)") == 1
    assert "· 销售部" in answers.split("销售的话0")[1].split("</li>")[0]


def test_named_surveys_keep_departments_and_roles(client_as, company, factory):
    survey = _anonymous_survey_with_answers(company, factory, anonymous=False)
    page = client_as("lead").get(f"/surveys/{survey.id}/results").text
    progress = page.split('data-testid="progress-table"')[1].split("</table>")[0]
    assert "<td>市场部</td><td>Department head</td>" in progress
    assert "· 市场部" in _answers_section(page).split("市场的话0")[1].split("</li>")[0]
    rows = list(csv.DictReader(io.StringIO(client_as("lead").get(f"/surveys/{survey.id}/responses.csv")
                                           .data.decode("utf-8-sig"))))
    assert {row["Department"] for row in rows} == {"销售部", "市场部", "财务部"}
    assert {row["Submitted on"] for row in rows} == {services.local_today().isoformat()}
    assert sorted(int(row["Response"]) for row in rows) == sorted(services.response_groups(survey))


def test_anonymous_export_has_no_day_no_response_id_and_no_small_department(client_as, company, factory):
    survey = _anonymous_survey_with_answers(company, factory)
    client = client_as("lead")

    def export():
        return list(csv.reader(io.StringIO(client.get(f"/surveys/{survey.id}/responses.csv").data.decode("utf-8-sig"))))

    header, *rows = export()
    assert header[:2] == ["Row", "Department"]
    assert "Response" not in header and "Submitted on" not in header and "Respondent" not in header
    assert [row[0] for row in rows] == [str(n) for n in range(1, 12)]  # numbered for this export only
    text = "\n".join(",".join(row) for row in rows)
    assert services.local_today().isoformat() not in text and "市场部" not in text and "财务部" not in text
    departments = [row[1] for row in rows]
    assert departments.count("销售部") == 6 and departments.count("Departments not named (fewer than 5 answers)") == 5
    # Rows come in a new random order each time, not in the order people answered.
    answers_in = header.index("手机上最需要什么？")
    first = [row[answers_in] for row in rows]
    assert any([row[answers_in] for row in export()[1:]] != first for _try in range(5))


def test_anonymous_trend_averages_no_department_over_fewer_than_five(client_as, company, factory):
    departments = company["departments"]
    people = _people(company, factory)
    survey = services.create_survey("月度脉搏", company["lead"], is_anonymous=True, recurrence="monthly",
                                    opens_on=date(2026, 9, 1))
    services.save_question(survey, name="score", type="rating10", label="推荐度")
    services.change_survey_status(survey, "open")
    everyone = people["sales"] + people["marketing"] + people["finance"][:3]
    for invitation, score in zip(services.invite(survey, everyone), [8] * 6 + [2, 2, 4, 4, 4], strict=True):
        services.submit_response(invitation, {"score": str(score)})
    db.session.commit()
    labels, series, _name = services.trend(survey)
    assert series == {"销售部": [8.0], "Departments not named (fewer than 5 answers)": [3.2]}
    page = client_as("lead").get(f"/surveys/{survey.id}/trend").text
    assert "市场部" not in page.split("<h1")[1] and "财务部" not in page.split("<h1")[1]
    # Without 财务部 the other departments hold two answers: 销售部 is not averaged on its own either.
    _labels, series, _name = services.trend(survey, {departments["sales"].id, departments["marketing"].id})
    assert series == {"Departments not named (fewer than 5 answers)": [6.5]}
    # A head reads their department's average only, and only from five answers.
    assert services.trend(survey, services.subtree_ids(departments["sales"].id))[1] == {"销售部": [8.0]}
    assert services.trend(survey, {departments["marketing"].id})[1] == {}


def test_a_head_reads_their_own_departments_answers_only(client_as, company, factory):
    survey = _anonymous_survey_with_answers(company, factory, anonymous=False)
    page = client_as("other_head").get(f"/surveys/{survey.id}/results").text
    assert "These figures are for the answers of 市场部 only" in page
    answers = _answers_section(page)
    assert "市场的话0" in answers and "市场的话1" in answers
    assert "销售的话" not in answers and "财务的话" not in answers
    assert "2 answers" in answers.split('id="q-travels"')[1].split("</h3>")[0]
    progress = page.split('data-testid="progress-table"')[1].split("</table>")[0]
    assert "市场部" in progress and "销售部" not in progress and "财务部" not in progress
    # The head of 销售部 (asked too) sees 销售部's answers, also those given in its teams.
    answers = _answers_section(client_as("head").get(f"/surveys/{survey.id}/results").text)
    assert "销售的话5" in answers and "市场的话" not in answers


def test_a_head_sees_nothing_of_an_anonymous_survey_while_their_department_gave_fewer_than_five(
        client_as, company, factory):
    survey = _anonymous_survey_with_answers(company, factory)
    page = client_as("other_head").get(f"/surveys/{survey.id}/results")
    assert page.status_code == 200
    assert "Fewer than 5 answers from your department so far" in page.text
    answers = _answers_section(page.text)
    assert "市场的话" not in answers and "<svg" not in answers and 'id="q-travels"' not in answers
    # 销售部 gave six: its head sees them, named, and nobody else's.
    answers = _answers_section(client_as("head").get(f"/surveys/{survey.id}/results").text)
    assert "销售的话0" in answers and "· 销售部" in answers and "市场的话" not in answers and "财务的话" not in answers


def test_heads_who_run_a_survey_read_every_departments_answers(client_as, company, factory):
    survey = _anonymous_survey_with_answers(company, factory, anonymous=False)
    survey.department_id = company["departments"]["sales"].id
    db.session.commit()
    page = client_as("head").get(f"/surveys/{survey.id}/results").text
    assert 'data-testid="results-scope"' not in page
    assert "市场的话0" in page and "财务的话0" in page


def test_a_head_makes_requirements_of_their_own_departments_answers_only(client_as, company, factory):
    from sqlalchemy import select

    from surveys.models import Question, SurveyAnswer
    survey = _anonymous_survey_with_answers(company, factory, anonymous=False)
    mobile = db.session.scalar(select(Question).where(Question.survey_id == survey.id, Question.name == "mobile"))
    answer_id = {answer.value: answer.id for answer in db.session.scalars(
        select(SurveyAnswer).where(SurveyAnswer.question_id == mobile.id))}
    tools = db.session.scalar(select(Question).where(Question.survey_id == survey.id, Question.name == "tools"))
    head = client_as("other_head")
    assert head.get(f"/surveys/requirements/new?answer={answer_id['市场的话0']}").status_code == 200
    assert head.get(f"/surveys/requirements/new?answer={answer_id['销售的话0']}").status_code == 403
    form = head.get(f"/surveys/requirements/new?question={tools.id}&option=excel").text
    assert "Excel (2 of 2)" in form  # 市场部's two answers, not all eleven
    anonymous = _anonymous_survey_with_answers(company, factory)
    tools = db.session.scalar(select(Question).where(Question.survey_id == anonymous.id, Question.name == "tools"))
    own = next(answer for answer in db.session.scalars(select(SurveyAnswer).join(Question).where(
        Question.survey_id == anonymous.id)) if answer.value == "市场的话0")
    # Two answers of an anonymous survey are not shown to 市场部's head, nor reached from here.
    assert head.get(f"/surveys/requirements/new?answer={own.id}").status_code == 403
    assert head.get(f"/surveys/requirements/new?question={tools.id}&option=excel").status_code == 404
    assert "Excel (11 of 11)" in client_as("lead").get(f"/surveys/requirements/new?question={tools.id}&option=excel").text
