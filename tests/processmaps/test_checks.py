"""The checks beside the map: what blocks approval and what only warns."""
from processmaps import services
from processmaps.checks import run_checks
from tests.processmaps.helpers import nodes_by_key, sales_process


def codes(version, blocking=None):
    return {p.code for p in run_checks(version) if blocking is None or p.is_blocking == blocking}


def test_the_sample_process_passes_every_check(company):
    assert run_checks(sales_process(company).versions[0]) == []


def test_a_task_without_owner_blocks(company):
    version = sales_process(company).versions[0]
    services.update_node(nodes_by_key(version)["sign"], owner_role="", owner_user_id=None)
    [problem] = run_checks(version)
    assert (problem.code, problem.is_blocking, problem.node_keys) == ("no_owner", True, ["sign"])


def test_a_decision_needs_two_labelled_exits(company):
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    rejection = next(e for e in version.edges if e.source_id == nodes["approval"].id and e.is_exception)
    services.update_edge(rejection, source_id=rejection.source_id, target_id=rejection.target_id, label="",
                         is_exception=True)
    assert "decision_exits" in codes(version, blocking=True)


def test_unreachable_steps_and_dead_ends_block(company):
    version = sales_process(company).versions[0]
    island = services.add_node(version, kind="task", name="孤立步骤", owner_role="销售代表")
    problems = {p.code: p for p in run_checks(version)}
    assert problems["unreachable"].node_keys == [island.key]
    assert problems["no_path_to_end"].node_keys == [island.key]


def test_a_quote_approval_without_a_rejection_path_blocks(company):
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    rejection = next(e for e in version.edges if e.source_id == nodes["approval"].id and e.is_exception)
    services.update_edge(rejection, source_id=rejection.source_id, target_id=nodes["sign"].id, label="加急",
                         is_exception=False)
    assert "quote_rejection" in codes(version, blocking=True)
    # A flow labelled as a rejection counts even when it is not marked as an exception.
    services.update_edge(rejection, source_id=rejection.source_id, target_id=nodes["quote"].id, label="驳回",
                         is_exception=False)
    assert "quote_rejection" not in codes(version)


def test_no_exception_branch_at_all_warns_without_blocking(company):
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    services.delete_node(nodes["lost"])
    rejection = next(e for e in version.edges if e.is_exception)
    services.update_edge(rejection, source_id=rejection.source_id, target_id=rejection.target_id,
                         label="报价审批不通过", is_exception=False)
    assert codes(version) == {"no_exception"}
    assert services.blocking_problems(version) == []
    services.submit_for_review(version, company["lead"])  # a warning stops neither review nor approval
    services.approve_version(version)


def test_missing_start_or_end_blocks(company):
    version = sales_process(company).versions[0]
    for node in [n for n in version.nodes if n.kind == "end"]:
        services.delete_node(node)
    assert "no_end" in codes(version, blocking=True)


def _with_parallel_signing(company):
    """The sample process where 签约成单 splits into 开通账号 and 开具发票, which join before the end."""
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    to_end = next(e for e in version.edges if e.source_id == nodes["sign"].id)
    services.delete_edge(to_end)
    split = services.add_node(version, key="split", kind="parallel", name="同时处理")
    join = services.add_node(version, key="join", kind="parallel", name="全部完成")
    accounts = services.add_node(version, key="accounts", kind="task", name="开通账号", owner_role="IT专员",
                                 data_items="账号")
    invoice = services.add_node(version, key="invoice", kind="task", name="开具发票", owner_role="财务专员",
                                data_items="发票号")
    end = next(n for n in version.nodes if n.kind == "end")
    for source, target in ((nodes["sign"], split), (split, accounts), (split, invoice), (accounts, join),
                           (invoice, join), (join, end)):
        services.add_edge(version, source_id=source.id, target_id=target.id)
    return version


