"""BPMN 2.0: export with lanes and diagram interchange, import of real files, refusal of bad files."""
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from processmaps import bpmn, render, services
from processmaps.checks import run_checks
from processmaps.bpmn import BPMNDI, DC, DI, MODEL, BpmnError
from rollout.errors import ServiceError
from tests.processmaps.helpers import nodes_by_key, sales_process

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "bpmn"
REFERENCE_FILES = sorted(REFERENCE.glob("*.bpmn")) if REFERENCE.is_dir() else []
needs_reference = pytest.mark.skipif(not REFERENCE_FILES, reason="shared BPMN reference files are absent")


def q(tag, ns=MODEL):
    return f"{{{ns}}}{tag}"


def bounds(element):
    b = element.find(q("Bounds", DC))
    return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))


def test_export_has_one_lane_per_swimlane_and_full_diagram_interchange(company):
    version = sales_process(company).versions[0]
    root = ET.fromstring(bpmn.export_bpmn(version))
    process = root.find(q("process"))
    lanes = {lane.get("name"): [ref.text for ref in lane.findall(q("flowNodeRef"))]
             for lane in process.iter(q("lane"))}
    assert set(lanes) == {"销售代表", "销售经理"}
    assert "approval" in lanes["销售经理"]
    assert sorted(sum(lanes.values(), [])) == sorted(n.key for n in version.nodes)
    assert process.find(q("exclusiveGateway")).get("id") == "approval"
    shapes = {s.get("bpmnElement"): s for s in root.iter(q("BPMNShape", BPMNDI))}
    edges = {e.get("bpmnElement"): e for e in root.iter(q("BPMNEdge", BPMNDI))}
    for node in version.nodes:
        assert node.key in shapes
    flows = process.findall(q("sequenceFlow"))
    assert len(flows) == len(version.edges)
    for flow in flows:
        assert len(edges[flow.get("id")].findall(q("waypoint", DI))) >= 2
    lane_ids = {lane.get("name"): lane.get("id") for lane in process.iter(q("lane"))}
    for name, members in lanes.items():
        lx, ly, lw, lh = bounds(shapes[lane_ids[name]])
        for key in members:
            x, y, w, h = bounds(shapes[key])
            assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, (name, key)


def test_export_then_import_keeps_nodes_edges_owners_and_names(company):
    version = sales_process(company).versions[0]
    services.update_node(nodes_by_key(version)["quote"], notes="折扣超过 15% 写明理由")
    result = bpmn.import_bpmn(bpmn.export_bpmn(version), actor=company["lead"])
    assert result.unmapped == []
    [process] = result.processes
    copy = process.versions[0]
    assert process.name == "销售流程" and copy.status == "draft"

    def node_facts(v):
        return sorted((n.key, n.kind, n.name, n.owner_role, n.owner_user_id, n.department_id, n.data_items,
                       n.time_limit, n.notes) for n in v.nodes)

    def edge_facts(v):
        return sorted((e.source.key, e.target.key, e.label, e.is_exception) for e in v.edges)

    assert node_facts(copy) == node_facts(version)
    assert edge_facts(copy) == edge_facts(version)


def test_department_lanes_round_trip(company):
    version = sales_process(company).versions[0]
    services.set_lane_mode(version, "department")
    root = ET.fromstring(bpmn.export_bpmn(version))
    assert [lane.get("name") for lane in root.iter(q("lane"))] == ["销售部"]
    copy = bpmn.import_bpmn(bpmn.export_bpmn(version)).processes[0].versions[0]
    assert copy.lane_by == "department"
    assert {n.key: n.department_id for n in copy.nodes} == {n.key: n.department_id for n in version.nodes}


