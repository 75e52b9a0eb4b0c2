"""Demo process maps: the sales process with its exception branches and the 市场部 → 销售部 lead handoff."""
from __future__ import annotations

from processmaps import services
from processmaps.models import LANE_BY_DEPARTMENT, Process, ProcessVersion

# key, kind, name, owner role, owner username, department code, data items, time limit, notes
SALES_NODES = [
    ("start", "start", "商机进入", "", None, "sales", "", "", ""),
    ("assign", "task", "客户分配", "销售经理", "team1.head", "sales-1",
     "客户名称\n来源渠道\n所属行业\n负责销售", "1个工作日", "按区域和行业轮转分配，重点客户由销售经理指定。"),
    ("visit", "task", "首次拜访", "销售代表", None, "sales-1",
     "拜访日期\n联系人及职务\n拜访纪要", "3个工作日", "分配后三个工作日内完成首次拜访并录入拜访纪要。"),
    ("needs", "task", "需求确认", "销售代表", None, "sales-1",
     "需求清单\n预算范围\n决策人\n预计签约时间", "5个工作日", ""),
    ("quote", "task", "报价", "销售代表", None, "sales-1",
     "报价单号\n产品明细\n报价金额\n折扣率", "2个工作日", "折扣超过 15% 的报价须写明理由。"),
    ("approve", "decision", "报价审批", "销售经理", "team1.head", "sales-1",
     "审批意见\n审批时间", "1个工作日", "折扣超过 25% 时由销售总监审批。"),
    ("sign", "task", "签约成单", "销售代表", None, "sales-1",
     "合同编号\n合同金额\n签约日期\n回款计划", "10个工作日", ""),
    ("lost", "exception", "记录流失原因", "销售代表", None, "sales-1",
     "流失原因\n竞争对手\n流失阶段", "1个工作日", "客户流失时必须选择流失原因，便于复盘。"),
    ("won", "end", "成单", "", None, "sales", "", "", ""),
    ("closed_lost", "end", "客户流失", "", None, "sales", "", "", ""),
]

# source, target, label, is exception
SALES_EDGES = [
    ("start", "assign", "", False),
    ("assign", "visit", "", False),
    ("visit", "needs", "", False),
    ("needs", "quote", "需求明确", False),
    ("quote", "approve", "", False),
    ("approve", "sign", "审批通过", False),
    ("approve", "quote", "报价审批不通过", True),
    ("sign", "won", "", False),
    ("visit", "lost", "客户流失", True),
    ("needs", "lost", "客户流失", True),
    ("quote", "lost", "客户流失", True),
    ("lost", "closed_lost", "", False),
]

# node key → [(role, letter)]
SALES_RACI = {
    "assign": [("销售经理", "R"), ("销售总监", "A"), ("销售代表", "I"), ("市场专员", "C")],
    "visit": [("销售代表", "R"), ("销售经理", "A")],
    "needs": [("销售代表", "R"), ("销售经理", "A"), ("售前顾问", "C")],
    "quote": [("销售代表", "R"), ("销售经理", "A"), ("财务专员", "C")],
    "approve": [("销售经理", "R"), ("销售总监", "A"), ("销售代表", "I")],
    "sign": [("销售代表", "R"), ("销售总监", "A"), ("财务专员", "I")],
    "lost": [("销售代表", "R"), ("销售经理", "I"), ("市场专员", "I")],
}

LEAD_NODES = [
    ("start", "start", "开始", "", None, "marketing", "", "", ""),
    ("collect", "task", "线索收集", "市场专员", "mkt1", "marketing",
     "线索来源\n公司名称\n联系人\n联系方式", "1个工作日", "展会、官网表单和电话咨询的线索统一录入。"),
    ("score", "task", "线索清洗与评分", "市场专员", "mkt2", "marketing",
     "行业\n公司规模\n线索评分", "2个工作日", "重复线索合并，评分 60 分以上为合格线索。"),
    ("qualified", "decision", "是否合格线索", "市场部经理", "mkt.head", "marketing", "判定结果", "1个工作日", ""),
    ("nurture", "task", "线索培育", "市场专员", None, "marketing",
     "培育活动\n最近互动时间", "30天", "通过邮件和活动持续培育，三十天后重新评分。"),
    ("handoff", "task", "分配给销售", "销售经理", "sales.head", "sales",
     "接收销售\n分配时间", "1个工作日", ""),
    ("contact", "task", "销售首次联系", "销售代表", None, "sales",
     "联系时间\n联系结果", "24小时", "超过 24 小时未联系，线索自动提醒销售经理。"),
    ("end", "end", "转为商机", "", None, "sales", "", "", ""),
]

LEAD_EDGES = [
    ("start", "collect", "", False),
    ("collect", "score", "", False),
    ("score", "qualified", "", False),
    ("qualified", "handoff", "合格", False),
    ("qualified", "nurture", "不合格", False),
    ("nurture", "score", "重新评分", False),
    ("handoff", "contact", "", False),
    ("contact", "end", "有效商机", False),
    ("contact", "nurture", "销售退回线索", True),
]

LEAD_RACI = {
    "collect": [("市场专员", "R"), ("市场部经理", "A")],
    "score": [("市场专员", "R"), ("市场部经理", "A"), ("销售经理", "C")],
    "qualified": [("市场部经理", "R"), ("销售经理", "C")],
    "handoff": [("销售经理", "R"), ("销售总监", "A"), ("市场部经理", "I")],
    "contact": [("销售代表", "R"), ("销售经理", "A"), ("市场专员", "I")],
}


