"""Interviews and highlights, the requirements backlog, coverage and recurring surveys."""
from datetime import date

import pytest
from sqlalchemy import func, select

from rollout.errors import ServiceError
from rollout.extensions import db
from surveys import services
from surveys.models import RequirementEvidence, Survey, SurveyInvitation
from tests.surveys.conftest import GOOD_ANSWERS, build_survey

NOTES = "销售代表说：报价审批经常要等两三天。\n\n组长希望每周一看到漏斗。"


def make_interview(company, department="sales", interviewees=(), role="staff"):
    return services.save_interview(None, title="访谈", interviewee="张伟", department=company["departments"][department],
                                   method="interview", held_on=date(2025, 11, 2), interviewer=company["lead"],
                                   notes_markdown=NOTES, role=role, interviewees=interviewees)


def test_highlight_must_quote_the_notes_and_tags_are_counted(company):
    interview = make_interview(company)
    services.add_highlight(interview, "报价审批经常要等两三天", services.parse_tags("审批, #移动端 审批"))
    services.add_highlight(interview, "组长希望每周一看到漏斗", ["报表", "审批"])
    with pytest.raises(ServiceError, match="not in the notes"):
        services.add_highlight(interview, "这句话没有出现过", [])
    db.session.commit()
    assert services.tag_counts() == [("审批", 2), ("报表", 1), ("移动端", 1)]
    with pytest.raises(ServiceError, match="no longer contain"):
        services.save_interview(interview, title="访谈", interviewee="张伟", department=interview.department,
                                method="interview", held_on=interview.held_on, interviewer=None, notes_markdown="删掉了")


def test_a_passage_copied_from_the_shown_notes_is_found(company):
    interview = services.save_interview(None, title="访谈", interviewee="张伟", department=company["departments"]["sales"],
                                        method="interview", held_on=date(2025, 11, 2), interviewer=company["lead"],
                                        notes_markdown="**结论**：需要来电弹屏。\n\n- 报价 *要快*", role="staff")
    assert services.add_highlight(interview, "结论：需要来电弹屏。", []).quote == "结论：需要来电弹屏。"
    services.add_highlight(interview, "报价 要快", [])
    with pytest.raises(ServiceError, match="not in the notes"):
        services.add_highlight(interview, "结论：不需要", [])


def test_requirement_from_highlight_and_answer_takes_their_departments_and_roles(company):
    interview = make_interview(company, department="finance", role="head")
    highlight = services.add_highlight(interview, "报价审批经常要等两三天", [])
    survey = build_survey(company["lead"])
    invitation = services.invite(survey, [company["staff"]])[0]
    response = services.submit_response(invitation, GOOD_ANSWERS)
    answer = next(a for a in response.answers if a.question.name == "mobile")
    requirement = services.create_requirement("手机审批", highlight=highlight, owner=company["lead"])
    services.add_evidence(requirement, answer=answer)
    services.add_evidence(requirement, answer=answer)  # the same evidence twice is kept once
    db.session.commit()
    assert {d.name for d in requirement.departments} == {"财务部", "销售部"}
    assert requirement.roles == ["head", "staff"]
    assert len(requirement.evidence) == 2


def test_answers_and_highlights_link_to_the_requirements_they_became_and_back(company, client_as):
    interview = make_interview(company)
    highlight = services.add_highlight(interview, "报价审批经常要等两三天", [])
    other = services.add_highlight(interview, "组长希望每周一看到漏斗", [])
    survey = build_survey(company["lead"])
    response = services.submit_response(services.invite(survey, [company["staff"]])[0], GOOD_ANSWERS)
    answer = next(a for a in response.answers if a.question.name == "mobile")  # a text answer
    requirement = services.create_requirement("手机审批", highlight=highlight, owner=company["lead"])
    services.add_evidence(requirement, answer=answer)
    db.session.commit()
    lead = client_as("lead")
    results = lead.get(f"/surveys/{survey.id}/results").get_data(as_text=True)
    assert f'href="/surveys/requirements/{requirement.id}" data-testid="became">→ Requirement #{requirement.id}' in results
    assert "Make another requirement" in results
    page = lead.get(f"/surveys/interviews/{interview.id}").get_data(as_text=True)
    assert page.count('data-testid="became"') == 1 and "Make another requirement" in page
    assert f"highlight={other.id}\">Make a requirement" in page  # the other highlight became nothing yet
    evidence = lead.get(f"/surveys/requirements/{requirement.id}").get_data(as_text=True)
    assert f'href="/surveys/{survey.id}/results#q-{answer.question.name}"' in evidence


