"""Building small process maps for tests."""
from processmaps import services
from rollout.extensions import db


def sales_process(company, approve=False):
    """start → 报价 → 报价审批 → 签约 → end, with 报价审批不通过 back to 报价 and 客户流失 to 记录流失原因 → end."""
    sales = company["departments"]["sales"]
    process = services.create_process("销售流程", department_id=sales.id, actor=company["lead"])
    version = process.versions[0]
    start, end = version.nodes
    quote = services.add_node(version, key="quote", kind="task", name="报价", owner_role="销售代表",
                              department_id=sales.id, data_items="报价金额\n折扣率", time_limit="2个工作日")
    approval = services.add_node(version, key="approval", kind="decision", name="报价审批", owner_role="销售经理",
                                 owner_user_id=company["head"].id, department_id=sales.id)
    sign = services.add_node(version, key="sign", kind="task", name="签约成单", owner_role="销售代表",
                             department_id=sales.id)
    lost = services.add_node(version, key="lost", kind="exception", name="记录流失原因", owner_role="销售代表",
                             department_id=sales.id)
    for source, target, label, is_exception in (
            (start, quote, "", False), (quote, approval, "", False), (approval, sign, "审批通过", False),
            (approval, quote, "报价审批不通过", True), (sign, end, "", False), (quote, lost, "客户流失", True),
            (lost, end, "", False)):
        services.add_edge(version, source_id=source.id, target_id=target.id, label=label, is_exception=is_exception)
    services.set_raci(quote, "销售经理", "A")
    services.set_raci(approval, "财务专员", "C")
    if approve:
        services.approve_version(version, actor=company["lead"])
    db.session.commit()
    return process


def nodes_by_key(version):
    return {node.key: node for node in version.nodes}
