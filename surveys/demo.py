"""Demo data: a completed requirements survey, three interviews, a requirements backlog, a monthly
pulse survey, a go-live readiness survey still open, which rep and rep2 have yet to answer, and 销售部's
training-times survey closing in 3 days, whose automatic reminder has gone to them.
客服部 (service) is deliberately not heard yet."""
from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import datetime, time, timedelta

from sqlalchemy import func, insert, select, update

from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.notify.models import Notification, OutboxMessage
from rollout.timeutil import local_to_utc
from surveys import services
from surveys.models import (CLOSED, DECIMAL, LIKERT, LONG_TEXT, MULTIPLE, OPEN, RANKING, RATING5, RATING10, SINGLE,
                            TEXT, Question, SurveyAnswer, SurveyInvitation, SurveyResponse)
from surveys.services import OptionSpec, add_months

HEARD_DEPARTMENTS = ("sales", "marketing", "finance", "it")

PAIN_POINTS = {
    "sales": ["客户信息散落在各人的Excel和微信里，交接时经常丢客户。", "每周五要手工汇总周报，至少花两个小时。",
              "报价审批要找领导签字，出差时很耽误事。", "看不到团队整体的销售漏斗，只能问组长。",
              "拜访记录写在本子上，月底再补录，很多细节都忘了。", "同一个客户被两个组同时跟进，撞单时有发生。"],
    "marketing": ["市场活动带来的线索转给销售后就没有反馈了。", "不知道哪个渠道的线索转化率最高。",
                  "展会名片录入要好几天，线索都凉了。"],
    "finance": ["回款计划和销售预测对不上，月底对账很痛苦。", "合同金额改了，财务这边不知道。",
                "开票信息经常填错，要来回确认。"],
    "it": ["现在有五套系统，账号各管各的，离职时权限收不干净。", "旧CRM的数据质量很差，重复客户很多。",
           "各部门都来要报表，需求口径不一致。"],
}
MOBILE_NEEDS = ["现场查客户历史订单", "拍照上传拜访记录", "随时查看报价审批进度", "导航到客户地址并签到"]
#: The five-point agreement scale of the Likert questions.
AGREEMENT = [OptionSpec(str(n), label, label_en=en) for n, label, en in (
    (1, "非常不同意", "Strongly disagree"), (2, "不同意", "Disagree"), (3, "一般", "Neutral"),
    (4, "同意", "Agree"), (5, "非常同意", "Strongly agree"))]
#: Accounts a visitor is pointed to (README, `rollout init`): they keep an open survey to answer.
TRY_IT_ACCOUNTS = ("rep", "rep2")
#: Answers to the readiness survey's last question, which most leave empty.
WORRIES = ["", "", "上线当月业绩压力大，怕没时间录数据。", "旧 Excel 里的客户能不能全部导进去？", "手机端在客户现场信号不好时能不能用？",
           "培训时间和拜访客户冲突。"]


