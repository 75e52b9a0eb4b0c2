"""Versions, editing rules, approval, drafts copied from the approved version, compare, RACI, links."""
import pytest

from processmaps import services
from processmaps.models import APPROVED, DRAFT, SUPERSEDED, ProcessEdge, ProcessNode
from rollout.errors import NotAllowed, ServiceError
from rollout.extensions import db
from tests.processmaps.helpers import nodes_by_key, sales_process


def test_new_process_starts_as_a_draft_with_start_and_end(company):
    process = services.create_process("线索分配", department_id=company["departments"]["sales"].id)
    version = process.versions[0]
    assert (version.number, version.status) == (1, DRAFT)
    assert sorted(node.kind for node in version.nodes) == ["end", "start"]


def test_a_name_is_required(company):
    with pytest.raises(ServiceError) as error:
        services.create_process("  ")
    assert error.value.field == "name"


def test_approval_is_refused_while_a_blocking_check_fails(company):
    process = sales_process(company)
    version = process.versions[0]
    services.update_node(nodes_by_key(version)["sign"], owner_role="")
    with pytest.raises(ServiceError) as error:
        services.submit_for_review(version, company["lead"])
    assert "签约成单" in error.value.message
    assert version.status == DRAFT


def test_approving_supersedes_the_previous_version_and_drafts_copy_it(company):
    process = sales_process(company, approve=True)
    first = process.versions[0]
    draft = services.new_draft_version(process, actor=company["lead"])
    assert (draft.number, draft.status, draft.based_on_id) == (2, DRAFT, first.id)
    assert [n.key for n in draft.nodes] == [n.key for n in first.nodes]
    assert len(draft.edges) == len(first.edges)
    assert {(r.role, r.kind) for r in nodes_by_key(draft)["quote"].raci} == {("销售代表", "R"), ("销售经理", "A")}
    assert {n.id for n in draft.nodes}.isdisjoint({n.id for n in first.nodes})
    # A second call while the draft exists returns that same draft.
    assert services.new_draft_version(process) is draft
    services.submit_for_review(draft, company["lead"])
    services.approve_version(draft, actor=company["lead"])
    db.session.commit()
    assert (first.status, draft.status) == (SUPERSEDED, APPROVED)
    assert first.superseded_at is not None


def test_only_drafts_can_be_edited(company):
    process = sales_process(company, approve=True)
    version = process.versions[0]
    with pytest.raises(NotAllowed):
        services.add_node(version, kind="task", name="新步骤", owner_role="销售代表")
    with pytest.raises(NotAllowed):
        services.approve_version(version)


def test_flows_cannot_leave_an_end_or_enter_a_start_but_loops_are_allowed(company):
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    start = next(n for n in version.nodes if n.kind == "start")
    end = next(n for n in version.nodes if n.kind == "end")
    with pytest.raises(ServiceError) as error:
        services.add_edge(version, source_id=end.id, target_id=nodes["quote"].id)
    assert error.value.field == "source_id"
    with pytest.raises(ServiceError) as error:
        services.add_edge(version, source_id=nodes["quote"].id, target_id=start.id)
    assert error.value.field == "target_id"
    services.add_edge(version, source_id=nodes["sign"].id, target_id=nodes["quote"].id, label="返工")
    assert services.blocking_problems(version) == []


def test_removing_a_step_removes_its_flows(company):
    version = sales_process(company).versions[0]
    lost = nodes_by_key(version)["lost"]
    services.delete_node(lost)
    db.session.commit()
    assert db.session.get(ProcessNode, lost.id) is None
    assert all(lost.id not in (e.source_id, e.target_id) for e in db.session.query(ProcessEdge))


def test_duplicate_keys_and_bad_kinds_are_refused(company):
    version = sales_process(company).versions[0]
    with pytest.raises(ServiceError):
        services.add_node(version, key="quote", kind="task", name="重复")
    with pytest.raises(ServiceError) as error:
        services.add_node(version, kind="meeting", name="会议")
    assert error.value.field == "kind"


