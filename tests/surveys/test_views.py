"""Pages: answering by personal link, building, results and exports, backlog, coverage, access."""
import csv
import io
import re
from datetime import date

from sqlalchemy import func, select

from rollout.extensions import db
from surveys import charts as survey_charts
from surveys import services
from surveys.models import Interview, Question, Requirement, Survey, SurveyInvitation, SurveyResponse
from tests.surveys.conftest import GOOD_ANSWERS, build_survey

FORM_ANSWERS = {"q_travels": "yes", "q_mobile": "查订单", "q_tools": ["excel", "paper"], "q_score": "4",
                "q_agree__a": "3", "q_agree__b": "2", "q_rank__x": "2", "q_rank__y": "1", "q_rank__z": "3"}


def _invitation(company, user="staff", **kwargs):
    survey = build_survey(company["lead"], **kwargs)
    invitation = services.invite(survey, [company[user]])[0]
    db.session.commit()
    return survey, invitation


def test_personal_link_works_without_login_and_answers_once(app, company):
    survey, invitation = _invitation(company)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    url = f"/surveys/respond/{invitation.token}"
    page = client.get(url)
    assert page.status_code == 200 and "Travel often?" in page.text
    response = client.post(url, data=FORM_ANSWERS)
    assert response.status_code == 200 and "Thank you" in response.text
    stored = db.session.scalar(select(SurveyResponse))
    assert {a.question.name: a.value for a in stored.answers}["rank"] == ["y", "x", "z"]
    again = client.post(url, data=FORM_ANSWERS)
    assert "already answered" in again.text
    assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 1
    assert client.get("/surveys/respond/not-a-token").status_code == 404


def test_a_personal_link_is_not_for_someone_signed_in_as_another_person(client_as, company):
    from rollout.audit.models import AuditEntry
    _survey, invitation = _invitation(company)
    url = f"/surveys/respond/{invitation.token}"
    assert client_as("staff2").get(url).status_code == 403
    assert client_as("staff2").post(url, data=FORM_ANSWERS).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    assert client_as("staff").get(url).status_code == 200
    # The invitation's notification is audited without its link: the trail is no way in.
    rows = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "notifications")).all()
    assert rows and all(invitation.token not in str(row.changes) for row in rows)


def test_bad_answers_give_422_with_messages_and_nothing_is_written(client, company):
    survey, invitation = _invitation(company)
    url = f"/surveys/respond/{invitation.token}"
    response = client.post(url, data={**FORM_ANSWERS, "q_score": "9", "q_mobile": "", "q_rank__x": "1"})
    assert response.status_code == 422
    assert "Choose a rating from 1 to 5." in response.text
    assert "This question is required." in response.text
    assert "Give every option a different rank." in response.text
    assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    assert db.session.get(SurveyInvitation, invitation.id).has_responded is False


def test_save_draft_and_resume(client, company):
    survey, invitation = _invitation(company)
    url = f"/surveys/respond/{invitation.token}"
    response = client.post(url, data={"q_travels": "yes", "q_mobile": "草稿内容", "action": "draft"})
    assert response.status_code == 302
    page = client.get(url)
    assert "草稿内容" in page.text
    assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 0


def test_my_invitations_on_the_hub(client_as, company):
    survey, invitation = _invitation(company)
    page = client_as("staff").get("/surveys/")
    assert page.status_code == 200 and survey.title in page.text and invitation.token in page.text
    assert survey.title not in client_as("staff2").get("/surveys/").text


def test_build_a_survey_through_the_pages(client_as, company):
    client = client_as("lead")
    response = client.post("/surveys/new", data={"title": "新问卷", "department_id": "0", "recurrence": ""})
    assert response.status_code == 302
    survey = db.session.scalar(select(Survey).where(Survey.title == "新问卷"))
    base = f"/surveys/{survey.id}/questions/new"
    assert client.post(base, data={"name": "q1", "type": "single", "label": "是否出差", "choices_text": "yes | 是\nno | 否",
                                   "condition_join": "and", "section_id": "0"}).status_code == 302
    later = client.post(base, data={"name": "q2", "type": "text", "label": "去哪", "condition_join": "and",
                                    "section_id": "0", "cond_0_question": "q1", "cond_0_op": "equals",
                                    "cond_0_value": "maybe"})
    assert later.status_code == 422 and "has no option maybe" in later.text
    q1 = survey.questions[0]
    circular = client.post(f"/surveys/{survey.id}/questions/{q1.id}", data={
        "name": "q1", "type": "single", "label": "是否出差", "choices_text": "yes | 是\nno | 否", "condition_join": "and",
        "section_id": "0", "cond_0_question": "q9", "cond_0_op": "equals", "cond_0_value": "a"})
    assert circular.status_code == 422
    assert client.post(f"/surveys/{survey.id}/status", data={"status": "open"}).status_code == 302
    assert db.session.get(Survey, survey.id).status == "open"
    assert client.get(f"/surveys/{survey.id}").status_code == 200