def _requirements_survey(ctx):
    lead = ctx.users["lead"]
    survey = services.create_survey(
        "CRM 上线需求调研", lead, description="请各部门同事花 10 分钟填写，帮助我们把新系统做成大家真正用得上的工具。",
        audience_departments=[ctx.departments[c] for c in ("sales", "marketing", "finance", "service", "it")],
        audience_roles=["head", "staff"], opens_on=ctx.today - timedelta(days=30),
        closes_on=ctx.today + timedelta(days=1))
    background = services.add_section(survey, "基本情况", "基本情况", "Background")
    needs = services.add_section(survey, "对新系统的期望", "对新系统的期望", "Expectations")
    services.save_question(
        survey, name="tools", type=MULTIPLE, label="您目前用哪些工具管理客户和销售计划？", label_en="Which tools do you use today?",
        section=background, is_required=True,
        options=[OptionSpec("excel", "Excel 表格", label_en="Excel"), OptionSpec("wechat", "微信群", label_en="WeChat"),
                 OptionSpec("paper", "纸质记录", label_en="Paper"), OptionSpec("old_crm", "旧 CRM 系统", label_en="Old CRM")])
    services.save_question(survey, name="satisfaction", type=RATING5, label="您对现在的工作方式满意吗？",
                           label_en="How satisfied are you with the current way of working?", section=background,
                           is_required=True, hint="1 = 很不满意，5 = 非常满意")
    services.save_question(survey, name="pain", type=LONG_TEXT, label="工作中最让您头疼的问题是什么？",
                           label_en="What is your biggest pain point?", section=background, is_required=True)
    services.save_question(
        survey, name="priorities", type=RANKING, label="请给以下功能排序（1 = 最重要）",
        label_en="Rank these features (1 = most important)", section=needs,
        options=[OptionSpec("customers", "客户管理", label_en="Customers"), OptionSpec("funnel", "销售漏斗", label_en="Funnel"),
                 OptionSpec("reports", "自动报表", label_en="Reports"), OptionSpec("mobile", "手机端", label_en="Mobile")])
    services.save_question(
        survey, name="statements", type=LIKERT, label="您在多大程度上同意以下说法？",
        label_en="How far do you agree?", section=needs, options=AGREEMENT,
        rows=[OptionSpec("mobile_visits", "我需要在手机上录入拜访记录", label_en="I need to log visits on my phone"),
              OptionSpec("weekly_report", "周报应该自动生成", label_en="Weekly reports should build themselves"),
              OptionSpec("ranking", "我希望看到团队业绩排名", label_en="I want to see the team ranking")])
    services.save_question(survey, name="travels", type=SINGLE, label="您经常外出拜访客户吗？",
                           label_en="Do you often visit customers?", section=needs, is_required=True,
                           options=[OptionSpec("yes", "经常", label_en="Often"), OptionSpec("no", "很少", label_en="Rarely")])
    services.save_question(survey, name="mobile_need", type=TEXT, label="外出时最需要手机上有什么功能？",
                           label_en="What do you need most on your phone when out?", section=needs,
                           conditions=[{"question": "travels", "op": "equals", "value": "yes"}])
    services.save_question(survey, name="report_hours", type=DECIMAL, label="您每周花在整理报表上的时间（小时）",
                           label_en="Hours per week spent on reports", section=needs)
    services.change_survey_status(survey, OPEN)
    services.invite(survey, services.audience_users(survey), send=False, today=survey.opens_on)
    return survey


def _answer_requirements_survey(ctx, survey, rng):
    invitations = db.session.scalars(select(SurveyInvitation).where(SurveyInvitation.survey_id == survey.id)
                                     .order_by(SurveyInvitation.id)).all()
    codes = {ctx.departments[c].id: c for c in HEARD_DEPARTMENTS}
    answered = {c: 0 for c in HEARD_DEPARTMENTS}
    for invitation in invitations:
        code = codes.get(invitation.department_id)
        if code is None:
            continue  # 客服部 has not answered yet: the coverage matrix shows the gap
        if invitation.role == "staff" and rng.random() < 0.2:
            continue  # a few people still have not answered
        travels = code == "sales" or rng.random() < 0.3
        order = ["customers", "funnel", "reports", "mobile"]
        rng.shuffle(order)
        raw = {"tools": rng.sample(["excel", "wechat", "paper", "old_crm"], k=rng.randint(1, 3)),
               "satisfaction": str(rng.choice([1, 2, 2, 3, 3, 4])),
               "pain": PAIN_POINTS[code][answered[code] % len(PAIN_POINTS[code])],
               "priorities": order,
               "statements": {"mobile_visits": str(rng.randint(3 if travels else 1, 5)),
                              "weekly_report": str(rng.randint(3, 5)), "ranking": str(rng.randint(1, 5))},
               "travels": "yes" if travels else "no",
               "mobile_need": rng.choice(MOBILE_NEEDS) if travels else "",
               "report_hours": str(rng.choice([1, 1.5, 2, 3, 4, 6]))}
        response = services.submit_response(invitation, raw)
        answered[code] += 1
        _backdate(response, survey.opens_on + timedelta(days=rng.randint(1, 20)))
    survey.closes_on = ctx.today - timedelta(days=3)
    services.change_survey_status(survey, CLOSED)