def test_a_parallel_split_needs_neither_labelled_exits_nor_an_owner(company):
    version = _with_parallel_signing(company)
    assert run_checks(version) == []


def test_a_decision_still_needs_labelled_exits_where_a_parallel_split_does_not(company):
    version = _with_parallel_signing(company)
    services.update_node(nodes_by_key(version)["split"], kind="decision", name="同时处理", owner_role="销售经理")
    [problem] = run_checks(version)
    assert (problem.code, problem.node_keys) == ("decision_exits", ["split"])


def test_reachability_checks_cover_parallel_steps(company):
    version = _with_parallel_signing(company)
    nodes = nodes_by_key(version)
    join_to_end = next(e for e in version.edges if e.source_id == nodes["join"].id)
    services.delete_edge(join_to_end)
    stray = services.add_node(version, key="stray", kind="parallel", name="孤立分支")
    problems = {p.code: p for p in run_checks(version)}
    assert problems["unreachable"].node_keys == ["stray"]
    assert set(problems["no_path_to_end"].node_keys) == {"sign", "split", "accounts", "invoice", "join", "stray"}
    assert stray.key not in {k for p in problems.values() if p.code == "no_owner" for k in p.node_keys}


def test_steps_sharing_a_name_warn_and_every_message_tells_them_apart(company):
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    services.update_node(nodes["sign"], name="报价", owner_role="")
    problems = {p.code: p for p in run_checks(version)}
    duplicate = problems["duplicate_names"]
    assert not duplicate.is_blocking and set(duplicate.node_keys) == {"quote", "sign"}
    # Numbered as in the steps table (flow order): 报价 is step 2, the renamed 签约成单 step 4.
    numbers = services.step_numbers(version)
    assert (numbers[nodes["quote"].id], numbers[nodes["sign"].id]) == (2, 4)
    assert "报价 (#2)、报价 (#4)" in duplicate.message
    assert problems["no_owner"].message.endswith("报价 (#4)")
    services.update_node(nodes["sign"], name="签约成单", owner_role="销售代表")
    assert run_checks(version) == []


def test_flows_onto_their_own_step_and_flows_drawn_twice_from_older_maps_warn(company):
    from processmaps.models import ProcessEdge
    from rollout.extensions import db
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    # Written past the editor's rules, as an older version of the map could hold them.
    db.session.add_all([ProcessEdge(version=version, source_id=nodes["quote"].id, target_id=nodes["quote"].id),
                        ProcessEdge(version=version, source_id=nodes["approval"].id, target_id=nodes["sign"].id,
                                    label="审批通过")])
    db.session.flush()
    db.session.expire(version, ["edges"])
    problems = {p.code: p for p in run_checks(version)}
    assert problems["self_loop"].node_keys == ["quote"] and not problems["self_loop"].is_blocking
    assert "报价审批 → 签约成单" in problems["duplicate_flow"].message


def test_time_limits_kept_from_before_their_format_was_checked_warn(company):
    from rollout.extensions import db
    version = sales_process(company).versions[0]
    nodes_by_key(version)["quote"].time_limit = "尽快"
    db.session.flush()
    [problem] = run_checks(version)
    assert (problem.code, problem.is_blocking, problem.node_keys) == ("time_limit", False, ["quote"])


def test_a_task_recording_nothing_and_a_raci_without_responsible_warn(company):
    version = sales_process(company).versions[0]
    nodes = nodes_by_key(version)
    services.update_node(nodes["sign"], data_items="")
    services.set_raci(nodes["quote"], "销售代表", None)  # only 销售经理 A is left
    problems = {p.code: p for p in run_checks(version)}
    assert problems["no_data_items"].node_keys == ["sign"] and not problems["no_data_items"].is_blocking
    assert problems["raci_no_responsible"].node_keys == ["quote"]
    assert not problems["raci_no_responsible"].is_blocking
    assert "nobody Responsible (R): 报价" in problems["raci_no_responsible"].message