def test_answered_survey_refuses_type_change_in_the_form(client_as, company):
    survey, invitation = _invitation(company)
    services.submit_response(invitation, GOOD_ANSWERS)
    db.session.commit()
    question = survey.questions[0]
    response = client_as("lead").post(f"/surveys/{survey.id}/questions/{question.id}", data={
        "name": "travels", "type": "text", "label": "出差", "condition_join": "and", "section_id": "0"})
    assert response.status_code == 422 and "Make a new version" in response.text
    assert db.session.get(Question, question.id).type == "single"
    assert client_as("lead").post(f"/surveys/{survey.id}/questions/{question.id}/delete").status_code == 303
    assert db.session.get(Question, question.id) is not None


def test_results_and_exports(client_as, company):
    survey, invitation = _invitation(company)
    services.submit_response(invitation, GOOD_ANSWERS)
    db.session.commit()
    client = client_as("lead")
    page = client.get(f"/surveys/{survey.id}/results")
    assert page.status_code == 200 and "<svg" in page.text and "查订单" in page.text
    exported = client.get(f"/surveys/{survey.id}/responses.csv")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    header, row = rows[0], rows[1]
    assert len(rows) == 2
    assert "同意吗？: 报表要自动" in header and "同意吗？: 要手机端" in header
    values = dict(zip(header, row))
    assert values["Travel often?"] == "是" and values["用哪些工具？"] == "Excel; 纸质"
    assert values["同意吗？: 报表要自动"] == "同意" and values["排序"] == "漏斗 > 客户 > 报表"
    assert values["Respondent"] == company["staff"].display_name
    xlsx = client.get(f"/surveys/{survey.id}/responses.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get(f"/surveys/{survey.id}/xlsform").data[:2] == b"PK"


def test_anonymous_export_has_no_names(client_as, company):
    survey, invitation = _invitation(company, anonymous=True)
    services.submit_response(invitation, GOOD_ANSWERS)
    db.session.commit()
    text = client_as("lead").get(f"/surveys/{survey.id}/responses.csv").data.decode("utf-8-sig")
    assert "Respondent" not in text and company["staff"].display_name not in text


def test_heads_manage_only_their_department_surveys(client_as, company):
    survey = build_survey(company["lead"])
    survey.department_id = company["departments"]["sales"].id
    other = build_survey(company["lead"], title="市场部问卷")
    other.department_id = company["departments"]["marketing"].id
    db.session.commit()
    head = client_as("head")
    assert head.get(f"/surveys/{survey.id}").status_code == 200
    assert head.get(f"/surveys/{other.id}").status_code == 403
    assert head.get(f"/surveys/{other.id}/results").status_code == 403
    assert head.get(f"/surveys/{other.id}/responses.csv").status_code == 403
    listing = head.get("/surveys/list").text
    assert survey.title in listing and "市场部问卷" not in listing
    assert client_as("staff").get(f"/surveys/{survey.id}").status_code == 403


def test_survey_list_statement_count_does_not_grow(client_as, company, count_statements):
    client = client_as("lead")
    build_survey(company["lead"])
    client.get("/surveys/list")
    with count_statements() as few:
        client.get("/surveys/list")
    for number in range(4):
        survey = build_survey(company["lead"], title=f"问卷{number}")
        services.invite(survey, [company["staff"], company["staff2"]])
    db.session.commit()
    with count_statements() as many:
        assert client.get("/surveys/list").status_code == 200
    assert many.count == few.count


def test_import_page_shows_row_errors_with_422(client_as, company):
    from tests.surveys.test_xlsform import _workbook
    data = _workbook([("geopoint", "where", "位置")])
    response = client_as("lead").post("/surveys/import", data={"file": (io.BytesIO(data), "bad.xlsx")},
                                      content_type="multipart/form-data")
    assert response.status_code == 422 and "survey row 2" in response.text
    assert db.session.scalar(select(func.count()).select_from(Survey)) == 0


def test_interview_pages_highlight_and_requirement_from_it(client_as, company):
    client = client_as("head")
    form = client.get("/surveys/interviews/new").text
    assert 'data-filter-for="interviewee_ids-0"' in form  # the company's people narrow to a typed name
    response = client.post("/surveys/interviews/new", data={
        "title": "销售访谈", "method": "interview", "held_on": "2025-11-02",
        "department_id": company["departments"]["sales"].id, "interviewee": "张伟", "interviewee_ids": "0",
        "role": "staff", "notes_markdown": "报价审批太慢，要等三天。"})
    assert response.status_code == 302
    interview = db.session.scalar(select(Interview))
    bad = client.post(f"/surveys/interviews/{interview.id}", data={"quote": "不存在的话", "tags": "x"})
    assert bad.status_code == 422 and "not in the notes" in bad.text
    assert client.post(f"/surveys/interviews/{interview.id}", data={"quote": "报价审批太慢",
                                                                     "tags": "审批 效率"}).status_code == 302
    highlight = interview.highlights[0]
    form = client.get(f"/surveys/requirements/new?highlight={highlight.id}")
    assert "报价审批太慢" in form.text
    created = client.post(f"/surveys/requirements/new?highlight={highlight.id}", data={
        "title": "审批提速", "priority": "must", "department_ids": [company["departments"]["sales"].id],
        "owner_id": "0"})
    assert created.status_code == 302
    requirement = db.session.scalar(select(Requirement))
    assert [e.highlight_id for e in requirement.evidence] == [highlight.id]
    assert "审批 " in client.get("/surveys/interviews/tags").text or "审批" in client.get("/surveys/interviews/tags").text
    # another department's head cannot see or edit this interview
    assert client_as("other_head").get(f"/surveys/interviews/{interview.id}").status_code == 403


def test_requirement_form_errors_are_422_and_nothing_written(client_as, company):
    response = client_as("lead").post("/surveys/requirements/new", data={"title": "", "priority": "must",
                                                                          "owner_id": "0"})
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Requirement)) == 0
    response = client_as("head").post("/surveys/requirements/new", data={
        "title": "市场部的需求", "priority": "must", "owner_id": "0",
        "department_ids": [company["departments"]["marketing"].id]})
    assert response.status_code == 422 and "Include your own department" in response.text