def _backdate(response, day) -> None:
    """Date a demo answer on ``day`` instead of the day the demo is loaded."""
    response.submitted_on = day
    if response.submitted_at is not None:
        response.submitted_at = response.submitted_at.replace(year=day.year, month=day.month, day=day.day)


def _readiness_survey(ctx, rng):
    """Open for ten more days: the staff of the heard departments are invited and about half have
    answered, but not TRY_IT_ACCOUNTS, so whoever tries the demo has a survey to answer. 客服部 is left
    out: the coverage page can invite its people to this survey in one step."""
    survey = services.create_survey(
        "上线准备与培训需求调研", ctx.users["lead"],
        description="新系统即将分部门上线。请花 3 分钟告诉我们您的准备情况和培训需求，我们会据此安排培训和种子用户支持。",
        audience_departments=[ctx.departments[c] for c in HEARD_DEPARTMENTS], audience_roles=["staff"],
        opens_on=ctx.today - timedelta(days=5), closes_on=ctx.today + timedelta(days=10))
    services.save_question(survey, name="trained", type=SINGLE, label="您参加过新系统的培训吗？",
                           label_en="Have you attended training on the new system?", is_required=True,
                           options=[OptionSpec("done", "已参加", label_en="Attended"),
                                    OptionSpec("signed_up", "已报名，还没参加", label_en="Signed up, not yet"),
                                    OptionSpec("no", "还没有", label_en="Not yet")])
    services.save_question(
        survey, name="readiness", type=LIKERT, label="您在多大程度上同意以下说法？", label_en="How far do you agree?",
        is_required=True, options=AGREEMENT,
        rows=[OptionSpec("daily_work", "我知道在新系统里怎么完成日常工作", label_en="I know how to do my daily work in the new system"),
              OptionSpec("who_helps", "遇到问题时我知道该找谁（种子用户或项目组）", label_en="I know whom to ask when I am stuck"),
              OptionSpec("data_checked", "我的客户数据已经核对过", label_en="My customer data has been checked")])
    services.save_question(
        survey, name="formats", type=MULTIPLE, label="您希望用哪些方式学习？", label_en="How would you like to learn?",
        options=[OptionSpec("classroom", "现场培训", label_en="Classroom"), OptionSpec("live", "线上直播", label_en="Live online"),
                 OptionSpec("video", "录屏视频", label_en="Recorded videos"),
                 OptionSpec("buddy", "种子用户一对一", label_en="One-to-one with a seed user")])
    services.save_question(survey, name="confidence", type=RATING5, label="您对按时上线有多大信心？",
                           label_en="How confident are you about going live on time?", is_required=True,
                           hint="1 = 没有信心，5 = 很有信心")
    services.save_question(survey, name="worries", type=LONG_TEXT, label="上线前您最担心什么？",
                           label_en="What worries you most before going live?")
    services.change_survey_status(survey, OPEN)
    invitations = _invite_on(survey, survey.opens_on)
    keep_open = {ctx.users[name].id for name in TRY_IT_ACCOUNTS}
    for invitation in invitations:
        if invitation.user_id in keep_open or rng.random() < 0.5:
            continue
        trained = rng.choice(["done", "done", "signed_up", "no"])
        response = services.submit_response(invitation, {
            "trained": trained,
            "readiness": {"daily_work": str(rng.randint(3, 5) if trained == "done" else rng.randint(1, 3)),
                          "who_helps": str(rng.randint(2, 5)), "data_checked": str(rng.randint(1, 4))},
            "formats": rng.sample(["classroom", "live", "video", "buddy"], k=rng.randint(1, 2)),
            "confidence": str(rng.choice([2, 3, 3, 4, 4, 5])), "worries": rng.choice(WORRIES)})
        day = min(survey.opens_on + timedelta(days=rng.randint(0, 4)), ctx.today)
        _backdate(response, day)
        invitation.responded_on = day
    return survey


