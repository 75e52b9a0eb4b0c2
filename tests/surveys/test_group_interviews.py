"""Group interviews: a session lists every account heard in it; coverage counts each of them."""
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from rollout.audit.models import AuditEntry
from rollout.audit.services import acting_as
from rollout.errors import ServiceError
from rollout.extensions import db
from surveys import services
from surveys.models import Interview, InterviewInterviewee
from tests.conftest import chinese_client

NOTES = "三位同事都说：报价审批要等三天。"


def _session(company, people, *, role=None, interviewee="", interview=None, recorded_by=None):
    return services.save_interview(interview, title="小组访谈", interviewee=interviewee,
                                   department=company["departments"]["sales"], method="interview",
                                   held_on=date(2025, 11, 2), interviewer=company["lead"], notes_markdown=NOTES,
                                   role=role, interviewees=people, recorded_by=recorded_by)


def _links() -> set[tuple[int, int, str | None]]:
    return set(db.session.execute(select(InterviewInterviewee.interview_id, InterviewInterviewee.user_id,
                                         InterviewInterviewee.role)).all())


def test_everyone_of_a_group_is_listed_with_their_role_and_heard(company):
    head, staff, staff2 = company["head"], company["staff"], company["staff2"]
    unheard_before = {person.id for person in services.unheard_people()}
    assert {head.id, staff.id, staff2.id} <= unheard_before
    interview = _session(company, [staff, head, staff2])
    db.session.commit()
    assert _links() == {(interview.id, staff.id, "staff"), (interview.id, head.id, "head"),
                        (interview.id, staff2.id, "staff")}
    # The first listed person is the session's interviewee_id; with no text, the names stand for it.
    assert interview.interviewee_id == staff.id
    assert interview.interviewee == f"{staff.display_name}、{head.display_name}、{staff2.display_name}"
    assert interview.role is None and interview.roles == ["head", "staff"]
    assert [row.user_id for row in interview.people][0] == staff.id
    unheard = {person.id for person in services.unheard_people()}
    assert not {head.id, staff.id, staff2.id} & unheard
    matrix = services.coverage_matrix()
    sales = company["departments"]["sales"].id
    assert matrix.cell(sales, "staff").interviews == 2 and matrix.cell(sales, "staff").heard == 2
    assert matrix.cell(sales, "head").is_heard and matrix.unlinked_sessions == 0


def test_a_shared_role_is_the_sessions_and_a_highlight_brings_every_role_to_a_requirement(company):
    same = _session(company, [company["staff"], company["staff2"]], role="staff")
    assert same.role == "staff"
    mixed = _session(company, [company["staff"], company["head"]])
    highlight = services.add_highlight(mixed, "报价审批要等三天", [])
    requirement = services.create_requirement("报价审批提速", highlight=highlight)
    assert set(requirement.roles) == {"head", "staff"}


def test_editing_the_group_adds_and_removes_people(company):
    staff, staff2, head = company["staff"], company["staff2"], company["head"]
    interview = _session(company, [staff, staff2], interviewee="张伟、李娜")
    db.session.commit()
    _session(company, [head, staff], interviewee="张伟、王强", interview=interview)
    db.session.commit()
    assert _links() == {(interview.id, head.id, "head"), (interview.id, staff.id, "staff")}
    assert interview.interviewee_id == head.id and interview.interviewee == "张伟、王强"
    assert staff2.id in {person.id for person in services.unheard_people()}
    _session(company, [], interviewee="张伟", interview=interview, role="staff")
    db.session.commit()
    assert _links() == set() and interview.interviewee_id is None and interview.role == "staff"
    assert services.coverage_matrix().unlinked_sessions == 1


@pytest.mark.parametrize("case, message, field", [
    ("eleven", "at most 10 accounts", "interviewee_ids"),
    ("twice", "is picked twice", "interviewee_ids"),
    ("inactive", "account is switched off", "interviewee_ids"),
    ("other role", "is counted as Department head", "role"),
    ("nobody", "Say who was interviewed", "interviewee"),
])
def test_bad_groups_are_refused_with_the_person_named_and_nothing_written(company, factory, case, message, field):
    sales1 = company["departments"]["sales1"]
    staff, head = company["staff"], company["head"]
    people = {"eleven": [staff] + [factory.user("staff", department=sales1) for _ in range(10)],
              "twice": [staff, head, staff], "other role": [staff, head], "nobody": []}
    if case == "inactive":
        gone = factory.user("staff", department=sales1, display_name="离职的人")
        gone.is_active_account = False
        db.session.commit()
        people[case] = [staff, gone]
    before = db.session.scalar(select(func.count()).select_from(Interview))
    with pytest.raises(ServiceError, match=message) as refused:
        _session(company, people[case], role="staff" if case == "other role" else None)
    assert refused.value.field == field
    if case in ("twice", "other role"):
        assert (staff if case == "twice" else head).display_name in refused.value.message
    if case == "inactive":
        assert "离职的人" in refused.value.message
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Interview)) == before and _links() == set()