def test_requirements_scope_status_and_merge(client_as, company):
    departments = company["departments"]
    sales = services.create_requirement("销售需求", departments=[departments["sales"]])
    marketing = services.create_requirement("市场需求", departments=[departments["marketing"]])
    duplicate = services.create_requirement("销售需求（重复）", departments=[departments["sales"]])
    db.session.commit()
    staff = client_as("staff")
    listing = staff.get("/surveys/requirements").text
    assert "销售需求" in listing and "市场需求" not in listing
    assert staff.get(f"/surveys/requirements/{marketing.id}").status_code == 403
    assert staff.post(f"/surveys/requirements/{sales.id}/status", data={"status": "accepted"}).status_code == 403
    head = client_as("head")
    assert head.post(f"/surveys/requirements/{sales.id}/status", data={"status": "implemented"}).status_code == 303
    assert head.post(f"/surveys/requirements/{sales.id}/status", data={"status": "accepted"}).status_code == 302
    assert head.post(f"/surveys/requirements/{sales.id}/merge",
                     data={"duplicate_ids": [marketing.id]}).status_code == 403
    assert head.post(f"/surveys/requirements/{sales.id}/merge",
                     data={"duplicate_ids": [duplicate.id]}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Requirement, duplicate.id).merged_into_id == sales.id
    assert db.session.get(Requirement, sales.id).status == "accepted"
    assert "销售需求" in client_as("trainer").get("/surveys/requirements").text


def test_requirements_list_statement_count_does_not_grow(client_as, company, count_statements):
    client = client_as("lead")
    services.create_requirement("一", owner=company["head"], departments=[company["departments"]["sales"]])
    db.session.commit()
    client.get("/surveys/requirements")
    with count_statements() as few:
        client.get("/surveys/requirements")
    for number in range(6):
        requirement = services.create_requirement(f"需求{number}", owner=company["head"],
                                                  departments=[company["departments"]["sales"],
                                                               company["departments"]["finance"]])
        interview = services.save_interview(None, title="t", interviewee="x", department=company["departments"]["sales"],
                                            method="interview", held_on=date(2025, 1, 1), interviewer=None,
                                            notes_markdown="abc")
        services.add_evidence(requirement, highlight=services.add_highlight(interview, "abc", []))
    db.session.commit()
    with count_statements() as many:
        assert client.get("/surveys/requirements").status_code == 200
    assert many.count == few.count