INTERVIEWS = [
    dict(title="销售部需求工作坊", method="workshop", department="sales", interviewee="王强、陈杰、林芳及 6 名销售代表",
         role=None, interviewer="lead", days_ago=20,
         notes="""## 参与者
销售部王强总监、两位组长和 6 名销售代表。

## 讨论记录
大家普遍反映，客户资料分散在个人 Excel 和微信里，**人员离职时客户就跟着流失**。
组长希望每周一早上能直接看到团队的销售漏斗，不用再逐个打电话问进度。
销售代表提出：报价审批经常要等两三天，领导出差时更慢，希望能在手机上审批。
有人提到同一个客户被两个组同时跟进的情况，每个季度都会发生几次。

## 下一步
项目组整理需求清单，两周后回访确认优先级。""",
         highlights=[("人员离职时客户就跟着流失", ["客户归属", "数据安全"]),
                     ("希望每周一早上能直接看到团队的销售漏斗", ["报表", "销售漏斗"]),
                     ("报价审批经常要等两三天，领导出差时更慢，希望能在手机上审批", ["审批", "移动端"]),
                     ("同一个客户被两个组同时跟进的情况", ["客户归属", "撞单"])]),
    dict(title="财务经理访谈：回款与开票", method="interview", department="finance", interviewee="郑华",
         interviewees=["fin.head"], role="head", interviewer="lead", days_ago=14,
         notes="""郑经理介绍了月底对账的流程。

目前销售的回款计划写在各自的表格里，财务要在月底逐个核对，**每月要多花三天时间**。
合同金额调整后，财务经常是在开票时才发现，需要重新走审批。
她希望新系统里合同、回款计划和开票信息能连在一起，任何金额变动都自动通知财务。""",
         highlights=[("每月要多花三天时间", ["回款", "效率"]),
                     ("合同金额调整后，财务经常是在开票时才发现", ["合同", "开票"]),
                     ("任何金额变动都自动通知财务", ["通知", "合同"])]),
    dict(title="IT 部小组访谈：账号与数据", method="interview", department="it", interviewee="曹阳、袁博、邓凯",
         interviewees=["it1", "it2", "it3"], role="staff", interviewer="lead2", days_ago=9,
         notes="""与 IT 部三位工程师一起回顾了一天的工单处理。

上午处理了 4 个账号开通和 2 个离职回收的工单，需要在五套系统里分别操作，耗时约 40 分钟。
下午帮市场部导出旧 CRM 数据时发现，同一家公司有 3 条重复记录，名称写法各不相同。
工程师建议：新系统上线前先做一次客户数据清洗，并统一账号管理。""",
         highlights=[("需要在五套系统里分别操作", ["账号", "权限"]),
                     ("同一家公司有 3 条重复记录，名称写法各不相同", ["数据质量", "客户归属"])]),
]

