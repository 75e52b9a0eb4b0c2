"""Pages: list, map with checks and editor, node page, compare, RACI, downloads, import; access and bad input."""
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from processmaps import services
from processmaps.models import DRAFT, Process, ProcessNode
from rollout.extensions import db
from tests.processmaps.helpers import nodes_by_key, sales_process

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "bpmn"


def node_form(prefix="newnode", **values):
    data = {f"{prefix}-kind": "task", f"{prefix}-name": "", f"{prefix}-owner_role": "", f"{prefix}-owner_user_id": "",
            f"{prefix}-department_id": "", f"{prefix}-time_limit": "", f"{prefix}-data_items": "",
            f"{prefix}-notes": "", f"{prefix}-subprocess_id": ""}
    data.update({f"{prefix}-{k}": v for k, v in values.items()})
    return data


def test_list_shows_processes_with_constant_statements(company, client_as, count_statements):
    client = client_as("staff")
    process = sales_process(company, approve=True)

    def statements():
        with count_statements() as counter:
            response = client.get("/processes/")
        assert response.status_code == 200
        return counter.count, response.get_data(as_text=True)

    few, page = statements()
    assert "销售流程" in page
    for index in range(6):
        services.create_process(f"流程{index}", department_id=company["departments"]["finance"].id)
    services.new_draft_version(db.session.get(Process, process.id))
    db.session.commit()
    many, page = statements()
    assert few == many
    assert "流程5" in page


def test_map_page_shows_inline_svg_with_links_checks_and_owners(company, client_as):
    process = sales_process(company, approve=True)
    page = client_as("staff").get(f"/processes/{process.id}/v/1").get_data(as_text=True)
    quote = nodes_by_key(process.versions[0])["quote"]
    assert "<svg" in page and f'href="/processes/nodes/{quote.id}"' in page
    assert "All checks pass." in page
    assert "销售代表" in page and "报价金额" in page
    assert 'hx-boost' not in page  # staff read, they do not edit


def test_head_edits_a_draft_and_the_map_is_drawn_again(company, client_as):
    process = sales_process(company)
    version = process.versions[0]
    client = client_as("head")
    response = client.post(f"/processes/versions/{version.id}/nodes",
                           data=node_form(name="合同评审", owner_role="法务专员", time_limit="3个工作日"))
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "合同评审" in page and "法务专员" in page
    assert "Not reachable from the start: 合同评审" in page  # the new step is not wired in yet
    assert 'hx-boost="true"' in page
    node = db.session.query(ProcessNode).filter_by(name="合同评审").one()
    quote = nodes_by_key(version)["quote"]
    response = client.post(f"/processes/versions/{version.id}/edges", data={
        "newedge-source_id": str(quote.id), "newedge-target_id": str(node.id), "newedge-label": "需要评审"})
    assert response.status_code == 303
    response = client.post(f"/processes/nodes/{node.id}/edit", data=node_form(
        prefix=f"node{node.id}", name="合同法务评审", owner_role="法务专员"))
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(ProcessNode, node.id).name == "合同法务评审"
    assert client.post(f"/processes/nodes/{node.id}/delete").status_code == 303
    assert db.session.get(ProcessNode, node.id) is None


def test_bad_node_input_is_422_with_the_message_and_nothing_written(company, client_as):
    version = sales_process(company).versions[0]
    before = len(version.nodes)
    client = client_as("lead")
    response = client.post(f"/processes/versions/{version.id}/nodes", data=node_form(name=""))
    assert response.status_code == 422
    assert "This field is required." in response.get_data(as_text=True)
    response = client.post(f"/processes/versions/{version.id}/nodes",
                           data=node_form(name="步骤", kind="meeting"))
    assert response.status_code == 422
    assert "Choose a valid node kind." in response.get_data(as_text=True)
    response = client.post(f"/processes/versions/{version.id}/nodes",
                           data=node_form(name="步骤", owner_user_id="abc"))
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.query(ProcessNode).filter_by(version_id=version.id).count() == before