def test_a_requirements_owner_and_the_heads_it_came_from_hear_its_status(company, client_as):
    from rollout.notify.models import Notification
    requirement = services.create_requirement("报表口径统一", owner=company["staff"],
                                              departments=[company["departments"]["sales"]])
    db.session.commit()
    assert client_as("lead").post(f"/surveys/requirements/{requirement.id}/status",
                                  data={"status": "accepted"}).status_code == 302
    told = db.session.scalars(select(Notification).where(Notification.event == "requirements.status")).all()
    assert {n.user_id for n in told} == {company["staff"].id, company["head"].id}
    assert all(n.link == f"/surveys/requirements/{requirement.id}" and "报表口径统一" in n.subject for n in told)


def test_requirement_status_follows_the_transition_table(company):
    requirement = services.create_requirement("报表口径统一")
    with pytest.raises(ServiceError, match="cannot go from Proposed to Implemented"):
        services.change_requirement_status(requirement, "implemented")
    services.change_requirement_status(requirement, "accepted")
    services.change_requirement_status(requirement, "implemented")
    with pytest.raises(ServiceError):
        services.change_requirement_status(requirement, "proposed")
    with pytest.raises(ServiceError, match="priority"):
        services.create_requirement("x", priority="urgent")


def test_merging_duplicates_keeps_all_evidence(company):
    interview = make_interview(company)
    first = services.add_highlight(interview, "报价审批经常要等两三天", [])
    second = services.add_highlight(interview, "组长希望每周一看到漏斗", [])
    target = services.create_requirement("手机审批", highlight=first)
    duplicate = services.create_requirement("移动端审批", highlight=second,
                                            departments=[company["departments"]["marketing"]])
    also = services.create_requirement("审批要快", highlight=first)
    services.merge_requirements(target, [duplicate, also])
    db.session.commit()
    assert {e.highlight_id for e in target.evidence} == {first.id, second.id}
    assert {d.name for d in target.departments} == {"销售部", "市场部"}
    assert duplicate.status == "merged" and duplicate.merged_into_id == target.id
    # the duplicates keep their own rows too, so nothing is lost if a merge is reviewed later
    assert len(duplicate.evidence) == 1 and len(also.evidence) == 1
    assert db.session.scalar(select(func.count()).select_from(RequirementEvidence)) == 4
    with pytest.raises(ServiceError, match="itself"):
        services.merge_requirements(target, [target])
    with pytest.raises(ServiceError, match="cannot be merged"):
        services.merge_requirements(target, [duplicate])


def test_coverage_matrix_and_unheard_people(company):
    departments = company["departments"]
    assert services.coverage_percent() == 0.0
    survey = build_survey(company["lead"])
    invitations = services.invite(survey, [company["staff"], company["other_staff"]])
    services.submit_response(invitations[0], GOOD_ANSWERS)
    make_interview(company, department="finance", interviewees=[company["finance"]])
    services.create_requirement("x", departments=[departments["marketing"]], roles=["staff"])
    db.session.commit()
    matrix = services.coverage_matrix()
    sales, marketing, finance = departments["sales"].id, departments["marketing"].id, departments["finance"].id
    assert matrix.cell(sales, "staff").is_heard and matrix.cell(sales, "staff").responses == 1
    assert not matrix.cell(sales, "head").is_heard
    assert matrix.cell(marketing, "staff").invitees == 1 and not matrix.cell(marketing, "staff").is_heard
    assert matrix.cell(marketing, "staff").requirements == 1
    assert matrix.cell(finance, "staff").interviews == 1
    # cells: sales head/staff, marketing head/staff, finance staff → 2 heard of 5
    assert matrix.percent == 40.0
    assert services.coverage_percent(finance) == 100.0
    assert services.coverage_percent(sales) == 50.0
    unheard = {u.username for u in services.unheard_people()}
    assert unheard == {"head", "staff2", "other_staff", "other_head"}
    created = services.invite_unheard(survey)
    assert {i.user.username for i in created} == {"head", "staff2", "other_head"}  # other_staff was invited already