# (title, priority, department codes, roles, status, description)
REQUIREMENTS = [
    ("客户归属到人，离职一键交接", "must", ["sales"], ["head"], "accepted", "客户必须有明确的负责人；人员离职时由主管一键转交给其他人。"),
    ("团队销售漏斗看板", "must", ["sales"], ["head"], "accepted", "组长和总监每周一能看到本组/本部门漏斗各阶段金额和数量。"),
    ("手机端报价审批", "should", ["sales"], ["head", "staff"], "proposed", "审批人在手机上查看报价明细并审批。"),
    ("防撞单：同一客户只能一个组跟进", "must", ["sales"], ["staff"], "accepted", "新建客户时按名称和电话查重，已有负责人时提示。"),
    ("手机端录入拜访记录", "should", ["sales"], ["staff"], "accepted", "支持拍照、语音转文字和定位签到。"),
    ("周报自动生成", "should", ["sales", "marketing"], ["staff"], "proposed", "根据本周拜访、商机变化自动生成周报草稿。"),
    ("商机阶段可配置", "could", ["sales"], ["head"], "proposed", ""),
    ("销售业绩排名", "could", ["sales"], ["head"], "proposed", "按月展示团队成员业绩排名，可选择是否公开。"),
    ("报价模板与折扣审批规则", "should", ["sales", "finance"], ["head"], "proposed", "折扣超过 15% 需总监审批。"),
    ("客户拜访计划与提醒", "could", ["sales"], ["staff"], "proposed", ""),
    ("市场线索自动分配给销售", "must", ["marketing", "sales"], ["head"], "accepted", "按区域和行业规则分配，超 24 小时未跟进提醒。"),
    ("线索转化情况回传市场部", "should", ["marketing"], ["staff"], "proposed", "市场部能看到每条线索的跟进结果。"),
    ("渠道转化率报表", "should", ["marketing"], ["head"], "proposed", ""),
    ("展会名片批量导入", "could", ["marketing"], ["staff"], "implemented", "支持 Excel 导入并自动查重。"),
    ("市场活动预算与效果跟踪", "could", ["marketing"], ["head"], "proposed", ""),
    ("合同与回款计划关联", "must", ["finance", "sales"], ["head"], "accepted", "每份合同有回款计划，财务能看到预计回款。"),
    ("合同金额变动通知财务", "must", ["finance"], ["head"], "accepted", "合同金额或条款变动时自动通知财务经理。"),
    ("开票信息校验", "should", ["finance"], ["staff"], "proposed", "税号、开户行等必填并校验格式。"),
    ("月度回款预测报表", "should", ["finance"], ["head"], "proposed", ""),
    ("应收账款账龄提醒", "could", ["finance"], ["staff"], "proposed", ""),
    ("统一账号与单点登录", "must", ["it"], ["head"], "accepted", "与企业微信账号打通，离职时统一回收。"),
    ("上线前客户数据清洗", "must", ["it", "sales"], ["staff"], "accepted", "合并重复客户，统一公司名称写法。"),
    ("按部门的数据权限", "must", ["it"], ["head"], "accepted", "员工只能看到本部门客户，主管看本部门全部。"),
    ("操作审计日志", "should", ["it"], ["head"], "implemented", ""),
    ("旧 CRM 数据迁移", "must", ["it"], ["staff"], "accepted", ""),
    ("系统对接财务软件", "could", ["it", "finance"], ["staff"], "rejected", "本期不做，二期评估。"),
    ("报表口径统一", "should", ["it", "sales", "finance"], ["head"], "proposed", "各部门共用同一套指标定义。"),
    ("客户 360 视图", "should", ["sales", "service"], ["staff"], "proposed", "客户的订单、拜访、工单集中展示。"),
    ("手机端查看客户历史订单", "could", ["sales"], ["staff"], "proposed", ""),
    ("离职人员客户自动回收", "should", ["sales"], ["head"], "proposed", "与“客户归属到人”重复，待合并。"),
]


def _interviews(ctx):
    highlights = {}
    for spec in INTERVIEWS:
        interview = services.save_interview(
            None, title=spec["title"], interviewee=spec["interviewee"], department=ctx.departments[spec["department"]],
            method=spec["method"], held_on=ctx.today - timedelta(days=spec["days_ago"]),
            interviewer=ctx.users[spec["interviewer"]], notes_markdown=spec["notes"], role=spec["role"],
            interviewees=[ctx.users[name] for name in spec.get("interviewees", ())])
        for quote, tags in spec["highlights"]:
            highlights[quote] = services.add_highlight(interview, quote, tags)
    return highlights


