"""Demo data: the sales process with its exception branches and the lead handoff, owners on every step."""
from processmaps.checks import run_checks
from tests.processmaps.helpers import demo_processes


def test_demo_processes(company, factory):
    sales, handoff = demo_processes(company, factory)
    assert [v.status for v in sales.versions] == ["approved", "in_review"]  # the next version awaits its review
    assert [v.status for v in handoff.versions] == ["approved", "in_review"]
    approved = sales.versions[0]
    names = [n.name for n in approved.nodes]
    for step in ("客户分配", "首次拜访", "需求确认", "报价", "报价审批", "签约成单"):
        assert step in names
    exceptions = {e.label for e in approved.edges if e.is_exception}
    assert exceptions == {"报价审批不通过", "客户流失"}
    assert all(n.owner_role for n in approved.nodes if n.kind not in ("start", "end"))
    assert run_checks(approved) == [] and run_checks(sales.versions[1]) == []
    # The next version runs invoicing and the delivery kick-off side by side after signing.
    draft_kinds = {n.key: n.kind for n in sales.versions[1].nodes}
    assert (draft_kinds["after_signing"], draft_kinds["both_done"]) == ("parallel", "parallel")
    assert {n.department.name for n in handoff.versions[0].nodes} == {"市场部", "销售部"}
    assert handoff.versions[0].lane_by == "department"