def test_a_flow_out_of_an_end_node_is_refused(company, client_as):
    version = sales_process(company).versions[0]
    end = next(n for n in version.nodes if n.kind == "end")
    response = client_as("lead").post(f"/processes/versions/{version.id}/edges", data={
        "newedge-source_id": str(end.id), "newedge-target_id": str(nodes_by_key(version)["quote"].id)})
    assert response.status_code == 422
    assert "An end node cannot have outgoing flows." in response.get_data(as_text=True)


def test_review_waits_for_the_blocking_checks(company, client_as):
    version = sales_process(company).versions[0]
    services.update_node(nodes_by_key(version)["sign"], owner_role="")
    db.session.commit()
    client = client_as("head")
    page = client.get(f"/processes/{version.process_id}/v/1").get_data(as_text=True)
    assert 'disabled title="Fix the blocking checks first.">Submit for review' in page
    response = client.post(f"/processes/versions/{version.id}/submit")
    assert response.status_code == 422
    assert "Fix what blocks approval before submitting" in response.get_data(as_text=True)
    assert client.post(f"/processes/versions/{version.id}/approve").status_code == 422  # a draft is not approved
    db.session.expire_all()
    assert version.status == DRAFT
    services.update_node(nodes_by_key(version)["sign"], owner_role="销售代表")
    db.session.commit()
    assert client.post(f"/processes/versions/{version.id}/submit").status_code == 303
    assert client.post(f"/processes/versions/{version.id}/approve").status_code == 303
    db.session.expire_all()
    assert version.status == "approved"


def test_others_cannot_edit_or_approve_a_sales_process(company, client_as):
    version = sales_process(company).versions[0]
    for who in ("staff", "trainer", "other_head"):
        client = client_as(who)
        assert client.post(f"/processes/versions/{version.id}/nodes", data=node_form(name="X", owner_role="Y")
                           ).status_code == 403, who
        assert client.post(f"/processes/versions/{version.id}/approve").status_code == 403, who
        assert client.post(f"/processes/{version.process_id}/drafts").status_code == 403, who
    assert client.get(f"/processes/{version.process_id}/v/1").status_code == 200


def test_a_head_creates_processes_only_for_their_department(company, client_as):
    client = client_as("head")
    response = client.post("/processes/new", data={"name": "市场活动", "lane_by": "role",
                                                   "department_id": str(company["departments"]["marketing"].id)})
    assert response.status_code == 422
    assert "You can only choose your own department" in response.get_data(as_text=True)
    response = client.post("/processes/new", data={"name": "回款跟进", "lane_by": "role",
                                                   "department_id": str(company["departments"]["sales"].id)})
    assert response.status_code == 303
    response = client.post("/processes/new", data={"name": "", "lane_by": "role", "department_id": ""})
    assert response.status_code == 422
    assert db.session.query(Process).count() == 1


def test_a_department_id_beyond_any_database_integer_is_a_form_error(company, client_as):
    """PostgreSQL refuses such a number in a query; the form says the department is unknown."""
    client = client_as("lead")
    for department_id in ("99999999999", "-99999999999"):
        response = client.post("/processes/new", data={"name": "回款跟进", "lane_by": "role",
                                                       "department_id": department_id})
        assert response.status_code == 422
    assert db.session.query(Process).count() == 0


def test_approved_versions_cannot_be_edited_through_the_editor(company, client_as):
    version = sales_process(company, approve=True).versions[0]
    response = client_as("lead").post(f"/processes/versions/{version.id}/nodes",
                                      data=node_form(name="新步骤", owner_role="销售代表"))
    assert response.status_code == 422
    assert "Only a draft version can be edited" in response.get_data(as_text=True)


def test_node_page_lists_links_from_other_packages(company, client_as, monkeypatch):
    version = sales_process(company).versions[0]
    quote = nodes_by_key(version)["quote"]
    monkeypatch.setattr(services, "NODE_LINK_PROVIDERS",
                        [lambda node: [("CR-7 报价折扣上限", "/changes/7")] if node.id == quote.id else []])
    page = client_as("staff").get(f"/processes/nodes/{quote.id}").get_data(as_text=True)
    assert "CR-7 报价折扣上限" in page and 'href="/changes/7"' in page
    assert "报价金额" in page and "销售经理" in page