def test_compare_lists_added_removed_changed_nodes_edges_and_owner_changes(company):
    process = sales_process(company, approve=True)
    old = process.versions[0]
    new = services.new_draft_version(process)
    nodes = nodes_by_key(new)
    services.update_node(nodes["approval"], owner_role="销售总监", owner_user_id=None)
    review = services.add_node(new, key="review", kind="task", name="财务复核", owner_role="财务专员")
    to_sign = next(e for e in new.edges if e.source_id == nodes["approval"].id and e.target_id == nodes["sign"].id)
    services.update_edge(to_sign, source_id=nodes["approval"].id, target_id=review.id, label="审批通过")
    services.add_edge(new, source_id=review.id, target_id=nodes["sign"].id, label="复核通过")
    services.delete_node(nodes["lost"])
    lost_flow = next(e for e in new.edges if e.label == "报价审批不通过")
    services.update_edge(lost_flow, source_id=lost_flow.source_id, target_id=lost_flow.target_id,
                         label="驳回", is_exception=True)

    result = services.compare_versions(old, new)
    assert [n.key for n in result.added_nodes] == ["review"]
    assert [n.key for n in result.removed_nodes] == ["lost"]
    assert [(n.key, before, after) for n, before, after in result.owner_changes] == [
        ("approval", f"销售经理 · {company['head'].display_name}", "销售总监")]
    assert {(e.source.key, e.target.key) for e in result.added_edges} == {("approval", "review"), ("review", "sign")}
    assert {(e.source.key, e.target.key) for e in result.removed_edges} == {
        ("approval", "sign"), ("quote", "lost"), ("lost", next(n.key for n in old.nodes if n.kind == "end"))}
    assert [(e.label, changes) for e, changes in result.changed_edges] == [("驳回", {"label": ("报价审批不通过", "驳回")})]
    highlight = result.highlight()
    assert highlight["added_nodes"] == {"review"} and "approval" in highlight["changed_nodes"]


def test_compare_of_identical_versions_is_empty(company):
    process = sales_process(company, approve=True)
    draft = services.new_draft_version(process)
    assert services.compare_versions(process.versions[0], draft).is_empty


def test_raci_matrix_counts_the_owner_as_responsible(company):
    version = sales_process(company).versions[0]
    roles, rows = services.raci_matrix(version)
    assert "销售代表" in roles and "财务专员" in roles
    letters = {node.key: row for node, row in rows}
    assert letters["quote"] == {"销售代表": "R", "销售经理": "A"}
    assert letters["approval"]["财务专员"] == "C"
    services.set_raci(nodes_by_key(version)["quote"], "销售经理", None)
    assert all(row.role != "销售经理" for row in nodes_by_key(version)["quote"].raci)
    with pytest.raises(ServiceError):
        services.set_raci(nodes_by_key(version)["quote"], "销售经理", "X")


def test_a_role_typed_with_other_spaces_width_or_case_joins_its_column(company):
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    services.set_raci(nodes["sign"], " 销售 经理 ", "A")
    services.set_raci(nodes["sign"], "ｉｔ专员", "I")
    services.set_raci(nodes["quote"], "IT专员", "C")
    roles, rows = services.raci_matrix(version)
    assert roles.count("销售经理") == 1 and "销售 经理" not in roles
    assert [role for role in roles if role.casefold() == "it专员"] == ["it专员"]
    letters = {node.key: row for node, row in rows}
    assert letters["sign"]["销售经理"] == "A" and letters["quote"]["it专员"] == "C"
    # A node's own owner role can still be re-spelt; another node's owner joins the known spelling.
    services.update_node(nodes["quote"], owner_role="销售代表（新）")
    assert nodes["quote"].owner_role == "销售代表(新)"
    services.update_node(nodes["sign"], owner_role="销售代表 (新)")
    assert nodes["sign"].owner_role == "销售代表(新)"


def test_link_providers_feed_the_node_page(company, monkeypatch):
    version = sales_process(company).versions[0]
    quote = nodes_by_key(version)["quote"]

    def provider(node):
        return [("需求 R-1 报价模板", "/surveys/requirements/1")] if node.key == "quote" else []

    monkeypatch.setattr(services, "NODE_LINK_PROVIDERS", [provider])
    assert services.node_links(quote) == [("需求 R-1 报价模板", "/surveys/requirements/1")]
    assert services.node_links(nodes_by_key(version)["sign"]) == []


