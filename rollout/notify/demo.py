"""Demo data for notifications: group robots, personal channels and preferences, notifications, an outbox."""
from __future__ import annotations

from datetime import timedelta

from rollout.audit.services import record_event
from rollout.extensions import db
from rollout.notify.models import (
    MODE_APP, MODE_OFF, OUTBOX_DEAD, OUTBOX_PENDING, OUTBOX_SENT, DepartmentRobot, Notification, NotificationChannel,
    NotificationPreference,
)
from rollout.notify.services import queue_message
from rollout.timeutil import utcnow

DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=demo0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9"
WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=demo-6f1c2a7e-93b4-4c55-8d0e-1b2c3d4e5f60"
FEISHU = "https://open.feishu.cn/open-apis/bot/v2/hook/demo-2b7e1c9a-5d4f-4e3a-9b8c-7a6f5e4d3c2b"

# (username, subject, body, link, hours ago, is read)
NOTIFICATIONS = [
    ("rep", "客户拜访计划待确认", "您提交的 **12 月客户拜访计划** 已由组长退回，请补充拜访目的后重新提交。", "/", 2, False),
    ("rep", "新系统培训：销售漏斗录入", "培训时间：本周四 14:00–15:30，地点：3 楼大会议室。请提前安装客户端。", "/", 20, False),
    ("rep", "您的账号已开通", "欢迎使用新的销售计划跟踪系统。首次登录后请修改密码。", "/profile", 72, True),
    ("sales.head", "销售一组本周录入率 62%", "低于 80% 的目标。建议在周会上安排种子用户答疑。", "/", 3, False),
    ("sales.head", "变更申请待评审", "「报价审批增加财务会签」将在下周二的评审窗口讨论。", "/", 26, False),
    ("sales.head", "数据导入完成", "历史客户 1,284 条已导入，其中 37 条疑似重复待清洗。", "/", 50, True),
    ("admin", "发件箱有 2 条消息发送失败", "请检查钉钉群机器人的加签密钥是否已更新。", "/admin/outbox", 1, False),
    ("admin", "角色复核提醒", "财务部的角色分配已超过 90 天未复核。", "/admin/departments", 30, False),
    ("lead", "上线准备度周报已生成", "IT部、销售部准备度达标；客服部培训完成率仍不足 50%。", "/", 5, False),
    ("mkt.head", "市场部需求调研已截止", "共收到 18 份问卷回复，3 条新需求待归类。", "/", 8, False),
]


def load(ctx) -> None:
    """Robots for three departments, personal channels and preferences, recent notifications, outbox history."""
    now = utcnow()
    users, departments = ctx.users, ctx.departments
    db.session.add_all([
        DepartmentRobot(department_id=departments["sales"].id, name="销售部工作群", kind="dingtalk",
                        target=DINGTALK, secret="SECdemo9f8e7d6c5b4a39281706f5e4d3c2b1a0", is_enabled=True),
        DepartmentRobot(department_id=departments["service"].id, name="客服部值班群", kind="wecom",
                        target=WECOM, is_enabled=True),
        DepartmentRobot(department_id=departments["it"].id, name="CRM 上线项目组", kind="feishu",
                        target=FEISHU, secret="demo-feishu-secret-7c3d", is_enabled=True),
    ])
    db.session.add_all([
        NotificationChannel(user_id=users["rep"].id, kind="email", target="zhang.wei@example.com"),
        NotificationChannel(user_id=users["admin"].id, kind="email", target="zhao.lei@example.com"),
        NotificationChannel(user_id=users["sales.head"].id, kind="dingtalk",
                            target=DINGTALK.replace("demo0a1b", "demo7777"), secret="SECdemo-personal-1234",
                            is_digest=True),
        NotificationChannel(user_id=users["sales.head"].id, kind="email", target="wang.qiang@example.com",
                            is_digest=True),
    ])
    # The rep keeps survey reminders and plan-behind warnings to the app (no email) and has turned off
    # the notice that a customer went to someone else.
    db.session.add_all([
        NotificationPreference(user_id=users["rep"].id, event="survey.reminder", mode=MODE_APP),
        NotificationPreference(user_id=users["rep"].id, event="plan.behind", mode=MODE_APP),
        NotificationPreference(user_id=users["rep"].id, event="customer.transferred_away", mode=MODE_OFF),
    ])
    db.session.add_all([
        Notification(user_id=users[username].id, event="demo", subject=subject, body_markdown=body, link=link,
                     created_at=now - timedelta(hours=hours), read_at=(now - timedelta(hours=hours - 1)) if is_read
                     else None)
        for username, subject, body, link, hours, is_read in NOTIFICATIONS])
    _outbox_history(ctx, now)
    # Earlier exports, so the audit summary's export list is not empty.
    record_event("export", entity="users", detail="xlsx rows=40", user=users["admin"])
    record_event("export", entity="audit_entries", detail="csv rows=312 filters=action=login", user=users["admin"])


def _outbox_history(ctx, now) -> None:
    users = ctx.users
    rows = [
        (queue_message("email", "zhang.wei@example.com", "您的账号已开通", "欢迎使用新的销售计划跟踪系统。",
                       "/profile", user_id=users["rep"].id), OUTBOX_SENT, 1, None),
        (queue_message("wecom", WECOM, "客服部培训安排", "本周五 10:00 客服工单流程培训。", "/"),
         OUTBOX_SENT, 2, None),
        (queue_message("dingtalk", DINGTALK, "销售部上线倒计时 21 天", "请各组在本周内完成历史客户核对。", "/",
                       secret="SECdemo9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
         OUTBOX_DEAD, 8, "refused by dingtalk: sign not match"),
        (queue_message("feishu", FEISHU, "CRM 上线项目组周会纪要", "1. 数据清洗进度 80%\n2. 报价流程待确认", "/",
                       secret="demo-feishu-secret-7c3d"),
         OUTBOX_DEAD, 8, "unreachable: [Errno 110] Connection timed out"),
        (queue_message("email", "zhao.lei@example.com", "角色复核提醒", "财务部的角色分配已超过 90 天未复核。",
                       "/admin/departments", user_id=users["admin"].id), OUTBOX_PENDING, 2, "SMTP: (421, 'Service not available')"),
    ]
    for message, status, attempts, error in rows:
        message.status, message.attempts, message.last_error = status, attempts, error
        message.created_at = now - timedelta(hours=attempts * 3)
        if status == OUTBOX_SENT:
            message.sent_at = message.created_at + timedelta(seconds=4)
        if status == OUTBOX_PENDING:
            message.next_attempt_at = now + timedelta(minutes=2)
        db.session.add(message)
