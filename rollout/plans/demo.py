"""Demo data: a quarter of sales activity for the two sales teams.

Some reps are ahead of plan and some behind, some quotes were rejected, some
customers were lost, and two marketing campaigns brought leads. Rows are
inserted in bulk (one statement per table) so the demo loads in seconds.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import insert, select, update

from rollout.cleaning import company_key, phone_key
from rollout.extensions import db
from rollout.plans import services
from rollout.plans.models import (Activity, Campaign, Contact, Customer, CustomerAssignment, CustomerField, Lead,
                                  LostReason, Opportunity, PlanRevision, PlanTarget, Quote, QuoteApprovalRule, QuoteApprovalStep,
                                  SalesPlan, SalesSetting, StageChange)
from rollout.timeutil import local_to_utc, utcnow

CITIES = ["上海", "苏州", "杭州", "宁波", "无锡", "南京", "常州", "嘉兴", "合肥", "绍兴", "南通", "温州"]
BRANDS = ["恒达", "华瑞", "鼎盛", "新创", "联科", "博远", "金泰", "东方", "明远", "宏图", "天成", "中科", "嘉和",
          "正泰", "永信", "德邦", "卓越", "凯旋", "精工", "海川", "瑞丰", "安捷", "云帆", "汇通", "启明", "盛世",
          "立信", "众合", "佳能达", "万丰"]
TRADES = [("精密机械", "机械制造"), ("电子科技", "电子"), ("新材料", "化工材料"), ("汽车零部件", "汽车"),
          ("医疗器械", "医疗"), ("食品", "食品饮料"), ("物流", "物流"), ("包装材料", "包装"), ("智能装备", "机械制造"),
          ("纺织", "纺织"), ("环保科技", "环保"), ("家居", "家居建材")]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "军", "涛", "超", "明", "霞", "平", "刚", "桂英",
         "建华", "志强", "海燕", "晓东", "春梅", "国强", "文博"]
TITLES = ["采购经理", "总经理", "生产总监", "IT主管", "财务总监", "设备科长", "运营副总"]
PRODUCTS = ["MES生产执行系统", "WMS仓储管理", "设备联网平台", "质量追溯系统", "能耗管理系统", "CRM实施服务",
            "ERP集成项目", "数据中台"]
OUTCOMES = {
    "visit": ["拜访了采购和生产负责人，介绍了方案，对方对设备联网很感兴趣", "现场调研产线，确认了需求范围",
              "客户带我们参观了新厂房，预计明年扩产", "与总经理面谈，对价格比较敏感"],
    "call": ["电话沟通了报价细节", "确认了下周的拜访时间", "客户表示预算要到下个月才定", "跟进了试用反馈，总体满意"],
    "meeting": ["线上演示了系统，IT和生产都参加了", "召开方案评审会，需要补充接口说明", "与客户高层开会，推进签约"],
    "message": ["微信发送了案例资料", "邮件发送了报价单", "发送了合同草稿，等待法务意见"],
}
NEXT_STEPS = ["发送正式报价", "安排技术交流", "约总经理面谈", "提交方案书", "跟进合同审批", "邀请参观样板客户"]

# username → how the quarter goes for them (share of the signed-amount target reached so far).
PERFORMANCE = {"rep": 1.25, "rep2": 0.7, "rep3": 1.15, "rep4": 0.3, "rep5": 0.55, "rep6": 0.62, "rep13": 0.25,
               "team1.head": 0.6, "rep7": 1.3, "rep8": 0.65, "rep9": 0.4, "rep10": 0.2, "rep11": 1.1,
               "rep12": 0.58, "rep14": 0.45, "team2.head": 0.7}


def _insert(model, rows: list[dict], *keys: str) -> list[int]:
    """Insert rows in one executemany; return their ids in order, found again by ``keys`` (unique in the demo).

    (RETURNING with a guaranteed order would make SQLite insert row by row.)
    """
    if not rows:
        return []
    table = model.__table__
    db.session.execute(insert(table), rows)
    columns = [table.c[key] for key in keys]
    wanted = {tuple(row[key] for key in keys) for row in rows}
    found = {}
    for values in db.session.execute(select(table.c.id, *columns).where(columns[0].in_({w[0] for w in wanted}))):
        if tuple(values[1:]) in wanted:
            found[tuple(values[1:])] = values[0]
    return [found[tuple(row[key] for key in keys)] for row in rows]


def _insert_only(model, rows: list[dict]) -> None:
    """Insert rows in one executemany when their ids are not needed (the fastest path)."""
    if rows:
        db.session.execute(insert(model.__table__), rows)


def _at(day: date, rng: random.Random) -> datetime:
    return local_to_utc(datetime.combine(day, time(rng.randint(9, 17), rng.choice([0, 10, 20, 30, 40, 50]))))


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('35789')}{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def load(ctx) -> None:
    rng = random.Random(20261127)
    today, users, departments = ctx.today, ctx.users, ctx.departments
    admin = users["admin"]
    user_by_id = {user.id: user for user in users.values()}
    now = utcnow()
    start = today - timedelta(days=90)
    quarter_start, quarter_end = services.period_bounds("quarter", today)

    # --- configuration an admin would set up ---------------------------------------
    reasons = {}
    for position, (name, churn) in enumerate([("价格太高", False), ("选择了竞争对手", False), ("项目预算取消", False),
                                              ("需求变化", False), ("客户流失（停止合作）", True), ("长期联系不上", False)]):
        reasons[name] = LostReason(name=name, is_churn=churn, position=position)
    db.session.add_all(reasons.values())
    db.session.add_all([
        CustomerField(key="company_size", label="企业规模", kind="choice",
                      choices=["50人以下", "50-200人", "200-1000人", "1000人以上"], is_listed=True, position=1),
        CustomerField(key="customer_level", label="客户等级", kind="choice", choices=["A", "B", "C"], is_listed=True,
                      position=2),
        CustomerField(key="erp_system", label="现用ERP", kind="text", position=3),
        CustomerField(key="focus", label="关注点", kind="multi_choice", choices=["价格", "交付周期", "售后服务", "数据安全"],
                      position=4),
    ])
    db.session.add_all([
        QuoteApprovalRule(name="折扣超过10%：部门负责人审批", min_discount_percent=Decimal("10"), position=1),
        QuoteApprovalRule(name="折扣超过20%：财务部审批", min_discount_percent=Decimal("20"),
                          approver_department_code="finance", position=2),
    ])
    db.session.add_all([
        SalesSetting(department_id=departments["sales"].id, pool_release_days=30, daily_claim_cap=5,
                     behind_margin_percent=10),
        SalesSetting(department_id=departments["sales-2"].id, pool_release_days=21, daily_claim_cap=3,
                     behind_margin_percent=10),
    ])
    db.session.flush()

    # --- campaigns ---------------------------------------------------------------------------
    expo = Campaign(name="2026秋季工业自动化展", channel="展会", starts_on=today - timedelta(days=75),
                    ends_on=today - timedelta(days=73), budget=Decimal("180000.00"),
                    department_id=departments["marketing"].id, owner_id=users["mkt1"].id,
                    description="上海新国际博览中心 E3 馆展位，现场演示设备联网方案。")
    webinar = Campaign(name="制造业数字化转型线上研讨会", channel="线上直播", starts_on=today - timedelta(days=40),
                       ends_on=today - timedelta(days=40), budget=Decimal("45000.00"),
                       department_id=departments["marketing"].id, owner_id=users["mkt2"].id,
                       description="两小时直播，邀请样板客户分享 MES 上线经验。")
    db.session.add_all([expo, webinar])
    db.session.flush()

    # --- customers ----------------------------------------------------------------------------
    reps = [users[name] for name in PERFORMANCE]
    names_used: set[str] = set()
    # What the absent reps did stops the day their team went live.
    absent_ids = {users[name].id for name in ctx.absent_reps}
    went_live_at = local_to_utc(datetime.combine(ctx.pilot_go_live_on, time(0)))

    def company_name() -> tuple[str, str]:
        while True:
            product, industry = rng.choice(TRADES)
            name = f"{rng.choice(CITIES)}{rng.choice(BRANDS)}{product}有限公司"
            if company_key(name) not in names_used:
                names_used.add(company_key(name))
                return name, industry

    customer_rows, owners = [], []
    for rep in reps:
        for _ in range(rng.randint(12, 16)):
            name, industry = company_name()
            is_new = rng.random() < 0.25 + 0.35 * PERFORMANCE[rep.username]
            created = _at(start + timedelta(days=rng.randint(0, 85)) if is_new
                          else start - timedelta(days=rng.randint(0, 200)), rng)
            if rep.id in absent_ids:
                created = min(created, went_live_at - timedelta(days=1))
            phone = _phone(rng)
            campaign = expo if rng.random() < 0.08 else (webinar if rng.random() < 0.06 else None)
            customer_rows.append({
                "name": name, "name_key": company_key(name), "phone": phone, "phone_key": phone_key(phone),
                "industry": industry, "city": name[:2], "source": "campaign" if campaign else rng.choice(
                    ["转介绍", "陌拜", "官网", "老客户"]),
                "owner_id": rep.id, "department_id": rep.department_id,
                "campaign_id": campaign.id if campaign else None,
                "extra": {"company_size": rng.choice(["50人以下", "50-200人", "200-1000人", "1000人以上"]),
                          "customer_level": rng.choice("AABBBC"),
                          **({"erp_system": rng.choice(["用友U8", "金蝶K3", "SAP B1", "鼎捷"])}
                             if rng.random() < 0.5 else {})},
                "is_in_pool": False, "is_lost": False, "created_by_id": rep.id, "created_at": created,
                "last_followup_at": created,
            })
            owners.append(rep)
    pool_rows = []
    for _ in range(18):
        name, industry = company_name()
        phone = _phone(rng)
        dept = departments[rng.choice(["sales-1", "sales-2"])]
        created = _at(start - timedelta(days=rng.randint(60, 300)), rng)
        last = _at(today - timedelta(days=rng.randint(35, 80)), rng)
        pool_rows.append({
            "name": name, "name_key": company_key(name), "phone": phone, "phone_key": phone_key(phone),
            "industry": industry, "city": name[:2], "source": "陌拜", "owner_id": None,
            "department_id": dept.id, "campaign_id": None, "extra": {"customer_level": "C"}, "is_in_pool": True,
            "pool_entered_at": last + timedelta(days=30), "is_lost": False, "created_by_id": admin.id,
            "created_at": created, "last_followup_at": last,
        })
    customer_ids = _insert(Customer, customer_rows, "name_key")
    _insert_only(Customer, pool_rows)
    customers = list(zip(customer_ids, customer_rows, owners))
    _insert_only(CustomerAssignment, [{"customer_id": cid, "kind": "create", "to_user_id": row["owner_id"],
                                  "created_at": row["created_at"]} for cid, row, _o in customers])
    _insert_only(Contact, [{"customer_id": cid, "name": _person(rng), "title": rng.choice(TITLES),
                       "phone": (p := _phone(rng)), "phone_key": phone_key(p), "is_primary": True,
                       "created_at": row["created_at"]} for cid, row, _o in customers])

    # --- follow-ups -----------------------------------------------------------------------------
    activity_rows = []
    last_followup: dict[int, datetime] = {}
    by_rep: dict[int, list] = {}
    for cid, row, rep in customers:
        by_rep.setdefault(rep.id, []).append((cid, row))
    for rep in reps:
        factor = PERFORMANCE[rep.username]
        mine = by_rep[rep.id]
        for _ in range(int(10 + 80 * factor)):
            cid, row = rng.choice(mine)
            day = start + timedelta(days=rng.randint(0, 89))
            if day.weekday() >= 5:
                day -= timedelta(days=2)
            occurred = _at(day, rng)
            if occurred < row["created_at"]:
                continue  # the customer did not exist yet
            if rep.id in absent_ids and occurred >= went_live_at - timedelta(days=1):
                continue
            kind = rng.choices(["visit", "call", "meeting", "message"], weights=[4, 5, 1, 2])[0]
            activity_rows.append({
                "kind": kind, "user_id": rep.id, "department_id": rep.department_id, "customer_id": cid,
                "occurred_at": occurred, "created_at": occurred + timedelta(minutes=rng.randint(5, 600)),
                "outcome": rng.choice(OUTCOMES[kind]), "next_step": None, "next_step_on": None,
                "is_next_step_done": False,
            })
            last_followup[cid] = max(last_followup.get(cid, occurred), occurred)
        # Each rep's latest follow-ups carry next steps: some already overdue.
        for cid, row in mine[:4] if rep.id not in absent_ids else []:
            occurred = _at(today - timedelta(days=rng.randint(3, 12)), rng)
            due = today + timedelta(days=rng.randint(-6, 8))
            activity_rows.append({
                "kind": "call", "user_id": rep.id, "department_id": rep.department_id, "customer_id": cid,
                "occurred_at": occurred, "created_at": occurred + timedelta(minutes=20),
                "outcome": rng.choice(OUTCOMES["call"]), "next_step": rng.choice(NEXT_STEPS), "next_step_on": due,
                "is_next_step_done": False,
            })
            last_followup[cid] = max(last_followup.get(cid, occurred), occurred)
    _insert_only(Activity, activity_rows)
    for cid, row, _rep in customers:
        row["last_followup_at"] = last_followup.get(cid, row["created_at"])
    db.session.execute(
        Customer.__table__.update().where(Customer.__table__.c.id == db.bindparam("cid"))
        .values(last_followup_at=db.bindparam("lf")),
        [{"cid": cid, "lf": row["last_followup_at"]} for cid, row, _r in customers])

    # --- plans: the current quarter approved for everyone ------------------------------------------------
    rep_target = Decimal("600000.00")
    plan_rows, target_sets = [], []

    def plan(level, department_id=None, user_id=None, targets=None, status="approved", creator=None):
        plan_rows.append({"period_kind": "quarter", "starts_on": quarter_start, "ends_on": quarter_end,
                          "level": level, "department_id": department_id, "user_id": user_id, "status": status,
                          "note": "", "created_by_id": (creator or users["sales.head"]).id,
                          "created_at": local_to_utc(datetime.combine(quarter_start - timedelta(days=10), time(10))),
                          "submitted_at": local_to_utc(datetime.combine(quarter_start - timedelta(days=8), time(10))),
                          "approved_by_id": users["lead"].id if status == "approved" else None,
                          "approved_at": local_to_utc(datetime.combine(quarter_start - timedelta(days=5), time(15)))
                          if status == "approved" else None})
        target_sets.append(targets)

    rep_targets = {"signed_amount": rep_target, "new_customers": Decimal(5), "visits": Decimal(20),
                   "quotes": Decimal(3), "won_deals": Decimal(3)}
    team_totals = {}
    for team in ("sales-1", "sales-2"):
        members = [r for r in reps if r.department_id == departments[team].id]
        team_totals[team] = {m: v * len(members) for m, v in rep_targets.items()}
        for rep in members:
            plan("rep", rep.department_id, rep.id, rep_targets, creator=users[f"team{team[-1]}.head"])
    # Team one's own target was set before two reps joined: the roll-up warning shows the gap.
    team1 = dict(team_totals["sales-1"], signed_amount=team_totals["sales-1"]["signed_amount"] - 2 * rep_target)
    plan("team", departments["sales-1"].id, targets=team1)
    plan("team", departments["sales-2"].id, targets=team_totals["sales-2"])
    department_total = {m: team1[m] + team_totals["sales-2"][m] for m in rep_targets}
    plan("department", departments["sales"].id, targets=department_total)
    plan("company", departments["company"].id, targets={"signed_amount": department_total["signed_amount"],
                                                       "new_customers": department_total["new_customers"]},
         creator=users["lead"])
    plan_ids = _insert(SalesPlan, plan_rows, "starts_on", "level", "department_id", "user_id")
    _insert_only(PlanTarget, [{"plan_id": pid, "metric": metric, "target": value}
                         for pid, targets in zip(plan_ids, target_sets) for metric, value in targets.items()])
    # One rep's approved target was raised later, with the reason on record.
    rep7_plan = plan_ids[[row["user_id"] for row in plan_rows].index(users["rep7"].id)]
    _insert_only(PlanRevision, [{
        "plan_id": rep7_plan, "user_id": users["team2.head"].id, "reason": "客户追加二期订单，上调本季度签约目标",
        "changes": {"signed_amount": ["500000.00", "600000.00"]},
        "created_at": local_to_utc(datetime.combine(quarter_start + timedelta(days=20), time(11)))}])
    # Next quarter's department plan waits for the project lead's approval.
    next_start = quarter_end + timedelta(days=1)
    next_end = services.period_bounds("quarter", next_start)[1]
    next_row = {"period_kind": "quarter", "starts_on": next_start, "ends_on": next_end, "level": "department",
                "department_id": departments["sales"].id, "user_id": None, "status": "submitted",
                "note": "明年一季度重点突破汽车零部件行业。", "created_by_id": users["sales.head"].id, "created_at": now,
                "submitted_at": now}
    next_plan = _insert(SalesPlan, [next_row], "starts_on", "level", "department_id")
    _insert_only(PlanTarget, [{"plan_id": next_plan[0], "metric": m, "target": v} for m, v in
                         {"signed_amount": Decimal("9000000.00"), "new_customers": Decimal(90),
                          "visits": Decimal(420)}.items()])

    # --- deals, their stage history and quotes ---------------------------------------------------------
    opportunity_rows, opp_meta = [], []
    elapsed = (today - quarter_start).days
    for rep in reps:
        factor = PERFORMANCE[rep.username]
        mine = by_rep[rep.id]
        rng.shuffle(mine)
        # Won this quarter, adding up to roughly factor × elapsed share × target.
        goal = rep_target * Decimal(str(factor)) * Decimal(elapsed + 1) / Decimal((quarter_end - quarter_start).days + 1)
        won_total, index = Decimal(0), 0
        while won_total < goal and index < len(mine) - 6:
            cid, row = mine[index]
            amount = min(Decimal(rng.randrange(80000, 320000, 1000)), max(goal - won_total, Decimal("60000")))
            amount = amount.quantize(Decimal("1000"))
            closed = quarter_start + timedelta(days=rng.randint(0, max(elapsed - 1, 0)))
            if rep.id in absent_ids:
                closed = min(closed, ctx.pilot_go_live_on - timedelta(days=1))
            opportunity_rows.append(_deal(rep, cid, row, amount, "won", closed, rng))
            opp_meta.append(("won", closed, None))
            won_total += amount
            index += 1
        # Open pipeline, lost deals.
        for stage in ("lead", "visited", "quoted", "negotiating", "negotiating", "lost"):
            if index >= len(mine):
                break
            cid, row = mine[index]
            amount = Decimal(rng.randrange(60000, 600000, 5000))
            if stage == "lost":
                reason = rng.choice(list(reasons.values()))
                closed = quarter_start + timedelta(days=rng.randint(0, max(elapsed - 1, 0)))
                if rep.id in absent_ids:
                    closed = min(closed, ctx.pilot_go_live_on - timedelta(days=1))
                opportunity_rows.append(_deal(rep, cid, row, amount, "lost", closed, rng, reason.id))
                opp_meta.append(("lost", closed, reason))
            else:
                opportunity_rows.append(_deal(rep, cid, row, amount, stage, None, rng))
                opp_meta.append((stage, None, None))
            index += 1
    opp_ids = _insert(Opportunity, opportunity_rows, "customer_id", "name")
    lost_customers = [row["customer_id"] for row, (stage, _c, reason) in zip(opportunity_rows, opp_meta)
                      if stage == "lost" and reason.is_churn]
    if lost_customers:
        db.session.execute(Customer.__table__.update().where(Customer.__table__.c.id.in_(lost_customers))
                           .values(is_lost=True))
    path = ["lead", "visited", "quoted", "negotiating"]
    change_rows = []
    for oid, row, (stage, closed, _reason) in zip(opp_ids, opportunity_rows, opp_meta):
        steps = path[: path.index(stage) + 1] if stage in path else path[: rng.randint(2, 4)] + [stage]
        moment = row["created_at"]
        previous = None
        for to_stage in steps:
            change_rows.append({"opportunity_id": oid, "from_stage": previous, "to_stage": to_stage,
                                "user_id": row["owner_id"], "changed_at": moment,
                                "note": "客户确认签约" if to_stage == "won" else None})
            previous = to_stage
            moment = moment + timedelta(days=rng.randint(3, 12))
            if closed:
                moment = min(moment, _at(closed, rng))
    _insert_only(StageChange, change_rows)

    # Quotes: most approved, some waiting for the head or finance, some rejected and sent back.
    quote_rows, quote_plan = [], []
    for oid, row, (stage, closed, _r) in zip(opp_ids, opportunity_rows, opp_meta):
        if stage not in ("quoted", "negotiating", "won"):
            continue
        discount = Decimal(rng.choice(["0", "5", "8", "12", "15", "18", "22", "25"]))
        list_amount = (row["amount"] / (1 - discount / 100) / 1000).quantize(Decimal("1")) * 1000
        outcome = "approved" if stage == "won" else rng.choices(["approved", "pending", "rejected", "draft"],
                                                                weights=[4, 3, 2, 1])[0]
        submitted = row["created_at"] + timedelta(days=rng.randint(5, 15))
        submitted = min(submitted, now - timedelta(days=1))
        rep = user_by_id[row["owner_id"]]
        if rep.id in absent_ids:
            submitted = max(min(submitted, went_live_at - timedelta(days=1)), row["created_at"] + timedelta(hours=4))
        quote_rows.append({
            "title": f"{row['name']} 报价", "customer_id": row["customer_id"], "opportunity_id": oid,
            "owner_id": rep.id, "department_id": rep.department_id, "list_amount": list_amount,
            "discount_percent": discount, "amount": services.net_amount(list_amount, discount),
            "valid_until": today + timedelta(days=30), "note": "含实施与一年运维服务。",
            "status": outcome, "revision": 1, "submitted_at": None if outcome == "draft" else submitted,
            "decided_at": submitted + timedelta(days=1) if outcome in ("approved", "rejected") else None,
            "rejection_reason": "折扣超出本季度政策，请控制在15%以内后重新提交" if outcome == "rejected" else None,
            "created_at": submitted - timedelta(hours=3),
        })
        quote_plan.append((discount, outcome, submitted))
    quote_ids = _insert(Quote, quote_rows, "opportunity_id")
    step_rows = []
    for qid, row, (discount, outcome, submitted) in zip(quote_ids, quote_rows, quote_plan):
        if outcome == "draft":
            continue
        needed = [rule for rule in (("折扣超过10%：部门负责人审批", None, Decimal(10)),
                                    ("折扣超过20%：财务部审批", "finance", Decimal(20))) if discount > rule[2]]
        for position, (rule_name, code, _threshold) in enumerate(needed, start=1):
            last = position == len(needed)
            if outcome == "approved" or (outcome == "pending" and not last) or (outcome == "rejected" and not last):
                status, decider = "approved", (users["sales.head"] if code is None else users["fin.head"])
            elif outcome == "pending":
                status, decider = "pending", None
            else:
                status, decider = "rejected", (users["sales.head"] if code is None else users["fin.head"])
            step_rows.append({
                "quote_id": qid, "revision": 1, "position": position, "rule_name": rule_name,
                "approver_department_code": code,
                "approver_department_id": None if code else row["department_id"], "status": status,
                "decided_by_id": decider.id if decider else None,
                "decided_at": submitted + timedelta(hours=5 * position) if decider else None,
                "comment": row["rejection_reason"] if status == "rejected" else ("同意" if decider else None),
            })
        if not needed and outcome in ("pending", "rejected"):
            # Without a triggered rule a quote is approved on submission.
            row["status"] = "approved"
            db.session.execute(Quote.__table__.update().where(Quote.__table__.c.id == qid).values(
                status="approved", rejection_reason=None, decided_at=submitted))
    _insert_only(QuoteApprovalStep, step_rows)

    # --- leads from the two campaigns --------------------------------------------------------------------
    lead_rows = []
    sales_reps = [r for r in reps if r.username.startswith("rep")]
    for campaign, count in ((expo, 22), (webinar, 14)):
        for i in range(count):
            name, _industry = company_name()
            owner = rng.choice(sales_reps)
            created = local_to_utc(datetime.combine(campaign.ends_on, time(18))) + timedelta(hours=i)
            status = rng.choices(["converted", "handed", "new", "rejected"], weights=[5, 3, 1, 1])[0]
            handed = created + timedelta(days=1)
            respond_by = handed + timedelta(days=3)
            if status == "handed":
                # Some recent hand-offs are still in time; older ones are overdue.
                handed = now - timedelta(days=rng.randint(0, 6))
                respond_by = handed + timedelta(days=3)
            phone = _phone(rng)
            lead_rows.append({
                "campaign_id": campaign.id, "company_name": name, "contact_name": _person(rng), "phone": phone,
                "email": None, "note": "展台扫码留资，关注设备联网" if campaign is expo else "直播间提问：如何与现有ERP集成",
                "status": status, "department_id": departments["marketing"].id, "created_by_id": campaign.owner_id,
                "created_at": created, "owner_id": None if status == "new" else owner.id,
                "handed_at": None if status == "new" else handed,
                "respond_by": None if status == "new" else respond_by,
                "responded_at": handed + timedelta(hours=rng.randint(2, 60)) if status in ("converted", "rejected")
                else None,
            })
    lead_ids = _insert(Lead, lead_rows, "company_name")
    # Converted leads became customers with a deal carrying the campaign.
    converted = [(lid, row) for lid, row in zip(lead_ids, lead_rows) if row["status"] == "converted"]
    new_customers = [{
        "name": row["company_name"], "name_key": company_key(row["company_name"]), "phone": row["phone"],
        "phone_key": phone_key(row["phone"]), "source": "campaign", "owner_id": row["owner_id"],
        "department_id": user_by_id[row["owner_id"]].department_id, "campaign_id": row["campaign_id"],
        "extra": {}, "is_in_pool": False, "is_lost": False, "created_by_id": row["owner_id"],
        "created_at": row["responded_at"], "last_followup_at": row["responded_at"],
    } for _lid, row in converted]
    new_ids = _insert(Customer, new_customers, "name_key")
    lead_deals = []
    for cid, (_lid, row) in zip(new_ids, converted):
        owner = user_by_id[row["owner_id"]]
        won = rng.random() < 0.3 and row["responded_at"].date() >= quarter_start
        amount = Decimal(rng.randrange(30000, 120000, 5000))
        closed = min(row["responded_at"].date() + timedelta(days=rng.randint(10, 30)), today - timedelta(days=1))
        lead_deals.append({
            "name": f"{row['company_name'][:-4]} 数字化项目", "customer_id": cid, "owner_id": owner.id,
            "department_id": owner.department_id, "campaign_id": row["campaign_id"], "amount": amount,
            "stage": "won" if won and closed >= quarter_start else rng.choice(["lead", "visited", "quoted"]),
            "stage_changed_at": row["responded_at"], "expected_close_on": quarter_end - timedelta(days=rng.randint(0, 30)),
            "closed_on": closed if won and closed >= quarter_start else None, "created_at": row["responded_at"],
        })
    lead_deal_ids = _insert(Opportunity, lead_deals, "customer_id", "name")
    _insert_only(StageChange, [{"opportunity_id": oid, "from_stage": None, "to_stage": row["stage"],
                           "user_id": row["owner_id"], "changed_at": row["created_at"]}
                          for oid, row in zip(lead_deal_ids, lead_deals)])
    db.session.execute(Lead.__table__.update().where(Lead.__table__.c.id == db.bindparam("lid")).values(
        customer_id=db.bindparam("cid"), opportunity_id=db.bindparam("oid")),
        [{"lid": lid, "cid": cid, "oid": oid} for (lid, _row), cid, oid in zip(converted, new_ids, lead_deal_ids)])
    db.session.flush()
    _reminders(users, webinar, now)


def _reminders(users, campaign, now: datetime) -> None:
    """张伟's hand-offs near and past their deadline and his customers close to the pool, and the
    reminders the hourly and daily jobs send about them (and about the other demo leads)."""
    from rollout.audit.services import acting_as
    from rollout.plans import reminders
    rep, marketer = users["rep"], users["mkt2"]
    for name, handed_hours_ago, given_hours in (("杭州青松智能装备有限公司", 50, 60),
                                                ("苏州远航电子科技有限公司", 30, 24)):
        with acting_as(marketer):
            lead = services.create_lead(marketer, name, campaign.id, "周经理", note="直播间提问：设备数据如何接入MES")
            # Handed over in the past, as services.hand_lead would have done then (it takes only future deadlines).
            lead.owner_id, lead.status = rep.id, "handed"
            lead.handed_at = now - timedelta(hours=handed_hours_ago)
            lead.respond_by = lead.handed_at + timedelta(hours=given_hours)
            db.session.flush()  # the trail names the marketer as who handed it over
    # Customers he added four weeks ago and has not followed up since: the sales department's 30 days
    # run out within three days. A third has ten days left.
    for name, idle in (("常州青松精密机械有限公司", timedelta(days=28, hours=2)),
                       ("无锡远航物流有限公司", timedelta(days=27, hours=20)),
                       ("南通青禾食品有限公司", timedelta(days=20))):
        services.create_customer(name, rep, source="陌拜", industry="制造业", created_at=now - idle)
    # One he returned to the pool two days ago: the pool page says when he may claim it back.
    returned = services.create_customer("嘉兴青山纺织有限公司", rep, source="展会", industry="纺织",
                                        created_at=now - timedelta(days=40))
    with acting_as(rep):
        services.release_to_pool(returned, "客户暂无采购计划，明年再联系")
    db.session.flush()
    returned.pool_entered_at = now - timedelta(days=2)
    db.session.execute(update(CustomerAssignment).where(CustomerAssignment.customer_id == returned.id,
                                                         CustomerAssignment.kind == "release")
                       .values(created_at=now - timedelta(days=2)))
    db.session.flush()
    reminders.remind_leads()
    reminders.warn_pool()


def _deal(rep, customer_id, customer_row, amount, stage, closed, rng, reason_id=None) -> dict:
    created = max(customer_row["created_at"], _at((closed or date.today()) - timedelta(days=rng.randint(20, 70)), rng))
    if closed and created.date() >= closed:
        created = _at(closed - timedelta(days=3), rng)
    expected = None if stage in ("won", "lost") else (closed or date.today()) + timedelta(days=rng.randint(5, 60))
    return {
        "name": f"{customer_row['name'][:-4]} {rng.choice(PRODUCTS)}", "customer_id": customer_id,
        "owner_id": rep.id, "department_id": rep.department_id, "campaign_id": customer_row["campaign_id"],
        "amount": amount, "stage": stage, "stage_changed_at": _at(closed, rng) if closed else created,
        "expected_close_on": expected, "closed_on": closed, "lost_reason_id": reason_id,
        "lost_note": rng.choice(["客户选择了报价更低的本地厂商", "预算被冻结到明年", "客户决定暂停合作，转向自研",
                                 "对方负责人离职，项目搁置"]) if reason_id and stage == "lost" else None,
        "created_at": created,
    }