def test_run_schedules_opens_the_next_month_for_the_same_audience(company, monkeypatch):
    calendar = {"today": date(2026, 9, 1)}
    monkeypatch.setattr(services, "local_today", lambda: calendar["today"])
    departments = company["departments"]
    survey = services.create_survey("月度脉搏", company["lead"], is_anonymous=True, recurrence="monthly",
                                    audience_departments=[departments["sales"]], opens_on=date(2026, 9, 1),
                                    closes_on=date(2026, 9, 10))
    services.save_question(survey, name="score", type="rating10", label="推荐度", is_required=True)
    services.change_survey_status(survey, "open")
    invitation = next(i for i in services.invite_audience(survey) if i.user_id == company["staff"].id)
    services.submit_response(invitation, {"score": "6"})
    db.session.commit()
    assert services.run_schedules(date(2026, 9, 20)) == []
    calendar["today"] = date(2026, 10, 3)
    opened = services.run_schedules(date(2026, 10, 3))
    db.session.commit()
    assert len(opened) == 1
    october = opened[0]
    assert (october.occurrence_on, october.opens_on, october.closes_on) == (
        date(2026, 10, 1), date(2026, 10, 1), date(2026, 10, 10))
    assert october.status == "open" and survey.status == "closed" and october.series_id == survey.id
    assert october.is_anonymous and [q.name for q in october.questions] == ["score"]
    invited = set(db.session.scalars(select(SurveyInvitation.user_id).where(SurveyInvitation.survey_id == october.id)))
    assert invited == {company["head"].id, company["staff"].id, company["staff2"].id}
    assert services.run_schedules(date(2026, 10, 5)) == []  # idempotent
    october_invitation = db.session.scalar(select(SurveyInvitation).where(
        SurveyInvitation.survey_id == october.id, SurveyInvitation.user_id == company["staff"].id))
    services.submit_response(october_invitation, {"score": "8"})
    db.session.commit()
    labels, series, name = services.trend(october)
    assert labels == ["2026-09", "2026-10"] and name == "score"
    # One answer a month in an anonymous survey: its "average" would be that person's score.
    assert series == {}


def test_cli_run_schedules(company, runner):
    survey = services.create_survey("月度脉搏", company["lead"], recurrence="monthly", opens_on=date(2020, 1, 1))
    services.save_question(survey, name="score", type="rating5", label="满意度")
    services.change_survey_status(survey, "open")
    db.session.commit()
    result = runner.invoke(args=["surveys", "run-schedules"])
    assert result.exit_code == 0, result.output
    assert "Opened survey" in result.output
    assert db.session.scalar(select(func.count()).select_from(Survey)) == 2
    result = runner.invoke(args=["surveys", "run-schedules"])
    assert "No recurring survey is due" in result.output


def test_requirements_attach_to_process_nodes_and_show_on_the_node(company, client_as):
    pytest.importorskip("processmaps.models")
    from processmaps import services as process_services
    from processmaps.models import ProcessNode, ProcessVersion
    from surveys import views
    assert views.node_requirement_links in process_services.NODE_LINK_PROVIDERS
    process = process_services.create_process("销售流程", department_id=company["departments"]["sales"].id)
    db.session.flush()
    version = db.session.scalar(select(ProcessVersion).where(ProcessVersion.process_id == process.id))
    node = process_services.add_node(version, key="quote", kind="task", name="报价")
    requirement = services.create_requirement("手机审批", departments=[company["departments"]["sales"]])
    services.set_requirement_nodes(requirement, [node.id])
    db.session.commit()
    assert services.requirements_for_nodes([node.id]) == [requirement]
    with pytest.raises(ServiceError, match="Unknown process node"):
        services.set_requirement_nodes(requirement, [node.id, 999999])
    db.session.rollback()
    page = client_as("lead").get(f"/surveys/requirements/{requirement.id}")
    assert "报价" in page.text.split('data-testid="nodes"')[1]
    # the picker offers processes, then their steps; the attached step is ticked
    picker = page.text.split('data-testid="step-picker"')[1].split("</form>")[0]
    assert f'<option value="{process.id}">销售流程</option>' in picker
    assert f'value="{node.id}" id="node_ids-{node.id}" checked' in picker
    for bad in ("²", "9" * 40, "abc"):  # never a 500; what is not an id is left out
        response = client_as("lead").post(f"/surveys/requirements/{requirement.id}/nodes",
                                          data={"node_ids": [str(node.id), bad]})
        assert response.status_code == 302, bad
    assert services.requirements_for_nodes([node.id]) == [requirement]
    response = client_as("lead").post(f"/surveys/requirements/{requirement.id}/nodes", data={"node_ids": []})
    assert response.status_code == 302
    assert services.requirements_for_nodes([node.id]) == []
    assert isinstance(db.session.get(ProcessNode, node.id), ProcessNode)


def test_requirement_signals_tell_other_modules(company):
    from surveys import signals
    heard = []

    def receiver(sender, **kwargs):
        heard.append((sender.title, kwargs))

    with signals.requirement_created.connected_to(receiver), \
            signals.requirement_status_changed.connected_to(receiver), \
            signals.requirements_merged.connected_to(receiver):
        target = services.create_requirement("统一账号")
        duplicate = services.create_requirement("单点登录")
        services.change_requirement_status(target, "accepted")
        services.merge_requirements(target, [duplicate])
    assert heard == [("统一账号", {}), ("单点登录", {}), ("统一账号", {"old": "proposed", "new": "accepted"}),
                     ("统一账号", {"duplicates": [duplicate]})]


