"""Coverage counts people per department and business role in the database and lists the unheard as
plain rows: who counts where, the order of the list, and a statement count that does not grow."""
from sqlalchemy import select

from rollout import figures
from rollout.extensions import db
from surveys import services
from surveys.models import SurveyInvitation
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
