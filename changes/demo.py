"""Demo data: a weekly review rhythm with two past windows, an open one, an emergency fix,
a freeze around the sales go-live, one implemented release and one overdue."""
from __future__ import annotations

import io
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

from flask_babel import force_locale
from sqlalchemy import func, select, update

from rollout.extensions import db
from rollout.notify.models import Notification, OutboxMessage
from rollout.timeutil import local_to_utc

from changes import services
from changes.models import ChangeRequest, ChangeTransition, ReviewWindow


def _request(ctx, username, title, description, reason, kind="normal", **fields) -> ChangeRequest:
    user = ctx.users[username]
    departments = fields.pop("departments", ())
    return services.create_change_request(
        user, title, description, reason, kind,
        affected_department_ids=[ctx.departments[code].id for code in departments], **fields)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local time of the story, as stored (UTC)."""
    return local_to_utc(datetime.combine(day, time(hour, minute)))


@contextmanager
def _as_of(moment: datetime):
    """Date what the services record inside the block (the notices, their outgoing messages, the requests'
    history steps) at ``moment``, when the story has it happen, rather than when the demo is loaded."""
    models = (Notification, OutboxMessage, ChangeTransition)
    db.session.flush()
    last = {model: db.session.scalar(select(func.max(model.id))) or 0 for model in models}
    yield
    db.session.flush()
    for model in models:
        db.session.execute(update(model).where(model.id > last[model]).values(created_at=moment))


def _place_and_assess(request, window, lead, comment, submitted_at: datetime) -> None:
    """Submitted at ``submitted_at`` for ``window`` and assessed the next morning; the history, the notices
    and what the submission notice says are those of that day."""
    with _as_of(submitted_at):
        services.submit(request, request.requester)
        # submit() heads it for the first window still open on the demo's clock; it went to ``window``.
        heading_for = request.window
        request.window = window
        if heading_for is not None and heading_for.id != window.id:
            link = services._url("changes.detail", request_id=request.id)
            old, new = services.window_name(heading_for), services.window_name(window)
            for model in (Notification, OutboxMessage):
                db.session.execute(update(model).where(model.link == link)
                                   .values(body_markdown=func.replace(model.body_markdown, old, new)))
    request.created_at, request.submitted_at = submitted_at - timedelta(hours=3), submitted_at
    with _as_of(submitted_at + timedelta(hours=20)):
        services.assess(request, lead, comment, request.effective_risk)


def _decide(request, outcome, reason, actor, window, minutes_in: int) -> None:
    """Decided ``minutes_in`` into the meeting of ``window``: its history step, notice and decision time."""
    decided_at = window.starts_at + timedelta(minutes=minutes_in)
    with _as_of(decided_at):
        services.decide(request, outcome, reason, actor, window)
    if outcome != "deferred":
        request.decided_at = decided_at


def _close(window, minutes, actor) -> None:
    """Closed as its meeting ends; anything carried over is told then."""
    with _as_of(window.ends_at):
        services.close_window(window, minutes, actor)
    window.closed_at = window.ends_at


def load(ctx) -> None:
    """Create the review rhythm, requests in every state, a freeze and two releases."""
    # Notifications and announcements the demo creates read in the company's language.
    with force_locale("zh_CN"):
        _load(ctx)


def _load(ctx) -> None:
    today = ctx.today
    lead, admin = ctx.users["lead"], ctx.users["admin"]
    start = today - timedelta(days=28)
    cadence, _windows = services.save_cadence("变更评审会", weekday=2, every_n_weeks=1, starts_on=start,
                                              start_time=time(14, 0), duration_minutes=90, cutoff_hours=24)
    past_days = [d for d in services.cadence_dates(cadence, today - timedelta(days=1))][-2:]
    past = []
    for day in past_days:
        starts_at, ends_at, cutoff_at = services._window_times(cadence, day)
        window = ReviewWindow(cadence=cadence, title=cadence.name, starts_at=starts_at, ends_at=ends_at,
                              cutoff_at=cutoff_at, agenda_sent_at=starts_at - timedelta(hours=20))
        db.session.add(window)
        past.append(window)
    db.session.flush()
    first, second = past

    nodes = _some_nodes()

    # --- the first past window ----------------------------------------------------------
    stage = _request(ctx, "team1.head", "商机阶段增加“方案评审”", "在“需求确认”和“报价”之间增加“方案评审”阶段，评审通过后才能报价。",
                     "大客户项目经常在报价后才发现方案不可行，返工多。", urgency="high", impact="medium",
                     affected_roles=["staff", "head"], departments=["sales"], node_ids=nodes[:1])
    photos = _request(ctx, "rep", "客户拜访记录支持上传现场照片", "拜访记录增加图片附件，最多 9 张，自动压缩。",
                      "区域经理需要核实拜访真实性，目前靠微信群发照片。", urgency="medium", impact="low",
                      affected_roles=["staff"], departments=["sales-1", "sales-2"])
    quote = _request(ctx, "fin1", "报价单审批改为两级审批", "折扣低于 85 折的报价需要销售总监和财务经理两级审批。",
                     "上季度有三笔低价订单未经财务确认，毛利受损。", urgency="medium", impact="high",
                     affected_roles=["staff", "head", "lead"], departments=["sales", "finance"],
                     has_permission_change=True, node_ids=nodes[1:2])
    leads = _request(ctx, "mkt1", "取消线索自动分配，改为人工分派", "市场部收集的线索不再按区域自动分配，由市场经理人工分派。",
                     "自动分配规则不准，销售抱怨线索质量差。", urgency="low", impact="medium",
                     affected_roles=["staff"], departments=["marketing", "sales"])
    services.add_attachment(quote, "折扣审批口径说明.txt", io.BytesIO(
        "折扣审批口径（草案）\n- 85 折以上：销售总监审批\n- 85 折以下：销售总监 + 财务经理两级审批\n".encode()),
        ctx.users["fin1"])
    # Three come in two days before the cutoff and the quote request a day later; each is assessed the next
    # morning and decided at the meeting.
    for request in (stage, photos, leads):
        _place_and_assess(request, first, lead, "已评估，材料齐全。", first.cutoff_at - timedelta(days=2))
    _place_and_assess(quote, first, lead, "已评估，材料齐全。", first.cutoff_at - timedelta(days=1))
    services.raise_risk(leads, "high", "影响全部销售的线索来源，需与销售部共同确认。", lead)
    _decide(stage, "approved", "方案评审能减少返工，同意；评审模板由销售部提供。", lead, first, 20)
    _decide(photos, "approved", "同意，注意图片存储容量。", admin, first, 35)
    _decide(quote, "deferred", "需要财务部先给出折扣阈值的正式口径，下次评审再议。", lead, first, 50)
    _decide(leads, "rejected", "先优化分配规则，不取消自动分配；市场部下周提交规则调整方案。", lead, first, 70)
    _close(first, "## 出席\n周燕（项目负责人）、赵磊（管理员）、王强（销售总监）\n\n"
                  "## 结论\n- 批准 2 项，驳回 1 项，推迟 1 项\n- 报价两级审批待财务给出折扣口径", lead)

    # --- the second past window ---------------------------------------------------------
    report = _request(ctx, "rep7", "销售日报字段精简", "日报去掉“明日计划”中的重复字段，只保留客户、事项、预计金额。",
                      "日报填写平均要 15 分钟，销售代表反映负担重。", urgency="medium", impact="low",
                      affected_roles=["staff"], departments=["sales"], has_data_field_change=True)
    reminder = _request(ctx, "fin2", "回款提醒推送到钉钉群", "合同到期前 7 天，在钉钉销售群推送回款提醒。",
                        "逾期回款上月增加 12%，提醒只在系统内，销售很少查看。", urgency="high", impact="medium",
                        affected_roles=["staff", "head"], departments=["finance", "sales"])
    _place_and_assess(report, second, lead, "已评估。", second.cutoff_at - timedelta(days=2))
    _place_and_assess(reminder, second, lead, "已评估。", second.cutoff_at - timedelta(days=1))
    _decide(report, "approved", "同意精简，保留导出兼容。", lead, second, 30)
    _decide(quote, "approved", "财务已确认 85 折阈值，同意两级审批。", lead, second, 40)
    _decide(reminder, "deferred", "钉钉机器人权限申请中，推迟到下次评审。", admin, second, 45)
    _close(second, "## 结论\n- 报价两级审批：批准（上次推迟）\n- 日报精简：批准\n- 回款提醒：推迟，等待钉钉权限", admin)

    # --- an implemented release from the first window's approvals --------------------------
    # Planned the day after the window for four days ago, and live that evening: its notices say so and
    # are dated then. (Its day is set directly, as a release cannot be planned for a day that has passed.)
    planned_at = first.ends_at + timedelta(hours=20)
    done = services.save_release("2026 第1批优化", today, admin)
    done.planned_on, done.created_at = today - timedelta(days=4), planned_at
    with _as_of(planned_at):
        for request in (stage, photos):
            services.schedule(request, done, lead)
    live_at = _at(done.planned_on, 20)
    with _as_of(live_at):
        services.implement_release(done, admin)
    done.implemented_at = live_at
    services.regenerate_notes(done)
    # The announcement carries the notes, which now say the day it went live.
    release_link = services._url("changes.release", release_id=done.id)
    for model in (Notification, OutboxMessage):
        db.session.execute(update(model).where(model.link == release_link, model.created_at == live_at)
                           .values(body_markdown=done.notes_markdown))
    for request in (stage, photos):
        request.implemented_at = done.implemented_at
    services.move(stage, "reviewed", lead, "上线一周，方案评审平均耗时 1 天，返工减少。")
    # Wanted for a day now past: set after the story, as a date that passed cannot be chosen.
    stage.wanted_on = today - timedelta(days=3)

    # --- a planned release outside the coming freeze ---------------------------------------
    planned = services.save_release("2026 第2批优化", today + timedelta(days=10), lead)
    for request in (quote, report):
        services.schedule(request, planned, lead)
    services.regenerate_notes(planned)

    # --- the open window's agenda -----------------------------------------------------------
    for username, title, description, reason, fields in (
        ("svc1", "客服工单关联客户合同", "工单页面显示客户当前有效合同及服务等级。",
         "客服需要在多个系统之间切换查询合同，平均处理时长偏长。",
         {"urgency": "medium", "impact": "medium", "affected_roles": ["staff"], "departments": ["service"]}),
        ("it1", "销售角色权限收紧：禁止导出全部客户", "销售代表只能导出自己负责的客户，导出需要组长审批。",
         "防止离职人员带走客户资料，符合公司数据安全要求。",
         {"urgency": "high", "impact": "high", "affected_roles": ["staff", "head", "lead"],
          "departments": ["sales"], "has_permission_change": True, "wanted_on": today + timedelta(days=3)}),
        ("mkt2", "市场活动增加 ROI 统计", "活动结束后自动汇总带来的线索、商机和成交金额。",
         "市场预算评审需要活动效果数据。",
         {"urgency": "low", "impact": "low", "affected_roles": ["head"], "departments": ["marketing"]}),
    ):
        request = _request(ctx, username, title, description, reason, **fields)
        services.submit(request, request.requester)
        if username != "mkt2":
            services.assess(request, lead, "已评估，列入议程。", request.effective_risk)

    # --- an emergency change, reviewed again at the next window -------------------------------
    emergency = _request(ctx, "it2", "紧急修复：客户导入时手机号被截断", "导入模板中的 11 位手机号被识别为数字并截断，需立即修复导入解析。",
                         "今天上午导入的 300 条客户手机号错误，销售无法联系客户。", "emergency",
                         urgency="critical", impact="high", affected_roles=["staff"], departments=["sales"],
                         has_data_field_change=True, wanted_on=today)
    services.submit(emergency, emergency.requester)
    services.decide(emergency, "approved", "影响正在进行的客户导入，立即修复，下次评审会复核。", lead)
    services.move(emergency, "implementing", lead, "已在测试环境验证修复。")
    services.move(emergency, "implemented", lead, "已上线，重新导入 300 条数据。")

    # --- a standard change and a draft -------------------------------------------------------
    # Submitted four days ago and put into a patch planned for two days ago, which has not gone live.
    submitted_at = _at(today - timedelta(days=4), 9, 30)
    standard = _request(ctx, "rep2", "产品下拉列表新增型号 ZL-X9", "在产品目录中新增型号 ZL-X9 及其标准价。",
                        "新品下周上市。", "standard", urgency="medium", impact="low", affected_roles=["staff"],
                        departments=["sales"])
    with _as_of(submitted_at):
        services.submit(standard, standard.requester)
    standard.created_at, standard.submitted_at, standard.decided_at = (submitted_at - timedelta(minutes=20),
                                                                       submitted_at, submitted_at)

    # --- a release whose day passed without it going live: its owner is reminded -------------------
    late = services.save_release("2026 第1批补丁", today, lead)
    # Its day is set directly, as a passed day cannot be chosen; its notices are dated when it was planned.
    late.planned_on, late.created_at = today - timedelta(days=2), submitted_at + timedelta(hours=1)
    with _as_of(late.created_at):
        services.schedule(standard, late, lead)
    services.regenerate_notes(late)
    services.remind_overdue_releases(today)
    _request(ctx, "rep3", "商机列表增加“最后跟进时间”列", "商机列表默认显示最后一次跟进的时间，并可排序。",
             "方便找出长期未跟进的商机。", urgency="low", impact="low", affected_roles=["staff"],
             departments=["sales-1"])

    # --- the freeze around the sales go-live ------------------------------------------------
    go_live = ctx.departments["sales"].go_live_on or today + timedelta(days=21)
    services.save_freeze("销售部上线封网期", go_live - timedelta(days=3), go_live + timedelta(days=4),
                         "销售部新系统正式上线前后一周，只允许紧急变更。", admin)
    db.session.flush()


def _some_nodes() -> list[int]:
    """Two task steps of approved process versions, if the process maps demo made any."""
    from processmaps.models import APPROVED, ProcessNode, ProcessVersion
    return list(db.session.scalars(
        select(ProcessNode.id).join(ProcessVersion, ProcessNode.version_id == ProcessVersion.id)
        .where(ProcessVersion.status == APPROVED, ProcessNode.kind == "task")
        .order_by(ProcessNode.id).limit(2)))
