"""Delivering the outbox to real servers: robots that fail for a while, SMTP that is down, then back."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rollout.extensions import db
from rollout.notify.models import DepartmentRobot, NotificationChannel, OutboxMessage
from rollout.notify.services import notify, queue_message
from rollout.notify.worker import drain_once
from rollout.timeutil import utcnow
from tests.rollout.output.servers import RobotServer, free_port, start_smtp

DING_SECRET = "SECtest-ding-密钥-0123456789"
FEISHU_SECRET = "feishu-test-secret"


@pytest.fixture
def outbox_config(app, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_BACKOFF_SECONDS", 60)
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 8)
    monkeypatch.setitem(app.config, "OUTBOX_HTTP_TIMEOUT", 5)
    monkeypatch.setitem(app.config, "BASE_URL", "https://rollout.example.cn")
    return app.config


@pytest.fixture
def robots():
    server = RobotServer(secrets={"dingtalk": DING_SECRET, "feishu": FEISHU_SECRET})
    yield server
    server.stop()


def drain_until_quiet(rounds=12, step=timedelta(hours=1)):
    """Run the worker repeatedly, moving the clock past every backoff."""
    now = utcnow()
    totals = {"sent": 0, "retry": 0, "dead": 0}
    for _ in range(rounds):
        counts = drain_once(now=now)
        for key, value in counts.items():
            totals[key] += value
        now += step
    return totals


def _statuses():
    return dict(db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


def test_robots_get_every_message_exactly_once_after_an_outage(company, robots, outbox_config):
    robots.failures_left = 7
    sales = company["departments"]["sales"]
    staff, head = company["staff"], company["head"]
    db.session.add_all([
        DepartmentRobot(department_id=sales.id, kind="dingtalk", target=robots.base + "/dingtalk", secret=DING_SECRET),
        DepartmentRobot(department_id=sales.id, kind="wecom", target=robots.base + "/wecom"),
        NotificationChannel(user_id=staff.id, kind="feishu", target=robots.base + "/feishu", secret=FEISHU_SECRET),
        NotificationChannel(user_id=head.id, kind="dingtalk", target=robots.base + "/dingtalk?access_token=abc",
                            secret=DING_SECRET),
    ])
    db.session.commit()
    for number in range(3):
        notify([staff, head], "quote.rejected", f"报价单 Q-{number} 被驳回", "请**补充**折扣理由。", "/plans/quotes/1",
               department_ids=[sales.id])
    db.session.commit()
    keys = set(db.session.scalars(select(OutboxMessage.idempotency_key)))
    assert len(keys) == 12

    totals = drain_until_quiet()

    assert _statuses() == {"sent": 12}
    received = [r["key"] for r in robots.accepted]
    assert sorted(received) == sorted(keys), "every message arrives exactly once"
    assert len(robots.requests) == 12 + 7 and totals["retry"] == 7
    retried = db.session.scalars(select(OutboxMessage).where(OutboxMessage.attempts > 1)).all()
    assert retried and all(m.last_error is None and m.sent_at for m in retried)
    # Each platform got its own format, in Chinese, with an absolute link.
    ding = next(r for r in robots.accepted if r["path"] == "/dingtalk")
    assert ding["body"]["markdown"]["title"].startswith("报价单")
    assert "https://rollout.example.cn/plans/quotes/1" in ding["body"]["markdown"]["text"]
    assert {"timestamp", "sign"} <= set(ding["query"])
    wecom = next(r for r in robots.accepted if r["path"] == "/wecom")
    assert "请**补充**折扣理由。" in wecom["body"]["markdown"]["content"]
    feishu = next(r for r in robots.accepted if r["path"] == "/feishu")
    assert feishu["body"]["card"]["header"]["title"]["content"].startswith("报价单")
    assert feishu["body"]["sign"] and feishu["body"]["timestamp"]


def test_a_wrong_secret_is_a_failure_not_a_success(company, robots, outbox_config):
    db.session.add(queue_message("dingtalk", robots.base + "/dingtalk", "测试", "内容", secret="wrong-secret"))
    db.session.commit()
    counts = drain_once()
    message = db.session.scalar(select(OutboxMessage))
    assert counts == {"sent": 0, "retry": 1, "dead": 0}
    assert message.status == "pending" and "sign not match" in message.last_error
    assert robots.accepted == []


def test_backoff_doubles_and_the_last_attempt_makes_the_message_dead(company, robots, outbox_config):
    outbox_config["OUTBOX_MAX_ATTEMPTS"] = 4
    robots.failures_left = 10 ** 6
    db.session.add(queue_message("wecom", robots.base + "/wecom", "测试", "内容"))
    db.session.commit()
    now = utcnow()
    waits = []
    for _ in range(4):
        drain_once(now=now)
        message = db.session.scalar(select(OutboxMessage))
        if message.status == "pending":
            waits.append(message.next_attempt_at - now)
            assert drain_once(now=now + timedelta(seconds=1)) == {"sent": 0, "retry": 0, "dead": 0}  # not due yet
            now = message.next_attempt_at
    assert [w.total_seconds() for w in waits] == [60, 120, 240]
    assert message.status == "dead" and message.attempts == 4 and "HTTP 500" in message.last_error
    assert drain_until_quiet(rounds=2) == {"sent": 0, "retry": 0, "dead": 0}  # dead stays dead


def test_admin_retries_a_dead_message_and_it_arrives_once(client_as, company, robots, outbox_config):
    outbox_config["OUTBOX_MAX_ATTEMPTS"] = 2
    robots.failures_left = 10 ** 6
    db.session.add(queue_message("dingtalk", robots.base + "/dingtalk", "上线通知", "内容", secret=DING_SECRET))
    db.session.commit()
    drain_until_quiet(rounds=3)
    message = db.session.scalar(select(OutboxMessage))
    assert message.status == "dead"

    admin = client_as("admin")
    page = admin.get("/admin/outbox?status=dead").get_data(as_text=True)
    assert "上线通知" in page and f"/admin/outbox/{message.id}/retry" in page
    assert "127.0.0.1" in page and "dingtalk?" not in page  # the webhook token is not shown
    assert client_as("lead").post(f"/admin/outbox/{message.id}/retry").status_code == 403
    assert admin.post(f"/admin/outbox/{message.id}/retry").status_code == 302
    db.session.expire_all()
    assert message.status == "pending" and message.attempts == 0

    robots.failures_left = 0
    assert drain_once() == {"sent": 1, "retry": 0, "dead": 0}
    assert [r["key"] for r in robots.accepted] == [message.idempotency_key]
    # A sent message cannot be retried (it would arrive twice).
    response = admin.post(f"/admin/outbox/{message.id}/retry", follow_redirects=True)
    assert "Only failed messages can be retried." in response.get_data(as_text=True)
    db.session.expire_all()
    assert message.status == "sent"


def test_email_waits_while_the_smtp_server_is_down_then_arrives_once(company, outbox_config, monkeypatch):
    port = free_port()
    # Through monkeypatch: later tests see no mail server, as a fresh configuration has none.
    for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_SENDER": "rollout@example.cn"}.items():
        monkeypatch.setitem(outbox_config, key, value)
    staff = company["staff"]
    db.session.add(NotificationChannel(user_id=staff.id, kind="email", target="zhang.wei@example.cn"))
    db.session.commit()
    notify([staff], "training.invited", "培训邀请：销售漏斗录入", "时间：周四 **14:00**", "/training/sessions/3")
    notify([staff], "change.approved", "变更已批准", "", None)
    db.session.commit()

    assert drain_once() == {"sent": 0, "retry": 2, "dead": 0}
    assert all("SMTP" in m.last_error for m in db.session.scalars(select(OutboxMessage)))

    controller, mailbox = start_smtp(port)
    try:
        drain_until_quiet(rounds=3)
    finally:
        controller.stop()
    assert _statuses() == {"sent": 2}
    assert sorted(m["Subject"] for m in mailbox.messages) == sorted(["培训邀请：销售漏斗录入", "变更已批准"])
    keys = set(db.session.scalars(select(OutboxMessage.idempotency_key)))
    assert {m["Idempotency-Key"] for m in mailbox.messages} == keys
    invitation = next(m for m in mailbox.messages if m["Subject"].startswith("培训"))
    assert invitation["To"] == "zhang.wei@example.cn" and invitation["From"] == "rollout@example.cn"
    html = invitation.get_body(("html",)).get_content()
    assert "<strong>14:00</strong>" in html and "https://rollout.example.cn/training/sessions/3" in html
    assert "时间：周四 **14:00**" in invitation.get_body(("plain",)).get_content()


def test_a_worker_that_died_mid_send_leaves_the_message_to_the_next_one(company, robots, outbox_config):
    from rollout.notify.services import claim_due, claimed_messages
    db.session.add(queue_message("wecom", robots.base + "/wecom", "测试", "内容"))
    db.session.commit()
    now = utcnow()
    token = claim_due(now)
    db.session.commit()
    assert [m.status for m in claimed_messages(token)] == ["sending"]
    assert drain_once(now=now) == {"sent": 0, "retry": 0, "dead": 0}  # still claimed
    assert drain_once(now=now + timedelta(minutes=10)) == {"sent": 1, "retry": 0, "dead": 0}
    assert len(robots.accepted) == 1


def test_two_workers_draining_at_once_send_each_message_once(app, company, robots, outbox_config):
    for number in range(40):
        db.session.add(queue_message("wecom", robots.base + "/wecom", f"消息 {number}", "内容"))
    db.session.commit()
    errors = []

    def worker():
        try:
            with app.app_context():
                drain_once(batch=5)
                db.session.remove()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    db.session.expire_all()
    assert _statuses() == {"sent": 40}
    received = [r["key"] for r in robots.accepted]
    assert len(received) == 40 and len(set(received)) == 40


def test_cli_run_once_reports_what_it_did(runner, company, robots, outbox_config):
    db.session.add(queue_message("wecom", robots.base + "/wecom", "测试", "内容"))
    db.session.add(queue_message("feishu", robots.base + "/feishu", "测试", "内容", secret="bad"))
    db.session.commit()
    result = runner.invoke(args=["outbox", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 1, retry later 1, dead 0" in result.output
    status = runner.invoke(args=["outbox", "status"])
    assert "pending  1" in status.output and "sent     1" in status.output


def test_long_messages_are_cut_to_the_platforms_limit(company, robots, outbox_config):
    body = "长" * 3000  # 9000 bytes of UTF-8: more than WeCom takes
    db.session.add(queue_message("wecom", robots.base + "/wecom", "很长的通知", body))
    db.session.commit()
    assert drain_once()["sent"] == 1
    content = robots.accepted[0]["body"]["markdown"]["content"]
    assert len(content.encode("utf-8")) <= 4096 and content.startswith("### 很长的通知") and content.endswith("…")


def test_the_worker_stops_when_asked_and_queues_the_days_digest(company, robots, outbox_config):
    from rollout.notify.worker import run_forever
    head = company["head"]
    db.session.add(NotificationChannel(user_id=head.id, kind="wecom", target=robots.base + "/wecom", is_digest=True))
    db.session.commit()
    notify([head], "x", "今天的通知", "")
    db.session.commit()
    rounds = []
    run_forever(0.1, digest_hour=0, should_stop=lambda: rounds.append(1) or len(rounds) > 3)
    assert [r["body"]["markdown"]["content"].count("今天的通知") for r in robots.accepted] == [1]


def test_deactivated_users_get_no_external_messages(company, outbox_config):
    staff = company["staff"]
    db.session.add(NotificationChannel(user_id=staff.id, kind="email", target="gone@example.cn"))
    staff.is_active_account = False
    db.session.commit()
    notify([staff], "x", "通知", "")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


@pytest.mark.postgres_only
def test_postgres_workers_claim_with_skip_locked(company, count_statements):
    from rollout.notify.services import claim_due
    db.session.add(queue_message("wecom", "http://127.0.0.1:1/wecom", "测试"))
    db.session.commit()
    with count_statements() as counter:
        claim_due(utcnow())
    db.session.rollback()
    assert any("FOR UPDATE SKIP LOCKED" in statement for statement in counter.statements)