@needs_reference
@pytest.mark.parametrize("path", REFERENCE_FILES, ids=lambda p: p.name)
def test_every_reference_file_imports_or_is_refused_clearly(company, path):
    if path.name in ("error-duplicate-ids.bpmn", "error-missing-namespace.bpmn"):
        with pytest.raises(BpmnError) as error:
            bpmn.import_bpmn(path.read_bytes())
        assert ("more than one" in error.value.message) or ("not a BPMN 2.0 file" in error.value.message)
        return
    result = bpmn.import_bpmn(path.read_bytes())
    assert result.processes
    for process in result.processes:
        assert process.versions[0].nodes


@needs_reference
def test_invoice_lanes_become_owner_roles_and_gateways_decisions(company):
    result = bpmn.import_bpmn((REFERENCE / "camunda-invoice.bpmn").read_bytes())
    [process] = result.processes
    version = process.versions[0]
    assert process.name == "Invoice Receipt"
    roles = {n.owner_role for n in version.nodes}
    assert {"Approver", "Team Assistant", "Accountant"} <= roles
    decisions = [n for n in version.nodes if n.kind == "decision"]
    assert {n.name for n in decisions} == {"Invoice approved?", "Clarification successful?"}
    assert any("dataStoreReference" in item for item in result.unmapped)
    assert any("Financial Accounting System" in item for item in result.unmapped)


@needs_reference
def test_boundary_events_become_exception_branches(company):
    result = bpmn.import_bpmn((REFERENCE / "bpmnjs-lanes-flow-nodes.bpmn").read_bytes())
    version = result.processes[0].versions[0]
    [exception] = [e for e in version.edges if e.is_exception]
    assert (exception.source.key, exception.target.key, exception.label) == ("Task_Boundary", "Task", "Boundary")
    # Nested lanes: the innermost lane owns the step.
    assert nodes_by_key(version)["Task"].owner_role == "Nested_Lane_A"
    assert any("MessageFlowAbove" in item for item in result.unmapped)


@needs_reference
def test_elements_that_cannot_be_mapped_are_named(company):
    result = bpmn.import_bpmn((REFERENCE / "bpmnjs-boundary-events.bpmn").read_bytes())
    text = "\n".join(result.unmapped)
    assert "joker" in text and "batman" in text and "superman" in text
    assert "Task_1" in text  # inside the embedded subprocess
    conditions = bpmn.import_bpmn((REFERENCE / "bpmnjs-conditions.bpmn").read_bytes()).processes[0].versions[0]
    assert {e.label for e in conditions.edges} >= {"conditional", "default", "${foo < bar}"}