def build_version(version: ProcessVersion, ctx, nodes, edges, raci) -> None:
    """Fill a draft version with nodes, edges and RACI rows described as tuples."""
    by_key = {node.key: node for node in version.nodes}
    for key, kind, name, role, username, dept, items, limit, notes in nodes:
        values = dict(kind=kind, name=name, owner_role=role,
                      owner_user_id=ctx.users[username].id if username else None,
                      department_id=ctx.departments[dept].id, data_items=items, time_limit=limit, notes=notes)
        if key in by_key:
            services.update_node(by_key[key], **values)
        else:
            by_key[key] = services.add_node(version, key=key, **values)
    for source, target, label, is_exception in edges:
        services.add_edge(version, source_id=by_key[source].id, target_id=by_key[target].id, label=label,
                          is_exception=is_exception)
    for key, rows in raci.items():
        for role, letter in rows:
            services.set_raci(by_key[key], role, letter)


def _new_process(ctx, name, department_code, description, lane_by="role") -> Process:
    return services.create_process(name, department_id=ctx.departments[department_code].id,
                                   description=description, actor=ctx.users["lead"], lane_by=lane_by,
                                   with_start_and_end=False)


def _add_parallel_invoicing(draft: ProcessVersion, ctx, nodes: dict) -> None:
    """After signing, invoicing and the delivery kick-off run side by side; the deal is won once both are done."""
    won = nodes["won"]
    sign_to_won = next(e for e in draft.edges if e.source_id == nodes["sign"].id and e.target_id == won.id)
    services.delete_edge(sign_to_won)
    split = services.add_node(draft, key="after_signing", kind="parallel", name="签约后并行处理",
                              department_id=ctx.departments["sales-1"].id)
    invoice = services.add_node(draft, key="invoice", kind="task", name="开具首期发票", owner_role="财务专员",
                                owner_user_id=ctx.users["fin3"].id, department_id=ctx.departments["finance"].id,
                                data_items="发票号\n开票金额", time_limit="3个工作日")
    kickoff = services.add_node(draft, key="kickoff", kind="task", name="交付启动会", owner_role="销售代表",
                                department_id=ctx.departments["sales-1"].id, data_items="会议纪要\n实施负责人",
                                time_limit="5个工作日")
    join = services.add_node(draft, key="both_done", kind="parallel", name="全部完成",
                             department_id=ctx.departments["sales-1"].id)
    for source, target in ((nodes["sign"], split), (split, invoice), (split, kickoff), (invoice, join),
                           (kickoff, join), (join, won)):
        services.add_edge(draft, source_id=source.id, target_id=target.id)
    services.set_raci(invoice, "财务专员", "R")
    services.set_raci(kickoff, "销售代表", "R")
    services.set_raci(kickoff, "销售经理", "A")


def load(ctx) -> None:
    """Two approved processes, each with its next version: the sales process's adds a finance review, the
    lead handoff's waits for review."""
    sales = _new_process(ctx, "销售机会跟进流程", "sales",
                         "从客户分配到签约成单的标准销售流程，含报价审批和客户流失两个异常分支。")
    first = sales.versions[0]
    first.summary = "首个版本：按销售部访谈整理。"
    build_version(first, ctx, SALES_NODES, SALES_EDGES, SALES_RACI)
    services.submit_for_review(first, ctx.users["lead"])
    services.approve_version(first, actor=ctx.users["sales.head"])

    draft = services.new_draft_version(sales, actor=ctx.users["lead"],
                                       summary="大额报价增加财务复核；报价审批改由销售总监负责；"
                                               "签约后开票与交付启动并行。")
    nodes = {node.key: node for node in draft.nodes}
    review = services.add_node(draft, key="finance_review", kind="task", name="大额报价财务复核",
                               owner_role="财务专员", owner_user_id=ctx.users["fin3"].id,
                               department_id=ctx.departments["finance"].id, data_items="毛利率\n付款条件",
                               time_limit="1个工作日", notes="报价金额超过 50 万元时由财务复核毛利和付款条件。")
    services.update_node(nodes["approve"], owner_role="销售总监", owner_user_id=ctx.users["sales.head"].id,
                         department_id=ctx.departments["sales"].id)
    to_sign = next(e for e in draft.edges if e.source_id == nodes["approve"].id and e.target_id == nodes["sign"].id)
    services.update_edge(to_sign, source_id=nodes["approve"].id, target_id=review.id, label="审批通过")
    services.add_edge(draft, source_id=review.id, target_id=nodes["sign"].id, label="复核通过")
    services.add_edge(draft, source_id=review.id, target_id=nodes["quote"].id, label="复核不通过", is_exception=True)
    services.set_raci(review, "财务专员", "R")
    services.set_raci(review, "财务经理", "A")
    _add_parallel_invoicing(draft, ctx, nodes)
    services.submit_for_review(draft, ctx.users["lead"])

    handoff = _new_process(ctx, "市场线索移交销售流程", "marketing",
                           "市场部收集、评分线索，合格线索移交销售部跟进；不合格或被退回的线索进入培育。",
                           lane_by=LANE_BY_DEPARTMENT)
    version = handoff.versions[0]
    version.summary = "市场部与销售部共同确认。"
    build_version(version, ctx, LEAD_NODES, LEAD_EDGES, LEAD_RACI)
    services.submit_for_review(version, ctx.users["mkt1"])
    services.approve_version(version, actor=ctx.users["mkt.head"])
    # Its next version, written by the head of 市场部, waits for a project lead's review.
    next_version = services.new_draft_version(handoff, actor=ctx.users["mkt.head"],
                                              summary="合格线索须在评分后 1 个工作日内分配给销售。")
    services.update_node(next((n for n in next_version.nodes if n.key == "score")), time_limit="1个工作日")
    services.submit_for_review(next_version, ctx.users["mkt.head"])