def test_specification_pdf_names_roles_and_where_each_piece_of_evidence_came_from(client_as, company):
    from io import BytesIO

    from pypdf import PdfReader
    sales = company["departments"]["sales"]
    requirement = services.create_requirement("客户归属到人", description="离职交接", priority="must",
                                              departments=[sales], roles=["staff"])
    interview = services.save_interview(None, title="销售访谈", interviewee="张伟", department=sales,
                                        method="interview", held_on=date(2025, 11, 2), interviewer=company["lead"],
                                        notes_markdown="离职的人客户没人接。", role="head")
    services.add_evidence(requirement, highlight=services.add_highlight(interview, "离职的人客户没人接", []),
                          note="三个组都提到")
    survey, invitation = _invitation(company, anonymous=True)
    response = services.submit_response(invitation, GOOD_ANSWERS)
    travels = next(a for a in response.answers if a.question.name == "travels")
    services.add_evidence(requirement, answer=travels)
    db.session.commit()
    pdf = client_as("lead").get("/surveys/requirements/specification.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data[:4] == b"%PDF"
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf.data)).pages).replace("\n", " ")
    # The roles heard in the evidence join the requirement's.
    assert "For roles: Department head and Staff" in text
    assert "“离职的人客户没人接” — Interview “销售访谈”, 2025-11-02; 销售部 · 张伟 (Department head) 三个组都提到" in text
    # A choice answer reads as its option's label, and says which survey gave it; the only answer of an
    # anonymous survey does not name its department (it would name the person).
    assert "“是” — Survey answer" in text and "Travel often?; Anonymous answer" in text
    assert company["staff"].display_name not in text


def test_coverage_page_and_inviting_the_unheard(client_as, company):
    survey, invitation = _invitation(company)
    services.submit_response(invitation, GOOD_ANSWERS)
    db.session.commit()
    client = client_as("lead")
    page = client.get("/surveys/coverage")
    assert page.status_code == 200 and "Not heard yet" in page.text and company["finance"].display_name in page.text
    response = client.post("/surveys/coverage/invite", data={"survey_id": survey.id})
    assert response.status_code == 302
    invited = set(db.session.scalars(select(SurveyInvitation.user_id).where(SurveyInvitation.survey_id == survey.id)))
    assert company["finance"].id in invited and company["other_head"].id in invited
    head_page = client_as("head").get("/surveys/coverage").text
    assert "财务部" not in head_page.split("coverage-matrix")[1].split("</table>")[0]


def test_trend_page(client_as, company):
    survey = services.create_survey("月度脉搏", company["lead"], recurrence="monthly", opens_on=date(2026, 9, 1))
    services.save_question(survey, name="score", type="rating10", label="推荐度")
    services.change_survey_status(survey, "open")
    invitation = services.invite(survey, [company["staff"]])[0]
    services.submit_response(invitation, {"score": "7"})
    db.session.commit()
    page = client_as("lead").get(f"/surveys/{survey.id}/trend")
    assert page.status_code == 200 and "<svg" in page.text and "销售部" in page.text


def test_hostile_input_never_gives_a_500(client_as, company):
    survey, invitation = _invitation(company)
    services.save_question(survey, name="hours", type="decimal", label="小时")
    services.save_question(survey, name="count", type="integer", label="次数")
    db.session.commit()
    url = f"/surveys/respond/{invitation.token}"
    client, lead = client_as("staff"), client_as("lead")  # the invitee answers, the lead writes requirements
    for value in ("\x00", "1e999", "NaN", "-Infinity", "9" * 40, "9999-99-99", "１２３", "<script>", "=cmd|' /C"):
        data = {**FORM_ANSWERS, "q_hours": value, "q_count": value, "q_score": value, "q_rank__x": value,
                "q_mobile": f"文字{value}"}
        response = client.post(url, data={**data, "action": "draft"})
        assert response.status_code in (302, 422), (value, response.status_code)
        response = lead.post("/surveys/requirements/new", data={"title": f"需求{value}", "priority": value,
                                                                    "owner_id": value})
        assert response.status_code in (302, 422), (value, response.status_code)
    response = client.post(url, data={**FORM_ANSWERS, "q_mobile": "a\x00b", "q_hours": "-Infinity"})
    assert response.status_code == 422 and "Enter a number." in response.text
    response = client.post(url, data={**FORM_ANSWERS, "q_mobile": "a\x00b", "q_count": "9" * 40})
    assert response.status_code == 422 and "Enter a smaller number." in response.text
    assert client.post(url, data={**FORM_ANSWERS, "q_mobile": "a\x00b"}).status_code == 200
    answer = db.session.scalars(select(SurveyResponse)).one().answers
    assert "ab" in [a.value for a in answer]


