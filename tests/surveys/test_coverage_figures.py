"""Coverage counts people per department and business role in the database and lists the unheard as
plain rows: who counts where, the order of the list, and a statement count that does not grow. The
percentage, the cell colours and the unheard list follow one rule: a person is heard once they
answered a survey or were picked as a session's interviewee."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from rollout import figures
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.timeutil import local_today
from surveys import services
from surveys.models import Interview, SurveyInvitation
from tests.surveys.conftest import GOOD_ANSWERS, build_survey


def test_people_count_once_under_their_home_department_and_first_business_role(company, factory):
    departments = company["departments"]
    factory.user("head", "staff", department=departments["sales2"], username="both")  # a head first
    factory.user("lead", department=departments["sales1"], username="project_only")  # no business role
    closed = factory.user("staff", department=departments["sales1"], username="closed")
    closed.is_active_account = False
    db.session.commit()
    matrix = services.coverage_matrix()
    sales = departments["sales"].id
    # 销售部 and its teams: head + both are heads; staff, staff2 are staff; the closed account is not counted.
    assert (matrix.cell(sales, "head").people, matrix.cell(sales, "staff").people) == (2, 2)
    assert matrix.cell(departments["finance"].id, "head") is None  # nobody in that role: no cell
    assert {d.id for d in services.coverage_matrix({departments["finance"].id}).departments} == {
        departments["finance"].id}
    assert set(services.coverage_matrix({departments["finance"].id}).cells) == {(departments["finance"].id, "staff")}


def test_unheard_people_are_rows_with_department_and_roles_in_department_then_name_order(company, factory):
    departments = company["departments"]
    factory.user("head", "staff", department=departments["sales2"], username="both", display_name="艾伦")
    survey = build_survey(company["lead"])
    invitation = services.invite(survey, [company["staff"]])[0]
    services.submit_response(invitation, GOOD_ANSWERS)
    db.session.commit()
    unheard = services.unheard_people()
    assert [(p.department.name, p.display_name) for p in unheard] == sorted(
        (p.department.name, p.display_name) for p in unheard)
    by_name = {p.username: p for p in unheard}
    assert set(by_name) == {"head", "staff2", "other_staff", "other_head", "finance", "both"}
    assert by_name["both"].department.name == "销售二组" and by_name["both"].roles == {"head", "staff"}
    scoped = {p.username for p in services.unheard_people({departments["sales"].id})}
    assert scoped == {"head", "staff2", "both"}
    assert services.unheard_people(set()) == []


def test_inviting_the_unheard_invites_users_in_list_order(company):
    survey = build_survey(company["lead"])
    db.session.commit()
    expected = [p.id for p in services.unheard_people({company["departments"]["sales"].id})]
    created = services.invite_unheard(survey, {company["departments"]["sales"].id})
    assert [i.user_id for i in created] == expected
    assert {i.role for i in created} == {"head", "staff"}
    stored = set(db.session.scalars(select(SurveyInvitation.user_id).where(SurveyInvitation.survey_id == survey.id)))
    assert stored == set(expected)


def test_coverage_page_statement_count_does_not_grow(client_as, company, factory, count_statements):
    client = client_as("lead")
    client.get("/surveys/coverage")
    figures.clear()  # measure the computation, not the cached copy
    with count_statements() as small:
        assert client.get("/surveys/coverage").status_code == 200
    for n in range(8):
        factory.user("staff", department=company["departments"]["sales1"], display_name=f"新人{n}")
        factory.user("head", "staff", department=company["departments"]["finance"])
    db.session.commit()
    figures.clear()
    with count_statements() as large:
        page = client.get("/surveys/coverage").get_data(as_text=True)
    assert large.count == small.count
    assert "新人7" in page.split('data-testid="unheard"')[1]


def test_one_cell_of_the_matrix_narrows_the_unheard_to_its_department_and_business_role(company, factory):
    departments = company["departments"]
    factory.user("head", "staff", department=departments["sales2"], username="both")  # counted as a head
    db.session.commit()
    sales = departments["sales"].id
    everyone = services.unheard_people()
    assert {p.username for p in services.unheard_people(home_id=sales, role="head")} == {"head", "both"}
    assert {p.username for p in services.unheard_people(home_id=sales, role="staff")} == {"staff", "staff2"}
    assert {p.username for p in services.unheard_people(role="head")} == {"head", "both", "other_head"}
    assert services.in_cell(everyone, sales, "staff") == services.unheard_people(home_id=sales, role="staff")
    counts = services.unheard_counts(everyone)
    assert (counts[(sales, "head")], counts[(sales, "staff")], counts[(departments["finance"].id, "head")]) == (2, 2, 0)
    # the cell's count is its people minus those heard
    matrix = services.coverage_matrix()
    assert all(counts[key] <= cell.people for key, cell in matrix.cells.items())
    assert sum(counts.values()) == len(everyone)


def test_inviting_one_cell_invites_only_its_people(company):
    survey = build_survey(company["lead"])
    db.session.commit()
    created = services.invite_unheard(survey, None, company["departments"]["sales"].id, "staff")
    assert {i.user_id for i in created} == {company["staff"].id, company["staff2"].id}


def _session(company, department, *, person=None, role=None, held_on=date(2025, 9, 1)):
    return services.save_interview(None, title="访谈", interviewee="韩梅",
                                   department=company["departments"][department], method="interview",
                                   held_on=held_on, interviewer=company["lead"], role=role,
                                   interviewees=[person] if person else [])


def _agrees(matrix, unheard) -> bool:
    """The page's three readings of one rule: a cell is green exactly when fewer of its people are
    listed as unheard than it has, and its "not heard from" count is its share of the list."""
    return all(cell.is_heard == (cell.unheard < cell.people) and
               cell.unheard == len(services.in_cell(unheard, home_id, role))
               for (home_id, role), cell in matrix.cells.items())


def test_a_session_with_only_a_typed_name_counts_for_nobody(company):
    before = services.coverage_matrix()
    _session(company, "marketing", role="head")
    _session(company, "marketing")  # "several roles"
    db.session.commit()
    matrix = services.coverage_matrix()
    marketing = company["departments"]["marketing"].id
    assert matrix.percent == before.percent == 0.0
    assert not matrix.cell(marketing, "head").is_heard and not matrix.cell(marketing, "staff").is_heard
    assert matrix.cell(marketing, "head").interviews == matrix.cell(marketing, "staff").interviews == 0
    assert matrix.unlinked_sessions == 2
    assert services.coverage_matrix({company["departments"]["finance"].id}).unlinked_sessions == 0
    unheard = services.unheard_people()
    assert {company["other_head"].id, company["other_staff"].id} <= {p.id for p in unheard}
    assert _agrees(matrix, unheard)


def test_a_picked_person_is_heard_in_their_own_role_only(company):
    session = _session(company, "marketing", person=company["other_head"])
    db.session.commit()
    assert session.role == "head"  # the role follows the person picked
    matrix = services.coverage_matrix()
    marketing = company["departments"]["marketing"].id
    head, staff = matrix.cell(marketing, "head"), matrix.cell(marketing, "staff")
    assert (head.is_heard, head.interviews, head.unheard) == (True, 1, 0)
    assert (staff.is_heard, staff.interviews, staff.unheard) == (False, 0, 1)
    assert matrix.percent == 20.0  # one of five cells
    unheard = services.unheard_people()
    assert company["other_head"].id not in {p.id for p in unheard}
    assert company["other_staff"].id in {p.id for p in unheard}
    assert _agrees(matrix, unheard)


def test_coverage_agrees_with_the_unheard_list_as_people_answer_and_are_interviewed(company, factory):
    factory.user("head", "staff", department=company["departments"]["sales2"], username="both")
    survey = build_survey(company["lead"])
    invitation = services.invite(survey, [company["staff2"], company["other_staff"]])[0]
    services.submit_response(invitation, GOOD_ANSWERS)
    _session(company, "finance", person=company["finance"])
    _session(company, "sales", role="staff")
    db.session.commit()
    matrix, unheard = services.coverage_matrix(), services.unheard_people()
    assert _agrees(matrix, unheard)
    sales = company["departments"]["sales"].id
    assert matrix.cell(sales, "staff").responses == 1 and matrix.cell(sales, "staff").invitees == 1
    assert matrix.percent == round(100 * sum(c.is_heard for c in matrix.cells.values()) / len(matrix.cells), 1)


def test_the_role_of_a_picked_person_cannot_be_another(company):
    with pytest.raises(ServiceError, match="is counted as Department head") as refused:
        _session(company, "marketing", person=company["other_head"], role="staff")
    assert refused.value.field == "role"
    with pytest.raises(ServiceError, match="neither a department head nor staff"):
        _session(company, "marketing", person=company["trainer"], role="staff")
    assert _session(company, "marketing", person=company["trainer"]).role is None  # heard by nobody's count
    assert _session(company, "marketing", person=company["other_head"], role="head").role == "head"


def test_a_session_cannot_be_dated_in_the_future(company):
    with pytest.raises(ServiceError, match="future") as refused:
        _session(company, "finance", held_on=local_today() + timedelta(days=1))
    assert refused.value.field == "held_on"
    assert _session(company, "finance", held_on=local_today()).held_on == local_today()


def test_coverage_page_counts_a_typed_name_for_nobody_and_says_so(client_as, company):
    client = client_as("lead")
    response = client.post("/surveys/interviews/new", data={
        "title": "财务访谈", "method": "interview", "held_on": "2030-01-01",
        "department_id": company["departments"]["finance"].id, "interviewee": "韩梅", "interviewee_ids": "0",
        "role": "", "notes_markdown": "发票太慢。"})
    assert response.status_code == 422 and "cannot be dated in the future" in response.text
    assert db.session.scalar(select(func.count()).select_from(Interview)) == 0
    response = client.post("/surveys/interviews/new", data={
        "title": "财务访谈", "method": "interview", "held_on": "2025-09-01",
        "department_id": company["departments"]["finance"].id, "interviewee": "韩梅", "interviewee_ids": "0",
        "role": "", "notes_markdown": "发票太慢。"})
    assert response.status_code == 302
    page = client.get("/surveys/coverage").text
    assert 'data-testid="coverage-percent">0.0%' in page
    finance_row = page.split(">财务部<")[1].split("</tr>")[0]
    assert 'data-heard="no"' in finance_row and "0 interviews" in finance_row and "1 not heard from" in finance_row
    assert "1 session has no interviewee account picked" in page.split('data-testid="unlinked-sessions"')[1]
    assert company["finance"].display_name in page.split('data-testid="unheard"')[1]
