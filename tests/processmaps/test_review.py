"""A version's review: its editors submit it, approvers approve it or send it back with a note; it is
locked meanwhile, and a change implemented into the process takes it back to draft."""
import pytest
from sqlalchemy import select

from processmaps import services
from processmaps.models import APPROVED, DRAFT, IN_REVIEW, Process
from rollout.audit.services import acting_as
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from rollout.notify.models import Notification
from tests.processmaps.helpers import nodes_by_key, sales_process
from tests.processmaps.test_views import node_form


def _notified(user) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.id)))


def test_submitting_locks_the_version_and_asks_its_approvers(company, factory):
    version = sales_process(company).versions[0]
    team_head = factory.user("head", department=company["departments"]["sales1"], username="team.head")
    services.submit_for_review(version, company["staff"])
    db.session.commit()
    assert version.status == IN_REVIEW and version.submitted_by == company["staff"]
    with pytest.raises(NotAllowed):
        services.add_node(version, kind="task", name="新步骤", owner_role="销售代表")
    # The head of 销售部 approves it; neither a team head below it nor the head of another department is asked.
    asked = _notified(company["head"])
    assert [n.event for n in asked] == ["processmaps.review_asked"]
    assert asked[0].link == f"/processes/{version.process_id}/v/1" and "销售流程" in asked[0].subject
    assert _notified(team_head) == [] and _notified(company["other_head"]) == []
    with pytest.raises(NotAllowed):
        services.submit_for_review(version, company["staff"])  # already in review


def test_leads_are_asked_when_no_head_may_approve(company):
    version = sales_process(company).versions[0]
    assert services.approvers(version) == [company["head"]]
    with acting_as(company["head"]):  # the only head of 销售部 works on the version: the project leads review it
        services.update_node(nodes_by_key(version)["quote"], owner_role="销售主管")
    assert services.approvers(version) == [company["lead"]]


def test_sending_back_needs_a_note_and_tells_the_submitter(company):
    version = sales_process(company).versions[0]
    services.submit_for_review(version, company["staff"])
    with pytest.raises(ServiceError) as refused:
        services.send_back(version, company["head"], "  ")
    assert refused.value.field == "note" and version.status == IN_REVIEW
    services.send_back(version, company["head"], "报价审批缺少财务会签。")
    db.session.commit()
    assert version.status == DRAFT and version.review_note == "报价审批缺少财务会签。"
    assert version.sent_back_by == company["head"]
    told = _notified(company["staff"])
    assert [n.event for n in told] == ["processmaps.sent_back"] and "报价审批缺少财务会签" in told[0].body_markdown
    # Sending back is reviewing, not writing: the head may still approve the next submission.
    assert company["head"].id not in version.author_ids
    services.update_node(nodes_by_key(version)["approval"], notes="财务专员会签")
    services.submit_for_review(version, company["staff"])
    assert version.review_note == "" and version.sent_back_by_id is None
    services.approve_version(version, actor=company["head"])
    assert version.status == APPROVED


def test_approving_tells_the_submitter_and_the_other_approvers_not_the_approver(company, factory):
    other_head = factory.user("head", department=company["departments"]["sales"], username="head2")
    version = sales_process(company).versions[0]
    services.submit_for_review(version, company["staff"])
    services.approve_version(version, actor=company["head"])
    db.session.commit()
    told = [n for n in _notified(company["staff"]) if n.event == "processmaps.approved"]
    assert len(told) == 1 and told[0].link == f"/processes/{version.process_id}/v/1"
    assert company["head"].display_name in told[0].body_markdown
    assert [n.event for n in _notified(other_head)] == ["processmaps.review_asked", "processmaps.approved"]
    assert "processmaps.approved" not in [n.event for n in _notified(company["head"])]


def test_only_a_version_in_review_is_approved_or_sent_back(company):
    version = sales_process(company).versions[0]
    with pytest.raises(NotAllowed) as refused:
        services.approve_version(version, actor=company["lead"])
    assert "cannot be approved" in refused.value.message
    with pytest.raises(NotAllowed):
        services.send_back(version, company["lead"], "不对")
    with pytest.raises(NotAllowed):
        services.withdraw_from_review(version, company["lead"])


