"""Pages of the change module: forms with bad input, access per department, list statement counts,
attachments, calendar and metrics."""
import io
import os
import re
from datetime import timedelta

from sqlalchemy import func, select

from changes import services
from changes.models import ChangeAttachment, ChangeRequest, FreezePeriod, ReviewCadence
from rollout.extensions import db
from rollout.timeutil import local_today

FORM = {"title": "客户拜访记录支持上传照片", "description": "拜访记录增加图片附件。", "reason": "核实拜访真实性。",
        "kind": "normal", "urgency": "medium", "impact": "low"}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_new_request_with_missing_fields_is_422_and_writes_nothing(client_as):
    response = client_as("staff").post("/changes/new", data={**FORM, "title": ""})
    assert response.status_code == 422
    assert "This field is required." in response.get_data(as_text=True)
    assert _count(ChangeRequest) == 0


def test_new_request_saved_and_submitted(client_as, company, make_window):
    window = make_window(3)
    response = client_as("staff").post("/changes/new", data={
        **FORM, "affected_roles": ["staff"], "affected_department_ids": [company["departments"]["sales"].id],
        "submit_now": "1"})
    assert response.status_code == 302
    change = db.session.scalars(select(ChangeRequest)).one()
    assert change.state == "submitted" and change.window_id == window.id
    assert [d.code for d in change.affected_departments] == ["sales"]
    # The reviewers hear it waits for them (in the company's language: they chose none), with its window.
    from rollout.notify.models import Notification
    told = {n.user_id: n for n in db.session.scalars(select(Notification).where(
        Notification.event == "changes.submitted"))}
    assert set(told) == {company["admin"].id, company["lead"].id}
    assert told[company["lead"].id].subject == f"{change.reference} {change.title} 已提交，等待评估"
    assert services.window_name(window) in told[company["lead"].id].body_markdown


def test_a_reviewer_submitting_a_request_is_not_told_about_it(client_as, company):
    from rollout.notify.models import Notification
    response = client_as("lead").post("/changes/new", data={
        **FORM, "affected_roles": ["staff"], "affected_department_ids": [company["departments"]["sales"].id],
        "submit_now": "1"})
    assert response.status_code == 302
    told = db.session.scalars(select(Notification.user_id).where(Notification.event == "changes.submitted")).all()
    assert told == [company["admin"].id]
    assert "目前还没有可排入的评审窗口。" in db.session.scalar(select(Notification.body_markdown))


def test_a_wanted_date_in_the_past_is_refused_with_its_date_and_nothing_is_written(client_as):
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    response = client_as("staff").post("/changes/new", data={**FORM, "wanted_on": yesterday, "submit_now": "1"})
    assert response.status_code == 422 and f"The wanted date {yesterday} has passed" in response.get_data(as_text=True)
    assert _count(ChangeRequest) == 0


def test_process_steps_are_chosen_through_the_step_picker(client_as, company):
    from processmaps import services as process_services
    process = process_services.create_process("销售流程", department_id=company["departments"]["sales"].id,
                                              actor=company["lead"])
    step = process_services.add_node(process.versions[0], key="quote", kind="task", name="报价")
    db.session.commit()
    client = client_as("staff")
    page = client.get("/changes/new").get_data(as_text=True)
    picker = page.split('data-testid="step-picker"')[1]
    assert f'<option value="{process.id}">销售流程</option>' in picker and "报价" not in picker  # steps on demand
    for bad in ("999999", "abc", "9" * 40, "²", "-1"):
        response = client.post("/changes/new", data={**FORM, "node_ids": [str(step.id), bad]})
        assert response.status_code == 422, bad
        assert f'value="{step.id}" id="node_ids-{step.id}" checked' in response.get_data(as_text=True)
    assert _count(ChangeRequest) == 0
    assert client.post("/changes/new", data={**FORM, "node_ids": [str(step.id)]}).status_code == 302
    change = db.session.scalars(select(ChangeRequest)).one()
    assert [node.name for node in change.nodes] == ["报价"]
    edit = client.get(f"/changes/{change.id}/edit").get_data(as_text=True)
    assert "销售流程 v1 › 报价" in edit and f'id="node_ids-{step.id}" checked' in edit


def test_markdown_in_a_request_is_sanitised(client_as, new_request):
    change = new_request(title="含脚本")
    change.description = "**粗体** <script>alert(1)</script> [x](javascript:alert(1))"
    db.session.commit()
    page = client_as("staff").get(f"/changes/{change.id}").get_data(as_text=True)
    assert "<strong>粗体</strong>" in page and "<script>alert(1)" not in page and "javascript:" not in page


