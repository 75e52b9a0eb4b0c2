"""Users choose their channels; admins manage department robots; the daily digest."""
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from rollout.extensions import db
from rollout.notify.models import DepartmentRobot, Notification, NotificationChannel, OutboxMessage
from rollout.notify.services import notify, queue_digests
from rollout.notify.worker import drain_once
from rollout.timeutil import utcnow
from tests.rollout.output.servers import free_port, start_smtp

DING = "https://oapi.dingtalk.com/robot/send?access_token=abc123"
FEISHU = "https://open.feishu.cn/open-apis/bot/v2/hook/5f0e"


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_user_sets_email_and_robots(client_as, company):
    client = client_as("staff")
    page = client.get("/notifications/channels")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert company["staff"].email in text  # the profile address is offered
    assert f"/calendar/{company['staff'].calendar_token}.ics" in text
    response = client.post("/notifications/channels", data={
        "email_enabled": "y", "email": "zhang@example.cn", "dingtalk_url": DING, "dingtalk_secret": "SEC111",
        "wecom_url": "", "feishu_url": FEISHU, "feishu_secret": "", "is_digest": "",
    })
    assert response.status_code == 302
    channels = {c.kind: c for c in db.session.scalars(select(NotificationChannel))}
    assert set(channels) == {"email", "dingtalk", "feishu"}
    assert channels["email"].target == "zhang@example.cn" and channels["dingtalk"].secret == "SEC111"
    assert not any(c.is_digest for c in channels.values())
    # The secret field left empty keeps the saved secret; an empty webhook removes that robot; digest for all.
    client.post("/notifications/channels", data={
        "email_enabled": "y", "email": "zhang@example.cn", "dingtalk_url": DING, "dingtalk_secret": "",
        "feishu_url": "", "is_digest": "y"})
    db.session.expire_all()
    channels = {c.kind: c for c in db.session.scalars(select(NotificationChannel))}
    assert set(channels) == {"email", "dingtalk"} and channels["dingtalk"].secret == "SEC111"
    assert all(c.is_digest for c in channels.values())
    page = client.get("/notifications/channels").get_data(as_text=True)
    assert "SEC111" not in page  # secrets are never shown again


BAD_INPUT = [
    ("dingtalk_url", "https://evil.example.com/robot/send", "A DingTalk webhook must point to oapi.dingtalk.com"),
    ("dingtalk_url", "http://oapi.dingtalk.com/robot/send?access_token=1", "Use the https address"),
    ("feishu_url", "file:///etc/passwd", "full webhook address"),
    ("wecom_url", "https://127.0.0.1:8080/x", "must point to qyapi.weixin.qq.com"),
    ("email", "not-an-email", "Enter an email address such as name@example.com."),
]


def test_bad_channel_input_is_refused_and_nothing_is_written(client_as, company):
    client = client_as("staff")
    for field, value, message in BAD_INPUT:
        data = {"email_enabled": "y", "email": "ok@example.cn", field: value}
        response = client.post("/notifications/channels", data=data)
        assert response.status_code == 422, field
        assert message in response.get_data(as_text=True), (field, value)
        assert _count(NotificationChannel) == 0


def test_email_switched_on_without_an_address_is_refused(client_as, company):
    response = client_as("staff").post("/notifications/channels", data={"email_enabled": "y", "email": ""})
    assert response.status_code == 422 and "Enter an email address" in response.get_data(as_text=True)


def test_test_message_goes_to_each_channel(client_as, company):
    client = client_as("staff")
    client.post("/notifications/channels", data={"email_enabled": "y", "email": "z@example.cn", "wecom_url":
                                                 "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"})
    assert client.post("/notifications/channels/test").status_code == 302
    assert sorted(db.session.scalars(select(OutboxMessage.kind))) == ["email", "wecom"]


def test_admin_manages_department_robots(client_as, company):
    admin = client_as("admin")
    sales = company["departments"]["sales"]
    assert admin.get("/admin/robots").status_code == 200
    response = admin.post("/admin/robots/new", data={"department_id": sales.id, "name": "销售部工作群",
                                                     "kind": "dingtalk", "target": DING, "secret": "SECx",
                                                     "is_enabled": "y"})
    assert response.status_code == 302
    robot = db.session.scalar(select(DepartmentRobot))
    assert (robot.name, robot.kind, robot.secret, robot.is_enabled) == ("销售部工作群", "dingtalk", "SECx", True)
    assert "销售部工作群" in admin.get("/admin/robots").get_data(as_text=True)
    bad = admin.post(f"/admin/robots/{robot.id}", data={"department_id": sales.id, "kind": "wecom",
                                                        "target": "https://intranet.local/hook"})
    assert bad.status_code == 422 and "qyapi.weixin.qq.com" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert robot.kind == "dingtalk"
    for role in ("lead", "head", "staff"):
        assert client_as(role).get("/admin/robots").status_code == 403
    assert admin.post(f"/admin/robots/{robot.id}/delete").status_code == 302
    assert _count(DepartmentRobot) == 0