def _requirements(ctx, highlights, survey):
    pain_answers = db.session.scalars(
        select(SurveyAnswer).join(SurveyResponse).where(SurveyResponse.survey_id == survey.id)
        .where(SurveyAnswer.question_id == next(q.id for q in survey.questions if q.name == "pain"))
        .order_by(SurveyAnswer.id)).all()
    evidence_by_title = {
        "客户归属到人，离职一键交接": [highlights["人员离职时客户就跟着流失"]],
        "团队销售漏斗看板": [highlights["希望每周一早上能直接看到团队的销售漏斗"]],
        "手机端报价审批": [highlights["报价审批经常要等两三天，领导出差时更慢，希望能在手机上审批"]],
        "防撞单：同一客户只能一个组跟进": [highlights["同一个客户被两个组同时跟进的情况"]],
        "合同与回款计划关联": [highlights["每月要多花三天时间"]],
        "合同金额变动通知财务": [highlights["合同金额调整后，财务经常是在开票时才发现"],
                         highlights["任何金额变动都自动通知财务"]],
        "统一账号与单点登录": [highlights["需要在五套系统里分别操作"]],
        "上线前客户数据清洗": [highlights["同一家公司有 3 条重复记录，名称写法各不相同"]],
    }
    answer_keywords = {"周报自动生成": "周报", "线索转化情况回传市场部": "线索", "报价模板与折扣审批规则": "报价",
                       "月度回款预测报表": "回款", "旧 CRM 数据迁移": "旧CRM", "手机端录入拜访记录": "拜访记录",
                       "团队销售漏斗看板": "漏斗", "防撞单：同一客户只能一个组跟进": "撞单",
                       "客户归属到人，离职一键交接": "交接", "渠道转化率报表": "渠道", "展会名片批量导入": "名片",
                       "合同金额变动通知财务": "合同金额", "开票信息校验": "开票", "统一账号与单点登录": "账号",
                       "上线前客户数据清洗": "重复客户", "报表口径统一": "口径"}
    owners = {"sales": "sales.head", "marketing": "mkt.head", "finance": "fin.head", "it": "it.head",
              "service": "svc.head"}
    created = {}
    for title, priority, codes, roles, status, description in REQUIREMENTS:
        requirement = services.create_requirement(
            title, description, priority=priority, departments=[ctx.departments[c] for c in codes], roles=roles,
            owner=ctx.users[owners[codes[0]]])
        for highlight in evidence_by_title.get(title, []):
            services.add_evidence(requirement, highlight=highlight)
        keyword = answer_keywords.get(title)
        if keyword:
            for answer in [a for a in pain_answers if keyword in str(a.value)][:3]:
                services.add_evidence(requirement, answer=answer)
        if status in ("accepted", "rejected", "implemented"):
            services.change_requirement_status(requirement, "accepted" if status != "rejected" else "rejected")
        if status == "implemented":
            services.change_requirement_status(requirement, "implemented")
        created[title] = requirement
    services.merge_requirements(created["客户归属到人，离职一键交接"], [created["离职人员客户自动回收"]])
    _attach_to_process_steps(created)


#: requirement title → keys of the sales process steps it concerns
PROCESS_STEPS = {"客户归属到人，离职一键交接": ["assign"], "手机端录入拜访记录": ["visit"],
                 "手机端报价审批": ["approve"], "报价模板与折扣审批规则": ["quote", "approve"],
                 "合同与回款计划关联": ["sign"], "防撞单：同一客户只能一个组跟进": ["assign"]}


def _attach_to_process_steps(created) -> None:
    if services.requirement_nodes is None:
        return
    from processmaps.models import ProcessNode, ProcessVersion
    nodes = db.session.execute(select(ProcessNode.key, ProcessNode.id).join(
        ProcessVersion, ProcessVersion.id == ProcessNode.version_id).where(ProcessVersion.status == "approved")
        .order_by(ProcessNode.id)).all()
    by_key = {}
    for key, node_id in nodes:
        by_key.setdefault(key, node_id)  # the first approved process (the sales one) owns these keys
    for title, keys in PROCESS_STEPS.items():
        ids = [by_key[k] for k in keys if k in by_key]
        if ids and title in created:
            services.set_requirement_nodes(created[title], ids)


def _morning(day) -> datetime:
    """9:00 on ``day``, local time, as stored (UTC): when the daily job sends invitations and reminders."""
    return local_to_utc(datetime.combine(day, time(9, 0)))