def test_request_visible_to_its_department_only(client_as, new_request):
    change = new_request()
    services.submit(change, change.requester)
    db.session.commit()
    for key, status in (("staff", 200), ("staff2", 200), ("head", 200), ("lead", 200), ("trainer", 200),
                        ("other_staff", 403), ("other_head", 403), ("finance", 403)):
        assert client_as(key).get(f"/changes/{change.id}").status_code == status, key


def test_a_draft_is_its_requesters_until_submitted(client_as, new_request):
    change = new_request(title="还在草稿的请求")
    for key, status in (("staff", 200), ("lead", 200), ("admin", 200),
                        ("staff2", 403), ("head", 403), ("trainer", 403)):
        assert client_as(key).get(f"/changes/{change.id}").status_code == status, key
    for path in ("/changes/all", "/changes/board"):
        assert "还在草稿的请求" not in client_as("staff2").get(path).get_data(as_text=True), path
        assert "还在草稿的请求" not in client_as("head").get(path).get_data(as_text=True), path
        assert "还在草稿的请求" in client_as("lead").get(path).get_data(as_text=True), path
    assert "还在草稿的请求" in client_as("staff").get("/changes/").get_data(as_text=True)
    services.submit(change, change.requester)
    db.session.commit()
    assert client_as("staff2").get(f"/changes/{change.id}").status_code == 200


def _submitted(new_request, *args, **fields):
    change = new_request(*args, **fields)
    services.submit(change, change.requester)
    db.session.commit()
    return change


def test_lists_are_scoped(client_as, new_request):
    _submitted(new_request, title="销售的请求")
    _submitted(new_request, "other_staff", title="市场的请求")
    page = client_as("head").get("/changes/all").get_data(as_text=True)
    assert "销售的请求" in page and "市场的请求" not in page
    board = client_as("other_head").get("/changes/board").get_data(as_text=True)
    assert "市场的请求" in board and "销售的请求" not in board
    mine = client_as("staff2").get("/changes/").get_data(as_text=True)
    assert "销售的请求" not in mine


def test_the_board_groups_the_open_states_into_five_phases(client_as, on_agenda, company):
    change, window = on_agenda(title="评审中的请求")
    services.decide(change, "approved", "同意", company["lead"], window)
    db.session.commit()
    board = client_as("lead").get("/changes/board").get_data(as_text=True)
    columns = board.split('class="board-col"')[1:]
    assert len(columns) == 5
    approved = next(column for column in columns if 'data-column="approved scheduled"' in column)
    assert "评审中的请求" in approved and "Approved 1" in approved and "Scheduled 0" in approved


def test_edit_only_by_requester_and_leads(client_as, new_request):
    change = new_request()
    assert client_as("staff2").get(f"/changes/{change.id}/edit").status_code == 403
    assert client_as("head").get(f"/changes/{change.id}/edit").status_code == 403
    response = client_as("staff").post(f"/changes/{change.id}/edit", data={**FORM, "title": "改过的标题"})
    assert response.status_code == 302
    db.session.refresh(change)
    assert change.title == "改过的标题"


def test_move_not_allowed_is_refused_with_message_and_nothing_changes(client_as, on_agenda):
    change, _window = on_agenda()
    client = client_as("staff")
    response = client.post(f"/changes/{change.id}/move", data={"to_state": "approved", "comment": "我批了"})
    assert response.status_code == 422
    assert "You may not move this request" in response.get_data(as_text=True)
    response = client.post(f"/changes/{change.id}/move", data={"to_state": "implemented"})
    assert response.status_code == 422 and "cannot become" in response.get_data(as_text=True)
    db.session.refresh(change)
    assert change.state == "awaiting_window" and len(change.transitions) == 3
    # Another department's staff cannot even try.
    assert client_as("other_staff").post(f"/changes/{change.id}/move", data={"to_state": "cancelled"}).status_code == 403
    response = client.post(f"/changes/{change.id}/move", data={"to_state": "cancelled", "comment": "不需要了"})
    assert response.status_code == 302
    db.session.refresh(change)
    assert change.state == "cancelled" and change.transitions[-1].comment == "不需要了"