def test_withdrawing_makes_it_a_draft_again(company):
    version = sales_process(company).versions[0]
    services.submit_for_review(version, company["head"])
    services.withdraw_from_review(version, company["head"])
    assert version.status == DRAFT and version.review_note == ""
    services.add_node(version, kind="task", name="补充步骤", owner_role="销售代表")


def test_a_change_implemented_during_review_takes_the_version_back_to_draft(company):
    process = sales_process(company, approve=True)
    in_review = services.new_draft_version(process, actor=company["head"])
    services.submit_for_review(in_review, company["head"])
    # One open version per process: implementing a change lands in it, as a draft again.
    assert services.new_draft_version(process, actor=company["lead"], summary="CR-7 报价折扣规则") is in_review
    assert in_review.status == DRAFT and in_review.review_note == "CR-7 报价折扣规则"
    assert in_review.summary.endswith("CR-7 报价折扣规则")  # what its approver must now also take in
    services.new_draft_version(process, actor=company["lead"], summary="CR-7 报价折扣规则")
    assert in_review.summary.count("CR-7") == 1
    services.submit_for_review(in_review, company["head"])
    with pytest.raises(ServiceError) as refused:
        services.new_imported_version(process, actor=company["lead"])
    assert "already has a draft (v2)" in refused.value.message


# --- pages ---------------------------------------------------------------------------------------
def test_the_review_on_the_map_page(company, client_as):
    version = sales_process(company).versions[0]
    url = f"/processes/{version.process_id}/v/1"
    staff_editor = client_as("lead")
    head = client_as("head")
    assert "Submit for review" in staff_editor.get(url).get_data(as_text=True)
    assert staff_editor.post(f"/processes/versions/{version.id}/submit").status_code == 303
    page = head.get(url).get_data(as_text=True)
    assert 'data-testid="review-status"' in page and "submitted by" in page
    assert 'id="send-back"' in page and ">Approve<" in page and "Submit for review" not in page
    assert 'id="newnode-name"' not in page  # no editor while in review
    reader = client_as("staff").get(url).get_data(as_text=True)
    assert 'data-testid="review-status"' in reader and 'id="send-back"' not in reader and ">Approve<" not in reader
    assert client_as("staff").post(f"/processes/versions/{version.id}/send-back",
                                   data={"note": "x"}).status_code == 403

    refused = head.post(f"/processes/versions/{version.id}/send-back", data={"note": ""})
    assert refused.status_code == 422 and "Say what should change" in refused.get_data(as_text=True)
    assert head.post(f"/processes/versions/{version.id}/send-back",
                     data={"note": "请补充客户流失的处理人"}).status_code == 303
    page = staff_editor.get(url).get_data(as_text=True)
    assert 'data-testid="review-note"' in page and "请补充客户流失的处理人" in page and "Submit for review" in page

    assert staff_editor.post(f"/processes/versions/{version.id}/submit").status_code == 303
    assert staff_editor.post(f"/processes/versions/{version.id}/withdraw").status_code == 303
    db.session.expire_all()
    assert version.status == DRAFT


def test_the_list_shows_the_next_version_in_review_in_chinese(company, client_as):
    from tests.conftest import chinese_client
    process = sales_process(company, approve=True)
    services.submit_for_review(services.new_draft_version(process, actor=company["head"]), company["head"])
    db.session.commit()
    client = client_as("lead")
    assert "v2 in review" in client.get("/processes/").get_data(as_text=True)
    page = chinese_client(client.application, company["lead"]).get(f"/processes/{process.id}/v/1")
    assert "下一版本正在审核" in page.get_data(as_text=True)


def test_an_edit_posted_to_a_version_in_review_is_refused(company, client_as):
    version = sales_process(company).versions[0]
    services.submit_for_review(version, company["head"])
    db.session.commit()
    response = client_as("lead").post(f"/processes/versions/{version.id}/nodes",
                                      data=node_form(name="新步骤", owner_role="销售代表"))
    assert response.status_code == 422
    assert db.session.get(Process, version.process_id).versions[0].status == IN_REVIEW


def test_the_steps_of_a_version_in_review_can_still_be_picked(company):
    process = sales_process(company, approve=True)
    services.submit_for_review(services.new_draft_version(process, actor=company["head"]), company["head"])
    headings = [heading for heading, _steps in services.step_groups(process.id)]
    assert headings == ["v1 · approved", "v2 · in review"]
    assert process.id in {process_id for process_id, _label in services.processes_to_choose_from()}