def test_a_head_records_only_people_of_their_department_but_keeps_those_already_listed(company):
    head, staff, outsider = company["head"], company["staff"], company["other_staff"]
    with pytest.raises(ServiceError, match="works outside the departments") as refused:
        _session(company, [staff, outsider], recorded_by=head)
    assert outsider.display_name in refused.value.message
    db.session.rollback()
    interview = _session(company, [staff, outsider], recorded_by=company["lead"])
    db.session.commit()
    _session(company, [outsider, staff, company["staff2"]], interview=interview, recorded_by=head)
    db.session.commit()
    assert {user_id for _, user_id, _ in _links()} == {staff.id, outsider.id, company["staff2"].id}


def _form(company, **values):
    data = {"title": "小组访谈", "method": "interview", "held_on": "2025-11-02",
            "department_id": company["departments"]["sales"].id, "interviewee": "", "role": "",
            "notes_markdown": NOTES}
    data.update(values)
    return data


def test_the_form_records_a_group_and_every_page_lists_it(client_as, company):
    client = client_as("head")
    form = client.get("/surveys/interviews/new").text
    assert form.count('name="interviewee_ids"') == 3 and 'data-filter-for="interviewee_ids-2"' in form
    # A colleague of another department is not offered to a head.
    assert company["staff"].display_name in form and company["other_staff"].display_name not in form
    more = client.post("/surveys/interviews/new", data=_form(
        company, interviewee_ids=[company["staff"].id, company["staff2"].id, "0"], more_rows="1"))
    # Two picked, two empty rows as always, two more asked for; nothing saved yet.
    assert more.status_code == 200 and more.text.count('name="interviewee_ids"') == 6
    assert db.session.scalar(select(func.count()).select_from(Interview)) == 0
    people = [company["staff"], company["head"], company["staff2"]]
    response = client.post("/surveys/interviews/new", data=_form(
        company, interviewee_ids=[str(p.id) for p in people] + ["0", "0"]))
    assert response.status_code == 302
    interview = db.session.scalar(select(Interview))
    assert {row.user_id for row in interview.interviewees} == {p.id for p in people}
    page = client.get(f"/surveys/interviews/{interview.id}").text
    heard = page.split('data-testid="people-heard"')[1].split("</div>")[0]
    assert "3 people" in heard and f"{company['head'].display_name} (Department head)" in heard
    assert all(p.display_name in heard for p in people)
    listing = client.get("/surveys/interviews").text.split('data-testid="people-heard"')[1].split("</div>")[0]
    assert all(p.display_name in listing for p in people)
    edit = client.get(f"/surveys/interviews/{interview.id}/edit").text
    assert edit.count('name="interviewee_ids"') == 5 and edit.count(" selected>") >= 3


def test_the_form_says_what_is_wrong_and_saves_nothing(client_as, company):
    client = client_as("head")
    staff = company["staff"]
    for picks, message in (([staff.id, staff.id], "is picked twice"),
                           ([staff.id, 987654], "no longer exists"),
                           ([staff.id, company["other_staff"].id], "works outside the departments"),
                           (["x1"], "Say who was interviewed")):
        response = client.post("/surveys/interviews/new", data=_form(company, interviewee_ids=picks))
        assert response.status_code == 422 and message in response.text, message
        assert 'id="interviewee_ids-error"' in response.text or message == "Say who was interviewed"
        if message == "is picked twice":  # the two picked rows are marked, not the empty ones
            assert response.text.count('form-select is-invalid" id="interviewee_ids-') == 2
    assert db.session.scalar(select(func.count()).select_from(Interview)) == 0 and _links() == set()


def test_the_list_page_costs_the_same_statements_with_more_groups(client_as, company, count_statements):
    client = client_as("lead")
    _session(company, [company["staff"]])
    db.session.commit()
    client.get("/surveys/interviews")
    with count_statements() as one:
        assert client.get("/surveys/interviews").status_code == 200
    for _ in range(4):
        _session(company, [company["staff"], company["staff2"], company["head"]])
    db.session.commit()
    with count_statements() as five:
        assert client.get("/surveys/interviews").status_code == 200
    assert five.count == one.count


def test_the_specification_names_everyone_heard(client_as, company):
    from io import BytesIO

    from pypdf import PdfReader
    interview = _session(company, [company["staff"], company["head"]])
    requirement = services.create_requirement("报价审批提速", highlight=services.add_highlight(interview, "报价审批要等三天", []))
    db.session.commit()
    pdf = client_as("lead").get("/surveys/requirements/specification.pdf")
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf.data)).pages).replace("\n", " ")
    assert requirement.title in text
    assert (f"销售部 · {company['staff'].display_name} (Staff) and {company['head'].display_name} (Department head)"
            in text)


def test_link_rows_read_in_words_on_the_chinese_audit_page(app, company):
    with acting_as(company["lead"]):
        interview = _session(company, [company["staff"]])
        db.session.commit()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.entity == "interview_interviewees"))
    assert entry is not None and entry.action == "create" and entry.department_id == interview.department_id
    page = chinese_client(app, company["admin"]).get("/audit/?entity=interview_interviewees").get_data(as_text=True)
    body = " ".join(re.sub(r"<[^>]+>", " ", page.split("<tbody>")[1].split("</tbody>")[0]).split())
    assert "受访人" in body and "访谈 : 小组访谈" in body and f"受访人 : {company['staff'].display_name}" in body
    assert "角色 : 员工" in body and "interview_id" not in body and "user_id" not in body