def test_a_steps_owner_hears_of_requirements_they_cannot_open(company, client_as):
    pytest.importorskip("processmaps.models")
    from processmaps import services as process_services
    process = process_services.create_process("销售流程", department_id=company["departments"]["sales"].id)
    node = process_services.add_node(process.versions[0], key="quote", kind="task", name="报价")
    theirs = services.create_requirement("客服需要看到报价", departments=[company["departments"]["marketing"]])
    services.set_requirement_nodes(theirs, [node.id])
    db.session.commit()
    page = client_as("head").get(f"/processes/nodes/{node.id}").get_data(as_text=True)
    links = page.split('data-testid="node-links"')[1].split("</ul>")[0]
    assert "1 requirement of another department (you cannot open it)" in links
    assert "客服需要看到报价" not in links and f"/surveys/requirements/{theirs.id}" not in links
    assert f"/surveys/requirements/{theirs.id}" in client_as("lead").get(f"/processes/nodes/{node.id}").get_data(
        as_text=True)


def test_a_requirements_steps_link_to_the_step_and_to_it_in_the_current_version(company, client_as):
    pytest.importorskip("processmaps.models")
    from processmaps import services as process_services
    process = process_services.create_process("销售流程", department_id=company["departments"]["sales"].id)
    first = process.versions[0]
    quote = process_services.add_node(first, key="quote", kind="task", name="报价", owner_role="销售代表")
    start, end = [n for n in first.nodes if n.kind in ("start", "end")]
    for edge in list(first.edges):
        process_services.delete_edge(edge)
    process_services.add_edge(first, source_id=start.id, target_id=quote.id)
    process_services.add_edge(first, source_id=quote.id, target_id=end.id)
    process_services.submit_for_review(first, company["lead"])
    process_services.approve_version(first, company["lead"])
    requirement = services.create_requirement("手机审批", departments=[company["departments"]["sales"]])
    services.set_requirement_nodes(requirement, [quote.id])
    db.session.commit()
    page = client_as("lead").get(f"/surveys/requirements/{requirement.id}").get_data(as_text=True)
    steps = page.split('data-testid="nodes"')[1].split("</ul>")[0]
    assert f'href="/processes/nodes/{quote.id}"' in steps and "now" not in steps
    second = process_services.new_draft_version(process, actor=company["lead"])
    process_services.submit_for_review(second, company["lead"])
    process_services.approve_version(second, company["lead"])
    db.session.commit()
    newer = next(n for n in second.nodes if n.key == "quote")
    page = client_as("lead").get(f"/surveys/requirements/{requirement.id}").get_data(as_text=True)
    steps = page.split('data-testid="nodes"')[1].split("</ul>")[0]
    assert f'now <a href="/processes/nodes/{newer.id}">v2</a>' in steps


def test_a_monthly_survey_open_all_month_closes_on_each_months_last_day(company, monkeypatch):
    """November 1–30, then December 1–31, January 1–31 and February 1–28: calendar months, not 29 days."""
    survey = services.create_survey("月度脉搏", company["lead"], recurrence="monthly",
                                    opens_on=date(2026, 11, 1), closes_on=date(2026, 11, 30))
    services.save_question(survey, name="score", type="rating5", label="满意度")
    services.change_survey_status(survey, "open")
    db.session.commit()
    closes = []
    for today in (date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)):
        monkeypatch.setattr(services, "local_today", lambda today=today: today)
        (opened,) = services.run_schedules(today)
        db.session.commit()
        closes.append((opened.opens_on, opened.closes_on))
    assert closes == [(date(2026, 12, 1), date(2026, 12, 31)), (date(2027, 1, 1), date(2027, 1, 31)),
                      (date(2027, 2, 1), date(2027, 2, 28)), (date(2027, 3, 1), date(2027, 3, 31))]


def test_add_months_keeps_a_day_or_the_months_end():
    assert services.add_months(date(2026, 1, 31)) == date(2026, 2, 28)
    assert services.add_months(date(2026, 1, 10), 13) == date(2027, 2, 10)
    assert services.add_months(date(2026, 2, 28), 1, keep_month_end=True) == date(2026, 3, 31)
    assert services.add_months(date(2026, 2, 27), 1, keep_month_end=True) == date(2026, 3, 27)