def test_window_decisions_through_the_agenda_page(client_as, on_agenda, company):
    change, window = on_agenda()
    lead = client_as("lead")
    page = lead.get(f"/changes/windows/{window.id}").get_data(as_text=True)
    assert change.title in page
    response = lead.post(f"/changes/windows/{window.id}/requests/{change.id}/decide",
                         data={"outcome": "approved", "reason": ""})
    assert response.status_code == 422 and "This field is required." in response.get_data(as_text=True)
    db.session.refresh(change)
    assert change.state == "awaiting_window"
    assert client_as("head").post(f"/changes/windows/{window.id}/requests/{change.id}/decide",
                                  data={"outcome": "approved", "reason": "同意"}).status_code == 403
    response = lead.post(f"/changes/windows/{window.id}/requests/{change.id}/decide",
                         data={"outcome": "approved", "reason": "同意，下周上线"})
    assert response.status_code == 302
    db.session.refresh(change)
    assert change.state == "approved" and change.decision_reason == "同意，下周上线"
    assert "it has not been held yet" in page  # the window meets in three days
    response = lead.post(f"/changes/windows/{window.id}/close", data={"minutes": ""})
    assert response.status_code == 422
    response = lead.post(f"/changes/windows/{window.id}/close", data={"minutes": "## 纪要\n批准 1 项"})
    assert response.status_code == 302
    page = lead.get(f"/changes/windows/{window.id}").get_data(as_text=True)
    assert "<h2>纪要</h2>" in page and "同意，下周上线" in page


def test_bad_cadence_and_freeze_are_refused_naming_the_conflict(client_as):
    client = client_as("lead")
    monday = local_today() + timedelta(days=(7 - local_today().weekday()) % 7)
    response = client.post("/changes/cadences/new", data={
        "name": "周五评审", "weekday": "4", "every_n_weeks": "1", "start_time": "14:00", "duration_minutes": "60",
        "cutoff_hours": "24", "starts_on": monday.isoformat(), "ends_on": (monday + timedelta(days=2)).isoformat()})
    assert response.status_code == 422 and "yields no date" in response.get_data(as_text=True)
    assert _count(ReviewCadence) == 0
    services.save_release("第2批优化", local_today() + timedelta(days=12))
    db.session.commit()
    response = client.post("/changes/freezes/new", data={
        "title": "封网", "starts_on": (local_today() + timedelta(days=10)).isoformat(),
        "ends_on": (local_today() + timedelta(days=14)).isoformat()})
    assert response.status_code == 422 and "第2批优化" in response.get_data(as_text=True)
    assert _count(FreezePeriod) == 0
    assert client_as("head").post("/changes/freezes/new", data={}).status_code == 403


def test_release_page_schedules_and_implements(client_as, on_agenda, company):
    change, window = on_agenda(affected_roles=["staff"])
    services.decide(change, "approved", "同意", company["lead"], window)
    release = services.save_release("第1批", local_today() + timedelta(days=5))
    db.session.commit()
    lead = client_as("lead")
    assert lead.post(f"/changes/releases/{release.id}/schedule", data={"request_id": change.id}).status_code == 302
    assert lead.post(f"/changes/releases/{release.id}/notes", data={"regenerate": "1"}).status_code == 302
    assert lead.post(f"/changes/releases/{release.id}/implement").status_code == 302
    db.session.refresh(change)
    assert change.state == "implemented"
    page = client_as("staff").get(f"/changes/releases/{release.id}").get_data(as_text=True)
    assert change.reference in page
    # A second implementation is refused with a message, not a 500.
    response = lead.post(f"/changes/releases/{release.id}/implement")
    assert response.status_code == 422 and "already implemented" in response.get_data(as_text=True)