@pytest.mark.parametrize("data, message", [
    (b"<definitions><process>", "not well-formed"),
    (b"", "not well-formed"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "not a BPMN 2.0 file"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</definitions>', "DTD or entities"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
     b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&b;</definitions>', "DTD or entities"),
    (b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"/></definitions>',
     "no process with any steps"),
])
def test_bad_files_get_a_clear_error_and_nothing_is_written(company, data, message):
    from processmaps.models import Process
    from rollout.extensions import db
    with pytest.raises(BpmnError) as error:
        bpmn.import_bpmn(data)
    assert message in error.value.message
    assert db.session.query(Process).count() == 0


PARALLEL_FILE = """<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">
  <process id="p" name="Parallel">
    <laneSet id="ls"><lane id="l1" name="销售代表"><flowNodeRef>s</flowNodeRef><flowNodeRef>split</flowNodeRef>
      <flowNodeRef>a</flowNodeRef><flowNodeRef>join</flowNodeRef><flowNodeRef>e</flowNodeRef></lane>
      <lane id="l2" name="财务专员"><flowNodeRef>b</flowNodeRef></lane></laneSet>
    <startEvent id="s"/><parallelGateway id="split" name="同时开始"/><userTask id="a" name="开通账号"/>
    <manualTask id="b" name="开具发票"/><parallelGateway id="join"/><endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="split"/><sequenceFlow id="f2" sourceRef="split" targetRef="a"/>
    <sequenceFlow id="f3" sourceRef="split" targetRef="b"/><sequenceFlow id="f4" sourceRef="a" targetRef="join"/>
    <sequenceFlow id="f5" sourceRef="b" targetRef="join"/><sequenceFlow id="f6" sourceRef="join" targetRef="e"/>
  </process></definitions>""".encode()


def test_parallel_gateways_import_as_parallel_splits_and_joins(company):
    result = bpmn.import_bpmn(PARALLEL_FILE)
    assert result.unmapped == []
    version = result.processes[0].versions[0]
    nodes = nodes_by_key(version)
    assert (nodes["split"].kind, nodes["join"].kind) == ("parallel", "parallel")
    assert nodes["split"].name == "同时开始" and nodes["split"].notes == ""
    assert (nodes["a"].kind, nodes["b"].kind) == ("task", "task")
    assert len(version.edges) == 6
    # Unlabelled exits are right for a parallel split; every owner is in place.
    assert run_checks(version) == [p for p in run_checks(version) if not p.is_blocking]


def test_parallel_steps_export_as_parallel_gateways(company):
    version = bpmn.import_bpmn(PARALLEL_FILE).processes[0].versions[0]
    root = ET.fromstring(bpmn.export_bpmn(version))
    process = root.find(q("process"))
    assert {g.get("id") for g in process.findall(q("parallelGateway"))} == {"split", "join"}
    assert process.find(q("exclusiveGateway")) is None


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _facts(version):
    """What a round trip must keep: each step's kind, name and lane, and each flow."""
    lanes = render.effective_lanes(version)
    nodes = sorted((n.key, n.kind, n.name, lanes[n.id]) for n in version.nodes)
    edges = sorted((e.source.key, e.target.key, e.label, e.is_exception) for e in version.edges)
    return nodes, edges


ROUND_TRIP_FILES = [p for p in REFERENCE_FILES if not p.name.startswith("error-")]


@pytest.mark.parametrize("name, data", [("parallel.bpmn", PARALLEL_FILE)] + [
    (path.name, path.read_bytes()) for path in ROUND_TRIP_FILES])
def test_import_export_import_keeps_kinds_names_lanes_and_flows(company, name, data):
    kept_tags = ("startEvent", "endEvent", "exclusiveGateway", "parallelGateway")
    original = {e.get("id"): _local(e.tag) for e in ET.fromstring(data).iter() if _local(e.tag) in kept_tags}
    # Each import goes to another department: within one, a process of the same name gets a new version.
    departments = company["departments"]
    for first in bpmn.import_bpmn(data).processes:
        exported = bpmn.export_bpmn(first.versions[0])
        # Events and gateways leave as the elements they came in as (tasks of any kind leave as userTask).
        for element in ET.fromstring(exported).find(q("process")):
            if element.get("id") in original:
                assert _local(element.tag) == original[element.get("id")], element.get("id")
        again = bpmn.import_bpmn(exported, department_id=departments["marketing"].id)
        assert again.unmapped == []
        [second] = again.processes
        assert _facts(second.versions[0]) == _facts(first.versions[0])
        assert bpmn.import_bpmn(bpmn.export_bpmn(second.versions[0]),
                                department_id=departments["finance"].id).processes[0].versions[0].nodes


def test_the_export_puts_a_step_with_only_a_named_owner_in_the_same_lane_as_the_map(company):
    version = sales_process(company).versions[0]
    services.update_node(nodes_by_key(version)["sign"], owner_role="", owner_user_id=company["other_head"].id)
    root = ET.fromstring(bpmn.export_bpmn(version))
    lanes = {lane.get("name"): {ref.text for ref in lane.findall(q("flowNodeRef"))}
             for lane in root.find(q("process")).iter(q("lane"))}
    assert "sign" in lanes[company["other_head"].display_name]  # with the end it leads to
    assert "sign" not in lanes["销售经理"]
    map_lanes = render.effective_lanes(version)
    for name, keys in lanes.items():
        assert {map_lanes[n.id] for n in version.nodes if n.key in keys} == {name}
    # Read back, the step keeps its named owner and no role.
    copy = nodes_by_key(bpmn.import_bpmn(bpmn.export_bpmn(version)).processes[0].versions[0])["sign"]
    assert (copy.owner_role, copy.owner_user_id) == ("", company["other_head"].id)


def test_importing_a_process_the_department_has_adds_its_next_draft_version(company):
    from processmaps.models import Process
    from rollout.extensions import db
    process = sales_process(company, approve=True)
    sales = company["departments"]["sales"].id
    services.update_node(nodes_by_key(services.new_draft_version(process))["quote"], name="报价（含折扣）")
    exported = bpmn.export_bpmn(process.versions[-1])
    # The draft in the way: refused, nothing written.
    with pytest.raises(ServiceError) as error:
        bpmn.import_bpmn(exported, department_id=sales)
    assert "销售流程 already has a draft (v2)" in error.value.message
    services.discard_draft(process.versions[-1])
    result = bpmn.import_bpmn(exported, actor=company["lead"], department_id=sales)
    [version] = result.versions
    assert result.processes == [process] and db.session.query(Process).count() == 1
    assert (version.number, version.status, version.based_on_id) == (2, "draft", process.versions[0].id)
    assert nodes_by_key(version)["quote"].name == "报价（含折扣）"
    comparison = services.compare_versions(process.versions[0], version)
    # RACI rows are no part of BPMN: the steps keep those of the version before.
    assert [(n.key, changes["name"]) for n, changes in comparison.changed_nodes] == [
        ("quote", ("报价", "报价（含折扣）"))]


def test_unnamed_processes_are_named_after_the_file(company):
    unnamed = PARALLEL_FILE.replace(b' name="Parallel"', b"")
    assert bpmn.import_bpmn(unnamed, file_name="C:\\exports\\签约流程.bpmn").processes[0].name == "签约流程"
    # The same file again: the next version of that process, as for a named one.
    imported = services.draft_version(bpmn.import_bpmn(unnamed, file_name="x").processes[0])
    services.submit_for_review(imported, company["lead"])
    services.approve_version(imported)
    assert bpmn.import_bpmn(unnamed, file_name="x.bpmn").versions[0].number == 2
    # Without a file name: a name of its own, never an older process's next version.
    first = bpmn.import_bpmn(unnamed).processes[0]
    second = bpmn.import_bpmn(unnamed).processes[0]
    assert (first.name, second.name) == ("Imported process", "Imported process (2)")
    two = unnamed.replace(b"</process></definitions>", b'</process><process id="q"><startEvent id="s2"/>'
                                                       b"</process></definitions>")
    assert [p.name for p in bpmn.import_bpmn(two, file_name="two.bpmn").processes] == ["two", "two (2)"]


@needs_reference
def test_a_name_that_only_repeats_the_technical_id_counts_as_none(company):
    data = (REFERENCE / "bpmnjs-participant-lane.bpmn").read_bytes()
    [process] = bpmn.import_bpmn(data, file_name="bpmnjs-participant-lane.bpmn").processes
    assert process.name == "bpmnjs-participant-lane"


def test_a_time_limit_that_is_not_a_duration_is_left_out_and_named(company):
    data = PARALLEL_FILE.replace('<userTask id="a" name="开通账号"/>'.encode(),
                                 '<userTask id="a" name="开通账号" xmlns:rd="https://rollout-desk.org/schema/bpmn/1" '
                                 'rd:timeLimit="ASAP"/>'.encode())
    result = bpmn.import_bpmn(data)
    assert nodes_by_key(result.processes[0].versions[0])["a"].time_limit == ""
    assert any("ASAP" in item for item in result.unmapped)


def test_an_imported_versions_summary_is_in_the_company_language_whoever_imports(company):
    from flask_babel import force_locale
    with force_locale("en"):
        version = services.draft_version(bpmn.import_bpmn(PARALLEL_FILE, file_name="签约.bpmn").processes[0])
    assert version.summary == "由 BPMN 文件导入。"