def test_daily_digest_sends_one_message_with_the_days_unread(company, runner, app, monkeypatch):
    head, staff = company["head"], company["staff"]
    db.session.add(NotificationChannel(user_id=head.id, kind="email", target="head@example.cn", is_digest=True))
    db.session.commit()
    notify([head, staff], "a", "需求评审会改期", "", "/surveys/1")
    notify([head], "b", "本周录入率 62%", "")
    old = notify([head], "c", "上周的通知", "")[0]
    old.created_at = utcnow() - timedelta(days=3)
    read = notify([head], "d", "已读的通知", "")[0]
    read.read_at = utcnow()
    db.session.commit()
    assert _count(OutboxMessage) == 0  # digest users get nothing per event

    result = runner.invoke(args=["outbox", "digest"])
    assert result.exit_code == 0 and "Queued 1 digest" in result.output
    message = db.session.scalar(select(OutboxMessage))
    assert message.user_id == head.id and message.target == "head@example.cn"
    assert "2" in message.subject and "需求评审会改期" in message.body_markdown and "本周录入率 62%" in message.body_markdown
    assert "上周的通知" not in message.body_markdown and "已读的通知" not in message.body_markdown
    assert queue_digests() == 0  # once a day
    assert _count(OutboxMessage) == 1

    port = free_port()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", port)
    controller, mailbox = start_smtp(port)
    try:
        assert drain_once()["sent"] == 1
    finally:
        controller.stop()
    assert len(mailbox.messages) == 1 and "需求评审会改期" in mailbox.messages[0].get_body(("plain",)).get_content()
    # Tomorrow, only what is new and still unread.
    notify([head], "e", "新的一天", "")
    db.session.commit()
    assert queue_digests(utcnow() + timedelta(days=1)) == 1
    newest = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert "新的一天" in newest.body_markdown and "需求评审会改期" not in newest.body_markdown


def test_digest_subject_follows_the_users_language(company):
    head = company["head"]
    head.locale = "zh_CN"
    db.session.add(NotificationChannel(user_id=head.id, kind="email", target="h@example.cn", is_digest=True))
    notify([head], "a", "通知", "")
    db.session.commit()
    queue_digests()
    assert "每日" in db.session.scalar(select(OutboxMessage.subject))


def test_each_reader_gets_a_notification_in_their_own_language(company, client_as):
    """An English-speaking lead's action, or a scheduled job, still tells a Chinese rep in Chinese."""
    staff, head = company["staff"], company["head"]
    staff.locale, head.locale = "en", None  # head: no choice made, the company's language
    db.session.add(NotificationChannel(user_id=staff.id, kind="email", target="s@example.cn"))
    robot = DepartmentRobot(department_id=company["departments"]["sales"].id, kind="wecom",
                            target="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    db.session.add(robot)
    db.session.commit()
    notify([staff, head], "lead.handed", _l("New lead for you: %(name)s", name="星辰科技"),
           lambda: _("Please respond by %(when)s.", when="12-01"), department_ids=[robot.department_id])
    db.session.commit()
    subjects = dict(db.session.execute(select(Notification.user_id, Notification.subject)).all())
    assert subjects == {staff.id: "New lead for you: 星辰科技", head.id: "你有新线索：星辰科技"}
    outbox = dict(db.session.execute(select(OutboxMessage.kind, OutboxMessage.body_markdown)).all())
    assert outbox == {"email": "Please respond by 12-01.", "wecom": "请在 12-01 前响应。"}
    # plain text is passed on as it is
    notify([staff], "x", "需求评审会改期", None)
    assert db.session.scalars(select(Notification.body_markdown).where(Notification.event == "x")).one() == ""


def test_notifications_pages_are_own_only(client_as, company):
    notify([company["head"]], "x", "只给组长", "")
    db.session.commit()
    assert "只给组长" not in client_as("staff").get("/notifications").get_data(as_text=True)
    assert _count(Notification) == 1