def test_compare_page_lists_changes_and_highlights_them(company, client_as):
    process = sales_process(company, approve=True)
    draft = services.new_draft_version(process)
    services.update_node(nodes_by_key(draft)["approval"], owner_role="销售总监", owner_user_id=None)
    services.add_node(draft, key="review", kind="task", name="财务复核", owner_role="财务专员")
    db.session.commit()
    page = client_as("staff").get(f"/processes/{process.id}/compare?a=1&b=2").get_data(as_text=True)
    assert "Owners changed" in page and "销售总监" in page
    assert f'{company["head"].display_name}</span> → —' in page  # the named owner was removed
    assert "Steps added" in page and "财务复核" in page
    assert "#198754" in page  # the added step is drawn green on the map


def test_compare_page_marks_exception_branches_among_the_flows_added(company, client_as):
    process = sales_process(company, approve=True)
    draft = services.new_draft_version(process)
    nodes = nodes_by_key(draft)
    review = services.add_node(draft, key="review", kind="task", name="财务复核", owner_role="财务专员")
    services.add_edge(draft, source_id=nodes["approval"].id, target_id=review.id, label="折扣超过两成")
    services.add_edge(draft, source_id=review.id, target_id=nodes["approval"].id, label="复核不通过",
                      is_exception=True)
    db.session.commit()
    page = client_as("staff").get(f"/processes/{process.id}/compare?a=1&b=2").text
    added = page[page.index("Flows added"):]
    assert "财务复核 → " in added and "(复核不通过) <span" in added and "(折扣超过两成) <span" not in added
    assert added.count('data-testid="exception-flow"') == 1