def test_coverage_page_lists_the_unheard_fifty_at_a_time_and_by_cell(client_as, company, factory):
    sales1 = company["departments"]["sales1"]
    for n in range(60):
        factory.user("staff", department=sales1, display_name=f"新人{n:02d}")
    build_survey(company["lead"])  # open: the page offers to invite
    db.session.commit()
    client = client_as("lead")
    first = client.get("/surveys/coverage").text
    listed = first.split('data-testid="unheard"')[1].split("</table>")[0]
    assert listed.count("<tr>") == 1 + 50  # header and one page
    assert "Page 1 of 2" in first
    last = client.get("/surveys/coverage?page=2").text.split('data-testid="unheard"')[1].split("</table>")[0]
    assert last.count("<tr>") == 1 + (60 + 6) - 50  # the 60 new people and six others of the company
    sales = company["departments"]["sales"].id
    # the sales staff cell links to its own list: the 60 new people and the two staff of its teams
    assert f"/surveys/coverage?department={sales}&amp;role=staff#unheard" in first
    cell = client.get(f"/surveys/coverage?department={sales}&role=staff&page=2").text
    rows = cell.split('data-testid="unheard"')[1].split("</table>")[0]
    assert rows.count("<tr>") == 1 + 12 and company["head"].display_name not in rows
    assert 'name="department" value="%d"' % sales in cell  # the invite form keeps the cell
    # values that are not a row or column of the matrix show everyone, never an error
    for query in ("department=abc&role=boss", "department=999999", "page=-3", "page=abc", "page=99"):
        response = client.get("/surveys/coverage?" + query)
        assert response.status_code == 200
        assert response.text.split('data-testid="unheard"')[1].count("<tr>") >= 1 + 16


def test_inviting_from_one_cell_invites_its_people_and_comes_back_to_it(client_as, company):
    survey, _invited = _invitation(company)
    sales = company["departments"]["sales"].id
    before = set(db.session.scalars(select(SurveyInvitation.user_id).where(SurveyInvitation.survey_id == survey.id)))
    response = client_as("lead").post("/surveys/coverage/invite",
                                      data={"survey_id": survey.id, "department": sales, "role": "head"})
    assert response.status_code == 302 and f"department={sales}" in response.location
    invited = set(db.session.scalars(select(SurveyInvitation.user_id).where(SurveyInvitation.survey_id == survey.id)))
    assert invited - before == {company["head"].id}


def test_counts_of_one_read_in_the_singular(client_as, company):
    finance = company["departments"]["finance"]
    services.save_interview(None, title="访谈", interviewee="财务", department=finance, method="interview",
                            held_on=date(2025, 9, 1), interviewer=company["lead"], interviewees=[company["finance"]])
    survey = build_survey(company["lead"])
    db.session.commit()
    client = client_as("lead")
    finance_row = client.get("/surveys/coverage").text.split(">财务部<")[1].split("</tr>")[0]
    assert "1 person ·" in finance_row and "1 interview ·" in finance_row and "1 people" not in finance_row
    response = client.post("/surveys/coverage/invite", data={"survey_id": survey.id, "role": "head",
                                                             "department": company["departments"]["marketing"].id},
                           follow_redirects=True)
    assert "1 person invited to" in response.text


def test_a_refused_number_keeps_every_answer_given_rankings_included(client, company):
    survey, invitation = _invitation(company)
    services.save_question(survey, name="hours", type="decimal", label="每周几小时")
    db.session.commit()
    url = f"/surveys/respond/{invitation.token}"
    response = client.post(url, data={**FORM_ANSWERS, "q_hours": "1,5"})
    assert response.status_code == 422
    assert "Enter a number, with “.” as the decimal point (1.5)" in response.text
    assert 'name="q_hours" value="1,5"' in response.text and 'value="查订单"' in response.text
    assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    # ranks refused (two options ranked 1) come back as chosen, not reset
    response = client.post(url, data={**FORM_ANSWERS, "q_rank__x": "1", "q_rank__y": "1", "q_rank__z": "3"})
    assert response.status_code == 422 and "Give every option a different rank." in response.text
    for option, rank in (("x", "1"), ("y", "1"), ("z", "3")):
        select_html = response.text.split(f'name="q_rank__{option}"')[1].split("</select>")[0]
        assert f'<option value="{rank}" selected>' in select_html, option
    response = client.post(url, data={**FORM_ANSWERS, "q_hours": "1,500"})
    assert response.status_code == 200
    hours = next(a for a in db.session.scalar(select(SurveyResponse)).answers if a.question.name == "hours")
    assert hours.value == 1500