@contextmanager
def _notices_dated(moment: datetime):
    """Date the notices sent inside the block (in the app and outgoing) at ``moment``, when the story sends
    them, rather than when the demo is loaded."""
    db.session.flush()
    last = {model: db.session.scalar(select(func.max(model.id))) or 0 for model in (Notification, OutboxMessage)}
    yield
    db.session.flush()
    for model, last_id in last.items():
        db.session.execute(update(model).where(model.id > last_id).values(created_at=moment))


def _invite_on(survey, day) -> list[SurveyInvitation]:
    """Invite the survey's audience on ``day``, with their invitation notices of that morning."""
    with _notices_dated(_morning(day)):
        return services.invite(survey, services.audience_users(survey), today=day)


def _reminded_on(survey, day) -> None:
    """The daily job's automatic reminder of ``day``, as it went out then: to those who had not answered,
    with its notices and its line in the audit trail dated that morning."""
    waiting = db.session.scalars(select(SurveyInvitation).where(
        SurveyInvitation.survey_id == survey.id, SurveyInvitation.has_responded.is_(False))
        .order_by(SurveyInvitation.id)).all()
    if not waiting:
        return
    with _notices_dated(_morning(day)):
        services.remind_automatically(survey, waiting, day)
    db.session.execute(insert(AuditEntry), [{
        "created_at": _morning(day), "action": "survey.remind", "entity": "surveys", "entity_id": str(survey.id),
        "detail": f"{services.AUTOMATIC_REMINDER_DETAIL_PREFIX}{len(waiting)}{services.AUTOMATIC_REMINDER_DETAIL_SUFFIX}"}])


def _pulse(ctx, rng):
    lead = ctx.users["lead"]
    first_month = add_months(ctx.today.replace(day=1), -2)
    survey = services.create_survey(
        "每月使用满意度脉搏调查", lead, description="三道题，一分钟。匿名填写，帮助我们持续改进。", is_anonymous=True,
        audience_departments=[ctx.departments[c] for c in HEARD_DEPARTMENTS], audience_roles=["head", "staff"],
        opens_on=first_month, recurrence="monthly")
    survey.closes_on = add_months(first_month) - timedelta(days=1)  # a past month: set as it was then
    services.save_question(survey, name="score", type=RATING10, label="您有多大可能向同事推荐新系统？",
                           label_en="How likely are you to recommend the new system?", is_required=True)
    services.save_question(survey, name="blocker", type=SINGLE, label="目前最大的障碍是什么？",
                           label_en="What holds you back most?",
                           options=[OptionSpec("speed", "系统太慢", label_en="Too slow"),
                                    OptionSpec("training", "不会用", label_en="Not trained"),
                                    OptionSpec("data", "数据不全", label_en="Data incomplete"),
                                    OptionSpec("none", "没有障碍", label_en="Nothing")])
    services.save_question(survey, name="comment", type=TEXT, label="还有什么想说的？", label_en="Anything else?")
    base = {"sales": 5.0, "marketing": 6.0, "finance": 4.5, "it": 7.0}
    occurrences = [survey]
    for month in range(1, 3):
        start = add_months(first_month, month)
        occurrences.append(services.clone_survey(survey, occurrence_on=start, opens_on=start,
                                                 closes_on=add_months(start) - timedelta(days=1)))
    codes = {ctx.departments[c].id: c for c in HEARD_DEPARTMENTS}
    for month, occurrence in enumerate(occurrences):
        window = (occurrence.opens_on, occurrence.closes_on)
        occurrence.opens_on, occurrence.closes_on = None, None  # a past month's survey opens as it did then
        services.change_survey_status(occurrence, OPEN)
        occurrence.opens_on, occurrence.closes_on = window
        # Everyone is invited, and told, on the month's first day.
        invitations = _invite_on(occurrence, window[0])
        occurrence.opens_on, occurrence.closes_on = None, None  # accept the demo answers today
        for invitation in invitations:
            code = codes.get(invitation.department_id)
            if code is None or rng.random() < 0.25:
                continue
            score = round(min(10, max(1, rng.gauss(base[code] + 1.2 * month, 1.3))))
            response = services.submit_response(invitation, {
                "score": str(score), "blocker": rng.choice(["speed", "training", "data", "none"]),
                "comment": rng.choice(["", "", "希望多组织几次培训", "手机端打开有点慢", "报表很好用"])})
            response.submitted_on = min(window[0] + timedelta(days=rng.randint(0, 8)), ctx.today)
            invitation.responded_on = response.submitted_on
        occurrence.opens_on, occurrence.closes_on = window
        if month < len(occurrences) - 1:
            services.change_survey_status(occurrence, CLOSED)
            # Those who let a past month go by have long seen its invitation.
            links = [services.respond_link(i.token) for i in invitations if not i.has_responded]
            db.session.execute(update(Notification).where(Notification.link.in_(links), Notification.read_at.is_(None))
                               .values(read_at=_morning(window[1])))
        else:
            # This month's automatic reminders that fell due before today went out then (today's goes out
            # with the daily job at the end of load()).
            for day, _label in services.automatic_reminder_days(occurrence):
                if day < ctx.today:
                    _reminded_on(occurrence, day)
    # A requirement from the pulse's anonymous comments: only departments its results name are credited,
    # the other answers are "anonymous answers".
    slow = [answer for answer in db.session.scalars(
        select(SurveyAnswer).join(SurveyResponse).join(Question, Question.id == SurveyAnswer.question_id)
        .where(SurveyResponse.survey_id == occurrences[-1].id, Question.name == "comment")
        .order_by(SurveyAnswer.id)) if answer.value == "手机端打开有点慢"]
    if slow:
        services.create_requirement("手机端打开速度优化", "脉搏调查里多人反映手机端打开慢。", priority="should",
                                    owner=ctx.users["it.head"], answers=slow[:6])