def test_raci_page_and_xlsx_export(company, client_as):
    process = sales_process(company)
    version = process.versions[0]
    client = client_as("lead")
    page = client.get(f"/processes/{process.id}/v/1/raci").get_data(as_text=True)
    assert "财务专员" in page
    response = client.post(f"/processes/versions/{version.id}/raci", data={
        "raci-node_id": str(nodes_by_key(version)["sign"].id), "raci-role": "销售总监", "raci-kind": "A"})
    assert response.status_code == 303
    response = client.post(f"/processes/versions/{version.id}/raci", data={
        "raci-node_id": str(nodes_by_key(version)["sign"].id), "raci-role": "", "raci-kind": "A"})
    assert response.status_code == 422
    response = client.get(f"/processes/{process.id}/v/1/raci.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert "销售总监" in header and "销售代表" in header
    sign_row = next(row for row in rows if row[0] == "签约成单")
    assert sign_row[header.index("销售总监")] == "A" and sign_row[header.index("销售代表")] == "R"


def test_downloads(company, client_as):
    process = sales_process(company, approve=True)
    client = client_as("staff")
    for fmt, mimetype, start in (("png", "image/png", b"\x89PNG"), ("pdf", "application/pdf", b"%PDF"),
                                 ("svg", "image/svg+xml", b"<?xml"), ("bpmn", "application/xml", b"<?xml")):
        response = client.get(f"/processes/{process.id}/v/1/map.{fmt}")
        assert response.status_code == 200 and response.mimetype == mimetype
        assert response.data.startswith(start)
        assert "attachment" in response.headers["Content-Disposition"]
    assert client.get(f"/processes/{process.id}/v/1/map.exe").status_code == 404


def test_import_page_names_unmapped_elements(company, client_as):
    path = REFERENCE / "camunda-invoice.bpmn"
    if not path.exists():
        pytest.skip("shared BPMN reference files are absent")
    client = client_as("lead")
    response = client.post("/processes/import", data={"file": (io.BytesIO(path.read_bytes()), "invoice.bpmn")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Invoice Receipt" in page and "Financial Accounting System" in page
    assert db.session.query(Process).count() == 1


def test_import_of_a_bad_file_is_422_and_writes_nothing(company, client_as):
    client = client_as("admin")
    response = client.post("/processes/import", data={"file": (io.BytesIO(b"<definitions"), "broken.bpmn")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert "not well-formed XML" in response.get_data(as_text=True)
    assert db.session.query(Process).count() == 0
    assert client_as("staff").get("/processes/import").status_code == 403


def test_a_head_imports_bpmn_into_their_own_department_only(company, client_as):
    from processmaps import bpmn
    data = bpmn.export_bpmn(sales_process(company).versions[0])
    head = client_as("head")
    response = head.post("/processes/import", data={
        "file": (io.BytesIO(data), "报价流程.bpmn"), "department_id": str(company["departments"]["marketing"].id)},
        content_type="multipart/form-data")
    assert response.status_code == 422 and "You can only choose your own department" in response.text
    assert db.session.query(Process).count() == 1
    response = head.post("/processes/import", data={
        "file": (io.BytesIO(data), "报价流程.bpmn"), "department_id": str(company["departments"]["sales1"].id)},
        content_type="multipart/form-data")
    assert response.status_code == 200 and db.session.query(Process).count() == 2


def test_discarding_a_draft_from_the_page(company, client_as):
    process = sales_process(company, approve=True)
    draft = services.new_draft_version(process)
    db.session.commit()
    response = client_as("lead").post(f"/processes/versions/{draft.id}/discard")
    assert response.status_code == 303
    db.session.expire_all()
    assert [v.number for v in db.session.get(Process, process.id).versions] == [1]


def test_node_page_shows_the_step_history(company, client_as):
    version = sales_process(company).versions[0]
    client = client_as("lead")
    quote = nodes_by_key(version)["quote"]
    client.post(f"/processes/nodes/{quote.id}/edit", data=node_form(
        prefix=f"node{quote.id}", name="报价（含折扣）", owner_role="销售代表"))
    page = client.get(f"/processes/nodes/{quote.id}").get_data(as_text=True)
    history = page.split('data-testid="history"')[1]
    assert f"{company['lead'].display_name} · edited: Step name" in history  # people by name, not login


def test_the_editor_offers_parallel_splits_and_adds_one_without_an_owner(company, client_as):
    version = sales_process(company).versions[0]
    client = client_as("head")
    page = client.get(f"/processes/{version.process_id}/v/1").get_data(as_text=True)
    assert '<option value="parallel">Parallel split/join</option>' in page
    response = client.post(f"/processes/versions/{version.id}/nodes", data=node_form(kind="parallel", name="同时处理"))
    assert response.status_code == 303
    node = db.session.query(ProcessNode).filter_by(name="同时处理").one()
    assert node.kind == "parallel"
    page = client.get(response.location).get_data(as_text=True)
    assert "Steps without an owner" not in page


# --- the step picker other forms use ---------------------------------------------------------------
def test_step_picker_lists_one_process_at_a_time_and_keeps_ticked_steps_first(company, client_as):
    process = sales_process(company, approve=True)
    approved = process.versions[0]
    draft = services.new_draft_version(process, actor=company["lead"])
    db.session.commit()
    keys = nodes_by_key(approved)
    other = services.create_process("线索分配", actor=company["lead"])
    db.session.commit()
    assert (process.id, "销售流程") in services.processes_to_choose_from()
    assert (other.id, "线索分配") in services.processes_to_choose_from()
    groups = dict(services.step_groups(process.id, leave_out={keys["quote"].id}))
    assert [heading.split(" · ")[0] for heading in groups] == ["v1", "v2"]
    assert [name for _, name in groups[next(iter(groups))]] == ["报价审批", "签约成单", "记录流失原因"]  # no start/end
    assert len(list(groups.values())[1]) == 4 and draft.id != approved.id
    assert services.step_groups(None) == [] and services.step_groups(999999) == []
    client = client_as("staff")
    ticked = keys["sign"].id
    response = client.get("/processes/step-choices", query_string={
        "field": "node_ids", "node_ids": [str(ticked), "abc", "999999"], "node_ids_process": process.id})
    assert response.status_code == 200
    listed = response.text
    assert f'value="{ticked}" id="node_ids-{ticked}" checked' in listed
    assert "销售流程 v1 › 签约成单" in listed  # the ticked step, named with its process and version
    assert listed.count(f'value="{ticked}"') == 1  # not offered a second time below
    assert "报价审批" in listed and 'name="node_ids"' in listed
    # another process: the ticked step stays, the first process's other steps go
    response = client.get("/processes/step-choices", query_string={
        "field": "node_ids", "node_ids": str(ticked), "node_ids_process": other.id})
    assert "签约成单" in response.text and "报价审批" not in response.text
    for bad in ({"field": "x\"><script>"}, {"field": ""}, {}):
        assert client.get("/processes/step-choices", query_string=bad).status_code == 400
    for bad in ("abc", "9" * 40, "²", "-1", ""):
        response = client.get("/processes/step-choices", query_string={
            "field": "node_ids", "node_ids": [bad, str(ticked)], "node_ids_process": bad})
        assert response.status_code == 200 and "签约成单" in response.text, bad


# --- who approves ------------------------------------------------------------------------------
def test_a_team_head_edits_the_departments_draft_but_does_not_approve_it(company, client_as, factory):
    version = sales_process(company).versions[0]
    team_head = factory.user("head", department=company["departments"]["sales1"], username="team1.head")
    client = client_as(team_head)
    response = client.post(f"/processes/versions/{version.id}/nodes",
                           data=node_form(name="合同评审", owner_role="法务专员"))
    assert response.status_code == 303
    page = client.get(f"/processes/{version.process_id}/v/1").get_data(as_text=True)
    assert f'/processes/versions/{version.id}/approve' not in page
    assert "A head of 销售部 or a project lead approves this draft." in page
    assert client.post(f"/processes/versions/{version.id}/approve").status_code == 403
    db.session.expire_all()
    assert version.status == DRAFT
    # A process of the team itself is theirs to approve.
    team_process = services.create_process("一组晨会", department_id=company["departments"]["sales1"].id)
    db.session.commit()
    assert client.get(f"/processes/{team_process.id}/v/1").status_code == 200
    from rollout.access import can
    assert can(team_head, "processes.approve", team_process.versions[0])


def test_a_head_does_not_approve_a_draft_they_worked_on_a_lead_may(company, client_as, factory):
    version = sales_process(company).versions[0]
    head = client_as("head")
    quote = nodes_by_key(version)["quote"]
    assert head.post(f"/processes/nodes/{quote.id}/edit", data=node_form(
        prefix=f"node{quote.id}", name="报价（含折扣）", owner_role="销售代表")).status_code == 303
    page = head.get(f"/processes/{version.process_id}/v/1").get_data(as_text=True)
    assert "You worked on this draft: another head of 销售部 or a project lead approves it." in page
    # Removing a step counts as working on the draft too.
    second_head = factory.user("head", department=company["departments"]["sales"], username="sales.head2")
    other = client_as(second_head)
    lost = nodes_by_key(version)["lost"]
    assert other.post(f"/processes/nodes/{lost.id}/delete").status_code == 303
    assert head.post(f"/processes/versions/{version.id}/submit").status_code == 303
    assert head.post(f"/processes/versions/{version.id}/approve").status_code == 403
    assert other.post(f"/processes/versions/{version.id}/approve").status_code == 403
    third = client_as(factory.user("head", department=company["departments"]["sales"], username="sales.head3"))
    assert third.post(f"/processes/versions/{version.id}/approve").status_code == 303
    db.session.expire_all()
    assert version.status == "approved" and version.approved_by.username == "sales.head3"
    # Leads and admins may approve what they drafted themselves.
    lead = client_as("lead")
    draft = lead.post(f"/processes/{version.process_id}/drafts")
    assert draft.status_code == 303
    draft_version = services.draft_version(db.session.get(Process, version.process_id))
    assert lead.post(f"/processes/versions/{draft_version.id}/submit").status_code == 303
    assert lead.post(f"/processes/versions/{draft_version.id}/approve").status_code == 303


def test_the_approve_warning_names_the_version_replaced_only_when_there_is_one(company, client_as):
    process = sales_process(company)
    services.submit_for_review(process.versions[0], company["lead"])
    db.session.commit()
    client = client_as("lead")
    page = client.get(f"/processes/{process.id}/v/1").get_data(as_text=True)
    assert "It becomes the version everyone follows." in page and "becomes superseded" not in page
    services.approve_version(process.versions[0])
    services.submit_for_review(services.new_draft_version(process), company["lead"])
    db.session.commit()
    page = client.get(f"/processes/{process.id}/v/2").get_data(as_text=True)
    assert "The approved version v1 becomes superseded." in page


# --- messages and addresses in the editor ----------------------------------------------------------
def test_adding_a_step_and_a_flow_says_so(company, client_as):
    version = sales_process(company).versions[0]
    client = client_as("lead")
    response = client.post(f"/processes/versions/{version.id}/nodes", data=node_form(
        name="合同评审", owner_role="法务专员"), follow_redirects=True)
    assert "Step 合同评审 added." in response.get_data(as_text=True)
    node = db.session.query(ProcessNode).filter_by(name="合同评审").one()
    response = client.post(f"/processes/versions/{version.id}/edges", data={
        "newedge-source_id": str(nodes_by_key(version)["quote"].id), "newedge-target_id": str(node.id)},
        follow_redirects=True)
    assert "Flow from 报价 to 合同评审 added." in response.get_data(as_text=True)
    # In the editor (htmx swaps only the editor in), the message comes inside it.
    response = client.post(f"/processes/nodes/{node.id}/delete", headers={"HX-Request": "true"},
                           follow_redirects=True)
    editor = response.get_data(as_text=True).split('id="editor"')[1]
    assert "Step 合同评审 and its flows removed." in editor


def test_the_editors_form_addresses_lead_back_to_the_map(company, client_as):
    version = sales_process(company).versions[0]
    quote = nodes_by_key(version)["quote"]
    edge = version.edges[0]
    client = client_as("lead")
    for address in (f"/processes/versions/{version.id}/nodes", f"/processes/nodes/{quote.id}/edit",
                    f"/processes/versions/{version.id}/edges", f"/processes/edges/{edge.id}/edit"):
        response = client.get(address)
        assert response.status_code == 303 and response.location.endswith(
            f"/processes/{version.process_id}/v/1#editor"), address
    assert client.get(f"/processes/versions/{version.id}/raci").location.endswith(
        f"/processes/{version.process_id}/v/1/raci")
    assert client_as("staff").get(f"/processes/versions/{version.id}/nodes").status_code == 403
    assert client_as("other_head").get(f"/processes/nodes/{quote.id}/edit").status_code == 403
    # A form sent back with its errors keeps the map's address in the address bar.
    response = client.post(f"/processes/versions/{version.id}/nodes", data=node_form(name=""),
                           headers={"HX-Request": "true"})
    assert response.status_code == 422 and response.headers["HX-Push-Url"] == "false"


def test_bad_flows_and_time_limits_are_422_with_their_message(company, client_as):
    version = sales_process(company).versions[0]
    quote = nodes_by_key(version)["quote"]
    start = next(n for n in version.nodes if n.kind == "start")
    client = client_as("lead")
    before = len(version.edges)
    response = client.post(f"/processes/versions/{version.id}/edges", data={
        "newedge-source_id": str(quote.id), "newedge-target_id": str(quote.id)})
    assert response.status_code == 422 and "A flow cannot lead from a step back to itself." in response.text
    response = client.post(f"/processes/versions/{version.id}/edges", data={
        "newedge-source_id": str(start.id), "newedge-target_id": str(quote.id)})
    assert response.status_code == 422 and "The flow from Start to 报价 already exists" in response.text
    response = client.post(f"/processes/versions/{version.id}/nodes",
                           data=node_form(name="合同评审", owner_role="法务专员", time_limit="abc"))
    assert response.status_code == 422
    assert "Give the time limit as a number and a unit" in response.text
    db.session.expire_all()
    assert len(db.session.get(type(version), version.id).edges) == before
    assert db.session.query(ProcessNode).filter_by(name="合同评审").count() == 0


def test_a_second_process_of_the_same_name_is_refused_on_the_form(company, client_as):
    sales = company["departments"]["sales"].id
    sales_process(company)
    response = client_as("head").post("/processes/new", data={"name": "销售流程", "lane_by": "role",
                                                              "department_id": str(sales)})
    assert response.status_code == 422
    assert "销售部 already has a process named 销售流程" in response.text
    assert db.session.query(Process).count() == 1


def test_the_steps_table_lists_steps_in_flow_order_with_their_numbers(company, client_as):
    version = sales_process(company).versions[0]
    table = client_as("staff").get(f"/processes/{version.process_id}/v/1").text.split('data-testid="nodes"')[1]
    table = table.split("</table>")[0]
    positions = [table.index(f">{name}</a>") for name in ("Start", "报价", "报价审批", "签约成单", "记录流失原因", "End")]
    assert positions == sorted(positions)
    assert 'class="table table-sm align-middle map-table"' in client_as("staff").get(
        f"/processes/{version.process_id}/v/1").text


def test_importing_a_file_over_an_existing_process_says_it_is_a_new_version(company, client_as):
    from processmaps import bpmn
    process = sales_process(company, approve=True)
    data = bpmn.export_bpmn(process.versions[0])
    client = client_as("lead")
    response = client.post("/processes/import", data={
        "file": (io.BytesIO(data), "销售流程.bpmn"), "department_id": str(company["departments"]["sales"].id)},
        content_type="multipart/form-data")
    assert response.status_code == 200
    assert f'href="/processes/{process.id}/v/2"' in response.text and "a new version of the existing process" \
        in response.text
    response = client.post("/processes/import", data={
        "file": (io.BytesIO(data), "销售流程.bpmn"), "department_id": str(company["departments"]["sales"].id)},
        content_type="multipart/form-data")
    assert response.status_code == 422 and "销售流程 already has a draft (v2)" in response.text
    db.session.expire_all()
    assert [v.number for v in db.session.get(Process, process.id).versions] == [1, 2]


def test_removing_a_flow_asks_first_naming_it(company, client_as):
    process = sales_process(company)
    page = client_as("head").get(f"/processes/{process.id}/v/1").get_data(as_text=True)
    assert 'hx-confirm="Remove the flow from 报价 to 报价审批?"' in page


def test_the_pdf_is_a_document_with_a_title_block_the_map_and_its_steps(company, client_as):
    from pypdf import PdfReader
    process = sales_process(company, approve=True)
    response = client_as("staff").get(f"/processes/{process.id}/v/1/map.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    first = reader.pages[0]
    assert float(first.mediabox.width) > float(first.mediabox.height)  # a landscape page
    title = first.extract_text()
    assert process.name in title and "Owning department" in title and "Approved" in title
    steps = " ".join(page.extract_text() for page in reader.pages[1:])
    assert "Steps" in steps and "签约成单" in steps and "Flows" in steps and "财务专员" in steps


def test_a_tall_map_starts_on_the_title_page(company, client_as):
    """A map with many branches is tall: it is held low enough to share page 1 with the title block."""
    from pypdf import PdfReader
    sales = company["departments"]["sales"]
    process = services.create_process("多分支流程", department_id=sales.id, actor=company["lead"])
    version = process.versions[0]
    start, end = version.nodes
    for number in range(8):
        step = services.add_node(version, key=f"branch{number}", kind="task", name=f"分支步骤{number}",
                                 department_id=sales.id)
        services.add_edge(version, source_id=start.id, target_id=step.id)
        services.add_edge(version, source_id=step.id, target_id=end.id)
    db.session.commit()
    reader = PdfReader(io.BytesIO(client_as("staff").get(f"/processes/{process.id}/v/1/map.pdf").data))
    first = reader.pages[0].extract_text()
    assert "多分支流程" in first and "分支步骤" in first