def _zh_client(app, user):
    from tests.conftest import login
    zh = app.test_client()
    zh.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(zh, user)
    return zh


def test_export_keeps_the_respondent_columns_apart_from_questions_named_like_them(app, client_as, company):
    survey = build_survey(company["lead"], open_it=False)
    for name in ("role", "department", "response"):
        services.save_question(survey, name=name, type="text", label=f"问题 {name}", label_en=f"Question {name}")
    services.change_survey_status(survey, "open")
    invitation = services.invite(survey, [company["staff"]])[0]
    services.submit_response(invitation, {**GOOD_ANSWERS, "role": "我是组长", "department": "华东区",
                                          "response": "很好"})
    db.session.commit()
    rows = list(csv.reader(io.StringIO(client_as("lead").get(f"/surveys/{survey.id}/responses.csv")
                                       .data.decode("utf-8-sig"))))
    values = dict(zip(*rows))
    assert values["Role"] == "Staff" and values["Department"] == "销售部"
    assert values["Response"] == str(db.session.scalar(select(SurveyResponse.id)))
    assert (values["Question role"], values["Question department"], values["Question response"]) == (
        "我是组长", "华东区", "很好")
    chinese = list(csv.reader(io.StringIO(_zh_client(app, company["lead"]).get(f"/surveys/{survey.id}/responses.csv")
                                          .data.decode("utf-8-sig"))))
    values = dict(zip(*chinese))
    assert values["角色"] == "员工" and values["问题 role"] == "我是组长"
    assert "staff" not in chinese[1]
    keys = [column.key for column in services.export_table(survey)[0]]
    assert len(keys) == len(set(keys))


def test_question_form_offers_the_answers_of_earlier_choice_questions_by_their_wording(client_as, company):
    survey = build_survey(company["lead"], open_it=False)
    client = client_as("lead")
    form = client.get(f"/surveys/{survey.id}/questions/new").text
    picker = form.split('name="cond_0_option"')[1].split("</select>")[0]
    assert '<option value="travels:yes" >是</option>' in picker
    assert '<option value="tools:wechat" >微信</option>' in picker
    base = {"name": "later", "type": "text", "label": "之后", "condition_join": "and", "section_id": "0"}
    # the answer picked from the list is stored as its value; the question follows from it
    assert client.post(f"/surveys/{survey.id}/questions/new", data={
        **base, "cond_0_op": "equals", "cond_0_option": "travels:yes"}).status_code == 302
    later = db.session.scalar(select(Question).where(Question.survey_id == survey.id, Question.name == "later"))
    assert later.conditions == [{"question": "travels", "op": "equals", "value": "yes"}]
    edit = client.get(f"/surveys/{survey.id}/questions/{later.id}").text
    assert '<option value="travels:yes" selected>是</option>' in edit.split('name="cond_0_option"')[1]
    # the wording typed works too; a rating compared with a word is refused with the reason
    assert client.post(f"/surveys/{survey.id}/questions/new", data={
        **base, "name": "typed", "cond_0_question": "tools", "cond_0_op": "selected",
        "cond_0_value": "微信"}).status_code == 302
    refused = client.post(f"/surveys/{survey.id}/questions/new", data={
        **base, "name": "bad", "cond_0_question": "score", "cond_0_op": "equals", "cond_0_value": "abc"})
    assert refused.status_code == 422
    assert "Question score never gives the answer “abc”: Choose a rating from 1 to 5." in refused.text
    assert 'value="abc"' in refused.text  # what was typed stays in the form
    mixed = client.post(f"/surveys/{survey.id}/questions/new", data={
        **base, "name": "mixed", "cond_0_question": "travels", "cond_0_op": "equals", "cond_0_option": "tools:excel"})
    assert mixed.status_code == 422 and "belongs to question tools, not to travels" in mixed.text
    assert db.session.scalar(select(func.count()).select_from(Question).where(
        Question.survey_id == survey.id, Question.name.in_(("bad", "mixed")))) == 0