def _training_times_survey(ctx, rng):
    """销售部's own short survey, closing in 3 days: the daily job's automatic reminder goes to those who have
    not answered (rep and rep2 among them), and its page says when the next one goes out."""
    survey = services.create_survey(
        "销售部培训时间偏好", ctx.users["sales.head"], department=ctx.departments["sales"],
        description="下周起安排新系统培训，请选一个您最方便的时段。",
        audience_departments=[ctx.departments["sales"]], audience_roles=["staff"],
        opens_on=ctx.today - timedelta(days=7), closes_on=ctx.today + timedelta(days=3))
    services.save_question(survey, name="slot", type=SINGLE, label="您最方便哪个时段参加培训？",
                           label_en="Which time suits you best for training?", is_required=True,
                           options=[OptionSpec("morning", "周一上午", label_en="Monday morning"),
                                    OptionSpec("afternoon", "周三下午", label_en="Wednesday afternoon"),
                                    OptionSpec("evening", "周五傍晚", label_en="Friday evening")])
    services.change_survey_status(survey, OPEN)
    invitations = _invite_on(survey, survey.opens_on)
    keep_open = {ctx.users[name].id for name in TRY_IT_ACCOUNTS}
    for invitation in invitations:
        if invitation.user_id in keep_open or rng.random() < 0.4:
            continue
        response = services.submit_response(invitation, {"slot": rng.choice(["morning", "afternoon", "evening"])})
        day = survey.opens_on + timedelta(days=rng.randint(0, 5))
        _backdate(response, day)
        invitation.responded_on = day
    return survey


def load(ctx) -> None:
    """Create the demo surveys, interviews and requirements, then do the surveys' daily work for the day
    (`rollout surveys run-schedules`): automatic reminders and closing notices that are due."""
    rng = random.Random(2026)
    survey = _requirements_survey(ctx)
    _answer_requirements_survey(ctx, survey, rng)
    highlights = _interviews(ctx)
    _requirements(ctx, highlights, survey)
    _pulse(ctx, rng)
    _readiness_survey(ctx, rng)
    _training_times_survey(ctx, rng)
    db.session.flush()
    services.tell_closed_surveys(ctx.today)
    services.send_automatic_reminders(ctx.today)
    db.session.flush()