def test_attachments_are_sniffed_capped_stored_privately_and_access_checked(app, client_as, new_request):
    change = new_request()
    client = client_as("staff")
    fake = client.post(f"/changes/{change.id}/attachments",
                       data={"file": (io.BytesIO(b"MZ\x90\x00binary"), "报价单.pdf")},
                       content_type="multipart/form-data")
    assert fake.status_code == 422 and "Only PDF" in fake.get_data(as_text=True)
    app.config["CHANGE_ATTACHMENT_MAX_BYTES"] = 1000
    try:
        big = client.post(f"/changes/{change.id}/attachments",
                          data={"file": (io.BytesIO(b"%PDF-1.4" + b"0" * 2000), "大文件.pdf")},
                          content_type="multipart/form-data")
        assert big.status_code == 422 and "larger than" in big.get_data(as_text=True)
    finally:
        del app.config["CHANGE_ATTACHMENT_MAX_BYTES"]
    assert _count(ChangeAttachment) == 0
    ok = client.post(f"/changes/{change.id}/attachments",
                     data={"file": (io.BytesIO(b"%PDF-1.4 demo"), "../../方案.pdf")},
                     content_type="multipart/form-data")
    assert ok.status_code == 302
    item = db.session.scalars(select(ChangeAttachment)).one()
    assert item.original_name == "方案.pdf" and item.content_type == "application/pdf"
    stored = os.path.join(app.config["UPLOAD_FOLDER"], "changes", item.stored_name)
    assert os.path.exists(stored) and not stored.startswith(app.static_folder)
    assert client_as("other_staff").get(f"/changes/attachments/{item.id}").status_code == 403
    download = client_as("head").get(f"/changes/attachments/{item.id}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 demo"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Type"] == "application/pdf"
    # Others may not attach to my request.
    other = client_as("staff2").post(f"/changes/{change.id}/attachments",
                                     data={"file": (io.BytesIO(b"%PDF-1.4"), "x.pdf")},
                                     content_type="multipart/form-data")
    assert other.status_code == 403


def test_calendar_page_and_ics(client_as, make_window):
    window = make_window(1)
    freeze = services.save_freeze("上线封网期", local_today(), local_today() + timedelta(days=3))
    db.session.commit()
    client = client_as("staff")
    page = client.get("/changes/calendar").get_data(as_text=True)
    assert "上线封网期" in page and window.title in page
    assert client.get("/changes/calendar?year=abc&month=13").status_code == 200
    ics = client.get("/changes/calendar.ics")
    assert ics.headers["Content-Type"].startswith("text/calendar")
    body = ics.get_data(as_text=True)
    assert f"UID:change-window-{window.id}@rollout-desk" in body
    assert f"UID:change-freeze-{freeze.id}@rollout-desk" in body and "SEQUENCE:0" in body
    # a freeze is whole days: an all-day event ending the day after its last day (DTEND is exclusive)
    event = body.split(f"UID:change-freeze-{freeze.id}@rollout-desk")[0].rsplit("BEGIN:VEVENT", 1)[1] + \
        body.split(f"UID:change-freeze-{freeze.id}@rollout-desk")[1].split("END:VEVENT")[0]
    assert f"DTSTART;VALUE=DATE:{local_today():%Y%m%d}" in event
    assert f"DTEND;VALUE=DATE:{local_today() + timedelta(days=4):%Y%m%d}" in event


def test_metrics_page(client_as, on_agenda, company):
    change, window = on_agenda()
    services.decide(change, "approved", "同意", company["lead"], window)
    db.session.commit()
    assert client_as("staff").get("/changes/metrics").status_code == 403
    page = client_as("head").get("/changes/metrics").get_data(as_text=True)
    assert 'data-metric="lead-time"' in page and 'class="svg-chart"' in page
    assert ">1</text>" in page and ">0.5</text>" not in page  # one request: a whole-number axis
    other = client_as("other_head").get("/changes/metrics").get_data(as_text=True)
    assert 'class="svg-chart"' not in other  # 市场部 has no decisions


def _many(new_request, count, company):
    for number in range(count):
        change = new_request(title=f"请求{number}", affected_department_ids=[company["departments"]["sales"].id])
        change.affected_roles = ["staff"]
    db.session.commit()


def test_list_pages_use_the_same_number_of_statements_at_any_size(client_as, new_request, company,
                                                                   count_statements, make_window):
    window = make_window(3)
    client = client_as("lead")
    paths = ["/changes/", "/changes/all", "/changes/board", "/changes/windows", f"/changes/windows/{window.id}",
             "/changes/metrics", "/changes/releases"]

    def counts():
        result = {}
        for path in paths:
            with count_statements() as counter:
                assert client.get(path).status_code == 200, path
            result[path] = counter.count
        return result

    _many(new_request, 2, company)
    for change in db.session.scalars(select(ChangeRequest)):
        services.submit(change, change.requester)
    db.session.commit()
    small = counts()
    _many(new_request, 12, company)
    for change in db.session.scalars(select(ChangeRequest).where(ChangeRequest.state == "draft")):
        services.submit(change, change.requester)
    db.session.commit()
    assert counts() == small


def test_process_node_page_lists_its_change_requests(client_as, new_request, company):
    from processmaps.services import add_node, create_process
    process = create_process("销售机会跟进流程", company["departments"]["sales"].id)
    node = add_node(process.versions[0], name="报价审批", kind="task")
    change = new_request(title="报价两级审批", node_ids=[node.id])
    db.session.commit()
    page = client_as("lead").get(f"/processes/nodes/{node.id}").get_data(as_text=True)
    assert change.reference in page and f"/changes/{change.id}" in page
    detail = client_as("lead").get(f"/changes/{change.id}").get_data(as_text=True)
    assert f"/processes/nodes/{node.id}" in detail


def test_assess_and_raise_risk_through_the_request_page(client_as, new_request, make_window, company):
    window = make_window(3)
    change = new_request(has_permission_change=True)
    services.submit(change, company["staff"])
    db.session.commit()
    lead = client_as("lead")
    assert client_as("staff").post(f"/changes/{change.id}/assess", data={"raise_to": "medium"}).status_code == 403
    response = lead.post(f"/changes/{change.id}/assess", data={"raise_to": "low", "comment": "评估"})
    assert response.status_code == 422 and "Risk can only be raised" in response.get_data(as_text=True)
    db.session.refresh(change)
    assert change.state == "submitted"
    response = lead.post(f"/changes/{change.id}/assess",
                         data={"raise_to": "high", "raise_reason": "影响全部销售", "comment": "评估完成"})
    assert response.status_code == 302
    db.session.refresh(change)
    assert change.state == "awaiting_window" and change.window_id == window.id and change.effective_risk == "high"
    response = lead.post(f"/changes/{change.id}/risk", data={"risk_level": "medium", "risk_reason": "降低"})
    assert response.status_code == 422 and "Risk can only be raised" in response.get_data(as_text=True)
    db.session.refresh(change)
    assert change.effective_risk == "high"
    page = client_as("staff").get(f"/changes/{change.id}").get_data(as_text=True)
    assert "Changes permissions" in page and "影响全部销售" in page
    # only higher levels are offered, the next one up first
    page = lead.get(f"/changes/{change.id}").get_data(as_text=True)
    offered = page.split('name="risk_level"')[1].split("</select>")[0]
    assert 'selected value="critical"' in offered and 'value="medium"' not in offered and 'value="high"' not in offered


def test_the_agenda_joins_risk_reasons_as_the_readers_language_does(client_as, on_agenda):
    from rollout.extensions import db as database
    from tests.conftest import chinese_client
    change, window = on_agenda(has_permission_change=True, has_data_field_change=True)
    database.session.commit()
    lead = client_as("lead")
    page = lead.get(f"/changes/windows/{window.id}").get_data(as_text=True)
    assert "Changes permissions; Changes data fields" in page and "；" not in page
    chinese = chinese_client(lead.application, change.requester).get(f"/changes/windows/{window.id}")
    assert "；" in chinese.get_data(as_text=True)


def test_the_releases_list_counts_the_requests_the_reader_may_see(client_as, on_agenda, company):
    change, window = on_agenda(affected_roles=["staff"])
    services.decide(change, "approved", "同意", company["lead"], window)
    release = services.save_release("第1批", local_today() + timedelta(days=5))
    services.schedule(change, release, company["lead"])
    db.session.commit()

    def counted(user):
        page = client_as(user).get("/changes/releases").get_data(as_text=True)
        row = page[page.index(f'/changes/releases/{release.id}"'):]
        return re.findall(r"<td>([^<]*)</td>", row)[1]  # after the planned date

    assert counted("lead") == "1" and counted("staff") == "1"
    # Another department's staff see the release, without the request its page does not show them.
    assert counted("other_staff") == "0"
    assert f'href="/changes/{change.id}"' in client_as("staff").get(f"/changes/releases/{release.id}").text
    assert f'href="/changes/{change.id}"' not in client_as("other_staff").get(
        f"/changes/releases/{release.id}").get_data(as_text=True)


def test_a_window_that_is_over_but_not_closed_asks_for_its_minutes(client_as, make_window):
    make_window(-0.1, title="已开完的评审会")  # started 2.4 hours ago, ended 1.4 hours ago
    make_window(-0.01, title="正在开的评审会")  # started 15 minutes ago, ends in 45
    page = client_as("lead").get("/changes/windows").get_data(as_text=True)
    over = page.split("已开完的评审会")[1].split("</tr>")[0]
    running = page.split("正在开的评审会")[1].split("</tr>")[0]
    assert "Over: record its minutes to close it" in over and "In progress" not in over
    assert "In progress" in running and "minutes-due" not in running