def test_results_count_in_whole_numbers_and_give_likert_statements_in_full(client_as, company):
    survey = build_survey(company["lead"], open_it=False)
    services.save_question(survey, name="needs", type="likert", label="Needs", options=[
        services.OptionSpec("1", "Disagree"), services.OptionSpec("2", "Neutral"), services.OptionSpec("3", "Agree")],
        rows=[services.OptionSpec("log", "I need to log every customer visit from my phone while travelling")])
    services.change_survey_status(survey, "open")
    invitation = services.invite(survey, [company["staff"]])[0]
    services.submit_response(invitation, {**GOOD_ANSWERS, "needs": {"log": "3"}})
    db.session.commit()
    page = client_as("lead").get(f"/surveys/{survey.id}/results").text
    for chart in page.split("<svg")[1:]:
        labels = re.findall(r"<text[^>]*>([^<]*)</text>", chart.split("</svg>")[0])
        assert not [label for label in labels if re.fullmatch(r"\d+\.\d+", label)], labels
    card = page.split('id="q-needs"')[1]
    table = card.split('data-testid="likert-table"')[1].split("</table>")[0]
    assert "I need to log every customer visit from my phone while travelling" in table
    chart = card.split("<svg")[1].split("</svg>")[0]
    red, grey, blue = survey_charts.diverging_colors(3)
    assert chart.index(red) < chart.index(grey) < chart.index(blue)  # disagree → agree


def test_specification_lists_requirements_without_a_department_last(company, factory):
    zeta = factory.department("Zeta 项目组", parent=company["departments"]["company"])
    services.create_requirement("没有部门的需求")
    services.create_requirement("Zeta 的需求", departments=[zeta])
    services.create_requirement("销售的需求", departments=[company["departments"]["sales"]])
    db.session.commit()
    names = [name for name, _priorities in services.specification()]
    assert names == ["Zeta 项目组", "销售部", "No department"]


def test_a_highlight_heard_again_joins_an_existing_requirement_the_most_similar_offered_first(client_as, company):
    departments = company["departments"]
    interview = services.save_interview(None, title="销售访谈", interviewee="张伟", department=departments["sales"],
                                        method="interview", held_on=date(2025, 11, 2), interviewer=company["head"],
                                        notes_markdown="报价审批太慢，要等三天。", role="staff")
    highlight = services.add_highlight(interview, "报价审批太慢", [])
    other = services.create_requirement("手机端签到", departments=[departments["sales"]])
    similar = services.create_requirement("报价审批要提速", departments=[departments["marketing"]])
    merged = services.create_requirement("审批慢（重复）", departments=[departments["sales"]])
    services.merge_requirements(similar, [merged])
    hidden = services.create_requirement("财务报价审批太慢", departments=[departments["finance"]])
    db.session.commit()
    lead, head = client_as("lead"), client_as("head")
    form = lead.get(f"/surveys/requirements/new?highlight={highlight.id}").text
    offered = re.findall(r'<option value="(\d+)">#\d+ ', form.split('data-testid="add-to-existing"')[1])
    # Open requirements only, the one most like the quote first; merged ones are not offered.
    assert offered[:2] == [str(hidden.id), str(similar.id)] and str(other.id) in offered
    assert str(merged.id) not in offered
    # A head is offered the requirements of their own department only.
    offered = head.get(f"/surveys/requirements/new?highlight={highlight.id}").text.split(
        'data-testid="add-to-existing"')[1]
    assert f'value="{hidden.id}"' not in offered and f'value="{other.id}"' in offered

    url = f"/surveys/requirements/evidence?highlight={highlight.id}"
    added = lead.post(url, data={"requirement_id": similar.id, "note": "第二次听到"})
    assert added.status_code == 302 and added.location.endswith(f"/surveys/requirements/{similar.id}")
    db.session.expire_all()
    requirement = db.session.get(Requirement, similar.id)
    assert [(e.highlight_id, e.note) for e in requirement.evidence] == [(highlight.id, "第二次听到")]
    # The department heard joins the requirement's.
    assert departments["sales"].id in requirement.department_ids
    again = lead.post(url, data={"requirement_id": similar.id})
    assert "This requirement already has that evidence." in lead.get(again.location).text
    assert len(db.session.get(Requirement, similar.id).evidence) == 1

    nothing_chosen = lead.post(url, data={})
    assert nothing_chosen.status_code == 303 and nothing_chosen.location.endswith(
        f"/surveys/requirements/new?highlight={highlight.id}")
    assert "Choose the requirement the evidence belongs to." in lead.get(nothing_chosen.location).text
    refused = lead.post(url, data={"requirement_id": merged.id})
    assert refused.status_code == 303
    assert "This requirement was merged into another: add the evidence there." in lead.get(refused.location).text
    assert head.post(url, data={"requirement_id": hidden.id}).status_code == 403
    assert lead.post(url, data={"requirement_id": 999999}).status_code == 404
    assert db.session.get(Requirement, hidden.id).evidence == []