def test_lineage_finds_the_same_step_in_every_version(company):
    process = sales_process(company, approve=True)
    draft = services.new_draft_version(process)
    old_quote, new_quote = nodes_by_key(process.versions[0])["quote"], nodes_by_key(draft)["quote"]
    assert sorted(services.node_lineage_ids(new_quote)) == sorted([old_quote.id, new_quote.id])


def test_discarding_a_draft_keeps_the_approved_version(company):
    process = sales_process(company, approve=True)
    draft = services.new_draft_version(process)
    services.discard_draft(draft)
    db.session.commit()
    assert [v.status for v in process.versions] == [APPROVED]
    with pytest.raises(NotAllowed):
        services.discard_draft(process.versions[0])


def test_parallel_steps_join_the_raci_matrix_only_once_someone_is_named(company):
    version = sales_process(company).versions[0]
    split = services.add_node(version, key="split", kind="parallel", name="同时处理")
    assert split not in [node for node, _letters in services.raci_matrix(version)[1]]
    services.set_raci(split, "销售经理", "A")
    rows = dict(services.raci_matrix(version)[1])
    assert rows[split] == {"销售经理": "A"}


def test_compare_names_a_decision_that_became_a_parallel_split(company):
    process = sales_process(company, approve=True)
    draft = services.new_draft_version(process)
    services.update_node(nodes_by_key(draft)["approval"], kind="parallel")
    comparison = services.compare_versions(process.versions[0], draft)
    [(node, changes)] = comparison.changed_nodes
    assert node.key == "approval" and changes["kind"] == ("decision", "parallel")
    assert services.kind_label("parallel") == "Parallel split/join"


# --- names people tell processes and steps apart by ----------------------------------------------
def test_a_second_process_of_the_same_name_in_a_department_is_refused(company):
    sales, marketing = company["departments"]["sales"], company["departments"]["marketing"]
    services.create_process("销售机会跟进流程", department_id=sales.id)
    for name in ("销售机会跟进流程", "  销售机会跟进流程 "):
        with pytest.raises(ServiceError) as error:
            services.create_process(name, department_id=sales.id)
        assert error.value.field == "name"
        assert "销售部" in error.value.message and "销售机会跟进流程" in error.value.message
    services.create_process("Invoice Receipt")
    with pytest.raises(ServiceError) as error:
        services.create_process("invoice receipt")  # case does not make another process
    assert "Invoice Receipt" in error.value.message
    # Another department may have a process of that name.
    other = services.create_process("销售机会跟进流程", department_id=marketing.id)
    with pytest.raises(ServiceError):
        services.update_process(other, "销售机会跟进流程", sales.id, "")
    services.update_process(other, "销售机会跟进流程", marketing.id, "市场部的版本")  # keeping its own name is fine


def test_pickers_add_the_department_where_process_names_repeat(company):
    sales, marketing = company["departments"]["sales"], company["departments"]["marketing"]
    first = services.create_process("销售机会跟进流程", department_id=sales.id)
    second = services.create_process("销售机会跟进流程", department_id=marketing.id)
    alone = services.create_process("回款跟进", department_id=sales.id)
    labels = dict(services.processes_to_choose_from())
    assert labels[first.id] == "销售机会跟进流程 · 销售部"
    assert labels[second.id] == "销售机会跟进流程 · 市场部"
    assert labels[alone.id] == "回款跟进"
    assert dict(services.process_choices(leave_out=alone.id)) == {first.id: labels[first.id],
                                                                   second.id: labels[second.id]}
    quote = services.add_node(second.versions[0], kind="task", name="报价", owner_role="销售代表")
    assert services.step_labels([quote.id]) == [(quote.id, "销售机会跟进流程 · 市场部 v1 › 报价")]


