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
                             department_id=sales.id, data_items="合同编号")
    lost = services.add_node(version, key="lost", kind="exception", name="记录流失原因", owner_role="销售代表",
                             department_id=sales.id)
    for source, target, label, is_exception in (
            (start, quote, "", False), (quote, approval, "", False), (approval, sign, "审批通过", False),
            (approval, quote, "报价审批不通过", True), (sign, end, "", False), (quote, lost, "客户流失", True),
            (lost, end, "", False)):
        services.add_edge(version, source_id=source.id, target_id=target.id, label=label, is_exception=is_exception)
    services.set_raci(quote, "销售代表", "R")
    services.set_raci(quote, "销售经理", "A")
    services.set_raci(approval, "销售经理", "R")
    services.set_raci(approval, "财务专员", "C")
    if approve:
        services.submit_for_review(version, company["lead"])
        services.approve_version(version, actor=company["lead"])
    db.session.commit()
    return process


def nodes_by_key(version):
    return {node.key: node for node in version.nodes}


def demo_processes(company, factory):
    """The demo data's processes (sales process with lanes per role, lead handoff per department)."""
    from datetime import date

    from processmaps import demo
    from processmaps.models import Process
    from rollout.demo import DemoContext

    departments = company["departments"]
    ctx = DemoContext(today=date(2026, 11, 27))
    ctx.departments = {"sales": departments["sales"], "sales-1": departments["sales1"],
                       "marketing": departments["marketing"], "finance": departments["finance"]}
    ctx.users["lead"] = company["lead"]
    for username, code in (("sales.head", "sales"), ("team1.head", "sales1"),
                           ("mkt.head", "marketing"), ("mkt1", "marketing"), ("mkt2", "marketing"),
                           ("fin3", "finance")):
        ctx.users[username] = factory.user("staff", department=departments[code], username=username)
    demo.load(ctx)
    db.session.commit()
    return db.session.query(Process).order_by(Process.id).all()


LARGE_MAP_ROLES = ("销售代表", "销售经理", "售前顾问", "财务专员", "市场专员")


def large_process(company, size=200):
    """A ``size``-node map in five role lanes: blocks of ten steps, each with a parallel split and join
    (two branches) and a decision whose rejection loops back, so every kind and crossing lanes occur."""
    process = services.create_process("大型流程", department_id=company["departments"]["sales"].id,
                                      actor=company["lead"])
    version = process.versions[0]
    start, end = version.nodes
    blocks, remainder = divmod(size - 2, 10)
    kinds = ("task", "parallel", "task", "task", "parallel", "task", "task", "task", "task", "decision")
    steps = []
    for index in range(blocks * 10 + remainder):
        kind = kinds[index % 10] if index < blocks * 10 else "task"
        role = "" if kind == "parallel" else LARGE_MAP_ROLES[(index // 3) % len(LARGE_MAP_ROLES)]
        steps.append(services.add_node(version, key=f"s{index:03d}", kind=kind, name=f"步骤{index + 1}",
                                       owner_role=role))

    def flow(source, target, label="", is_exception=False):
        services.add_edge(version, source_id=source.id, target_id=target.id, label=label, is_exception=is_exception)

    flow(start, steps[0])
    for block in range(blocks):
        b = steps[block * 10: block * 10 + 10]
        flow(b[0], b[1])
        flow(b[1], b[2])
        flow(b[1], b[3])
        flow(b[2], b[4])
        flow(b[3], b[4])
        for source, target in zip(b[4:9], b[5:10]):
            flow(source, target)
        following = steps[block * 10 + 10] if block * 10 + 10 < len(steps) else end
        flow(b[9], following, "通过")
        flow(b[9], b[5], "退回", is_exception=True)
    tail = steps[blocks * 10:]
    for source, target in zip(tail, tail[1:] + [end]):
        flow(source, target)
    db.session.commit()
    return process