def test_a_requirement_made_of_a_choice_has_everyone_who_chose_it_as_evidence(client_as, company, factory):
    departments = company["departments"]
    survey = build_survey(company["lead"])
    marketing_rep = factory.user("staff", department=departments["marketing"], username="mkt9")
    invitations = services.invite(survey, [company["staff"], company["staff2"], marketing_rep])
    tools = {company["staff"].id: ["excel", "paper"], company["staff2"].id: ["excel"], marketing_rep.id: ["wechat"]}
    for invitation in invitations:
        services.submit_response(invitation, {**GOOD_ANSWERS, "tools": tools[invitation.user_id]})
    db.session.commit()
    question = next(q for q in survey.questions if q.name == "tools")
    lead = client_as("lead")
    results = lead.get(f"/surveys/{survey.id}/results").text
    url = f"/surveys/requirements/new?question={question.id}&amp;option=excel"
    assert url in results and "option=paper" in results and "option=wechat" in results
    form = lead.get(url.replace("&amp;", "&")).text
    assert "Excel (2 of 3)" in form and "The answers of the 2 people who chose it become its evidence" in form
    assert 'name="title" type="text" value="Excel"' in form or 'value="Excel"' in form  # the option names it
    created = lead.post(url.replace("&amp;", "&"), data={"title": "导出 Excel", "priority": "should",
                                                          "owner_id": "0"})
    assert created.status_code == 302
    requirement = db.session.scalar(select(Requirement))
    assert len(requirement.evidence) == 2
    # Its page gives each answer by its options' labels, not the stored codes.
    page = lead.get(f"/surveys/requirements/{requirement.id}").text
    assert "Excel" in page and '["excel"' not in page and "&#34;excel&#34;" not in page
    # The departments that chose it join the requirement; the one that did not stays out.
    assert departments["marketing"].id not in requirement.department_ids and requirement.department_ids
    # Options nobody chose, or questions that are not choices, are no evidence.
    assert lead.get(f"/surveys/requirements/new?question={question.id}&option=nothing").status_code == 404
    score = next(q for q in survey.questions if q.name == "score")
    assert lead.get(f"/surveys/requirements/new?question={score.id}&option=4").status_code == 404
    assert client_as("other_staff").get(url.replace("&amp;", "&")).status_code == 403


def test_import_page_says_plainly_what_is_wrong_with_the_file(app, client_as, company):
    from tests.surveys.test_xlsform import _workbook
    for data in (b"MZ\x90\x00" + bytes(100), b""):
        response = client_as("lead").post("/surveys/import", data={"file": (io.BytesIO(data), "survey.xlsx")},
                                          content_type="multipart/form-data")
        assert response.status_code == 422
        problems = response.text.split('data-testid="import-errors"')[1].split("</div>")[0]
        assert "The file is not an Excel workbook (.xlsx)." in problems or "The file is empty." in problems
        assert "BadZipFile" not in response.text and "row 0" not in response.text and "file row" not in response.text
    chinese = _zh_client(app, company["lead"]).post(
        "/surveys/import", data={"file": (io.BytesIO(b"MZ\x90\x00"), "survey.xlsx")}, content_type="multipart/form-data")
    assert chinese.status_code == 422 and "文件不是 Excel 工作簿（.xlsx）。" in chinese.text
    data = _workbook([("text", "q1", "一", "", "", "", "maybe"), ("text", "q1", "二")])
    response = client_as("lead").post("/surveys/import", data={"file": (io.BytesIO(data), "bad.xlsx")},
                                      content_type="multipart/form-data")
    assert "survey row 2" in response.text and "survey row 3: the name q1 is used twice" in response.text


def test_inviting_to_a_draft_says_the_invitations_go_out_when_it_opens(client_as, company):
    survey = build_survey(company["lead"], departments=[company["departments"]["sales"]], roles=["staff"],
                          open_it=False)
    page = client_as("lead").post(f"/surveys/{survey.id}/invite", follow_redirects=True).get_data(as_text=True)
    assert "2 people will be invited when the survey opens." in page