def test_a_flow_onto_its_own_step_or_a_second_identical_flow_is_refused(company):
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    with pytest.raises(ServiceError) as error:
        services.add_edge(version, source_id=nodes["quote"].id, target_id=nodes["quote"].id)
    assert error.value.field == "target_id" and "itself" in error.value.message
    start = next(n for n in version.nodes if n.kind == "start")
    with pytest.raises(ServiceError) as error:
        services.add_edge(version, source_id=start.id, target_id=nodes["quote"].id)
    assert "already exists" in error.value.message and "报价" in error.value.message
    with pytest.raises(ServiceError):
        services.add_edge(version, source_id=nodes["approval"].id, target_id=nodes["sign"].id, label=" 审批通过 ")
    # Another condition makes another flow; saving a flow unchanged is no duplicate of itself.
    services.add_edge(version, source_id=nodes["approval"].id, target_id=nodes["sign"].id, label="特批")
    passed = next(e for e in version.edges if e.label == "审批通过")
    services.update_edge(passed, source_id=passed.source_id, target_id=passed.target_id, label="审批通过")
    with pytest.raises(ServiceError):
        services.update_edge(passed, source_id=passed.source_id, target_id=passed.target_id, label="特批")
    with pytest.raises(ServiceError):
        services.update_edge(passed, source_id=passed.source_id, target_id=passed.source_id, label="审批通过")
    assert len(version.edges) == 8


@pytest.mark.parametrize("text, parsed", [
    ("2个工作日", (2, "working days")), ("24小时", (24, "hours")), ("30天", (30, "days")),
    ("1.5 days", (1.5, "days")), ("3 working days", (3, "working days")), ("2 Weeks", (2, "weeks")),
    ("1个月", (1, "months")), ("48h", (48, "hours")), ("abc", None), ("两天", None), ("0天", None),
    ("3", None), ("天", None), ("-1 days", None), ("2个", None), ("5 parsecs", None),
])
def test_time_limits_are_a_number_and_a_unit(text, parsed):
    assert services.parse_time_limit(text) == parsed


def test_a_time_limit_that_is_not_a_duration_is_refused_with_its_format(company):
    version = sales_process(company).versions[0]
    quote = nodes_by_key(version)["quote"]
    with pytest.raises(ServiceError) as error:
        services.add_node(version, kind="task", name="合同评审", owner_role="法务专员", time_limit="abc")
    assert error.value.field == "time_limit" and "2个工作日" in error.value.message
    with pytest.raises(ServiceError):
        services.update_node(quote, time_limit="尽快")
    services.update_node(quote, time_limit=" 3 个工作日 ")
    assert quote.time_limit == "3 个工作日"
    services.update_node(quote, time_limit="")
    assert quote.time_limit == ""


# --- the order steps are listed in ------------------------------------------------------------------
def test_steps_are_listed_in_flow_order_whatever_order_they_were_added_in(company):
    process = services.create_process("合同流程", with_start_and_end=False)
    version = process.versions[0]
    add = lambda key, kind, name: services.add_node(version, key=key, kind=kind, name=name,  # noqa: E731
                                                    owner_role="" if kind in ("start", "end") else "法务")
    end = add("end", "end", "结束")
    sign = add("sign", "task", "签署")
    review_b = add("b", "task", "B 审核")
    start = add("start", "start", "开始")
    review_a = add("a", "task", "A 审核")
    draft = add("draft", "task", "起草")
    add("island", "task", "孤立步骤")  # reached from nowhere: listed last
    for source, target in ((start, draft), (draft, review_b), (draft, review_a), (review_a, sign),
                           (review_b, sign), (sign, end), (sign, draft)):  # sign → draft: rework
        services.add_edge(version, source_id=source.id, target_id=target.id)
    assert [n.key for n in services.flow_order(version)] == ["start", "draft", "a", "b", "sign", "end", "island"]
    assert services.step_numbers(version)[sign.id] == 5


def test_step_pickers_list_steps_in_flow_order_and_number_repeated_names(company):
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    services.update_node(nodes["lost"], name="报价")
    [(heading, steps)] = services.step_groups(version.process_id)
    assert heading.startswith("v1")
    names = [name for _id, name in steps]
    assert names == ["报价 (#2)", "报价 (#3)", "报价审批", "签约成单"]  # ties by name
