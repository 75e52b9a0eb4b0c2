"""The outbox explains the common delivery errors in plain words and keeps the platform's message underneath."""
import smtplib
import ssl
import urllib.error

import pytest
from sqlalchemy import select

from rollout.extensions import db
from rollout.notify.errors import EXPLANATIONS, delivery_error_cause, explain_delivery_error
from rollout.notify.models import OutboxMessage
from rollout.notify.services import queue_message
from rollout.notify.worker import drain_once
from tests.conftest import login
from tests.rollout.output.servers import RobotServer, free_port


def _unreachable(reason) -> str:
    """The text send_robot stores when the connection fails."""
    error = urllib.error.URLError(reason)
    return f"unreachable: {getattr(error, 'reason', error)}"


def _smtp(error: Exception) -> str:
    """The text send_email stores when SMTP fails."""
    return f"SMTP: {error}"


# --- one case per cause ------------------------------------------------------------------------------
def test_dingtalk_sign_mismatch():
    assert delivery_error_cause("refused by dingtalk: sign not match", "dingtalk") == "signature"
    assert delivery_error_cause('{"errcode":310000,"errmsg":"sign not match"}', "dingtalk") == "signature"


def test_feishu_signature_or_clock():
    raw = "refused by feishu: sign match fail or timestamp is not within one hour from current time"
    assert delivery_error_cause(raw, "feishu") == "signature"
    assert delivery_error_cause('{"code":19021,"msg":"sign match fail"}', "feishu") == "signature"


def test_smtp_login_refused():
    raw = _smtp(smtplib.SMTPAuthenticationError(535, b"5.7.8 Username and Password not accepted."))
    assert delivery_error_cause(raw, "email") == "login"


def test_http_unauthorised_depends_on_the_channel():
    assert delivery_error_cause("HTTP 403 Forbidden", "wecom") == "signature"
    assert delivery_error_cause("HTTP 401 Unauthorized", "email") == "login"


def test_keyword_missing():
    assert delivery_error_cause("refused by dingtalk: keywords not in content", "dingtalk") == "keyword"
    assert delivery_error_cause('{"code":19024,"msg":"Key Words Not Found"}', "feishu") == "keyword"


def test_ip_not_allowed():
    assert delivery_error_cause("refused by dingtalk: ip 203.0.113.7 not in whitelist", "dingtalk") == "ip_not_allowed"
    assert delivery_error_cause("refused by feishu: Ip Not Allowed", "feishu") == "ip_not_allowed"


def test_unknown_robot_address():
    assert delivery_error_cause("refused by dingtalk: token is not exist", "dingtalk") == "webhook"
    assert delivery_error_cause("refused by wecom: invalid webhook url, hint: [1700000000_1]", "wecom") == "webhook"
    assert delivery_error_cause("HTTP 404 Not Found", "feishu") == "webhook"


def test_rate_limited():
    assert delivery_error_cause("refused by dingtalk: send too fast, exceed 20 times per minute",
                                "dingtalk") == "rate_limited"
    assert delivery_error_cause("refused by wecom: api freq out of limit", "wecom") == "rate_limited"
    assert delivery_error_cause('{"errcode":130101,"errmsg":"send too fast"}', "dingtalk") == "rate_limited"
    assert delivery_error_cause("HTTP 429 Too Many Requests", "feishu") == "rate_limited"


def test_connection_refused():
    assert delivery_error_cause(_unreachable(ConnectionRefusedError(111, "Connection refused")),
                                "dingtalk") == "connection_refused"
    assert delivery_error_cause(_smtp(ConnectionRefusedError(111, "Connection refused")),
                                "email") == "connection_refused"


def test_timeout():
    assert delivery_error_cause(_unreachable(TimeoutError("timed out")), "wecom") == "timeout"
    assert delivery_error_cause(_smtp(TimeoutError("timed out")), "email") == "timeout"


def test_host_name_not_resolved():
    raw = _unreachable(OSError(-2, "Name or service not known"))
    assert delivery_error_cause(raw, "feishu") == "dns"


def test_tls_error():
    certificate = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    assert delivery_error_cause(_unreachable(certificate), "dingtalk") == "tls"
    assert delivery_error_cause(_smtp(smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server.")),
                                "email") == "tls"


def test_recipient_refused():
    refused = smtplib.SMTPRecipientsRefused({"wang.fang@example.cn": (550, b"5.1.1 User unknown")})
    assert delivery_error_cause(_smtp(refused), "email") == "recipient_refused"


def test_a_temporary_smtp_refusal_is_explained_as_temporary():
    assert delivery_error_cause("SMTP: (421, 'Service not available')", "email") == "temporarily_refused"
    busy = smtplib.SMTPRecipientsRefused({"wang.fang@example.cn": (450, b"4.2.1 try again later")})
    assert delivery_error_cause(_smtp(busy), "email") == "temporarily_refused"


def test_email_not_configured():
    assert delivery_error_cause("SMTP_HOST is not configured", "email") == "not_configured"


def test_unknown_errors_get_no_explanation():
    assert delivery_error_cause("refused by wecom: invalid message type", "wecom") is None
    assert delivery_error_cause("", "email") is None and delivery_error_cause(None) is None
    assert explain_delivery_error("something odd happened", "email") is None


def test_every_cause_has_an_explanation():
    from rollout.notify.errors import ERROR_CODES, PATTERNS
    assert {cause for cause, _pattern in PATTERNS} | set(ERROR_CODES.values()) <= set(EXPLANATIONS)


# --- the outbox page -------------------------------------------------------------------------------------
def _dead(kind, target, error):
    message = queue_message(kind, target, "周报提醒", "请在周五前提交周报。")
    message.status, message.attempts, message.last_error = "dead", 8, error
    db.session.add(message)
    db.session.commit()
    return message


def test_outbox_page_explains_and_keeps_the_raw_message(client_as, company):
    raw = '{"errcode":310000,"errmsg":"sign not match"}'
    _dead("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=abc", raw)
    page = client_as("admin").get("/admin/outbox?status=dead").get_data(as_text=True)
    cell = page.split('data-testid="last-error">')[1].split("</td>")[0]
    assert "rejected the signature" in cell
    assert "<details" in cell and "Message from the receiver" in cell
    assert "{&#34;errcode&#34;:310000,&#34;errmsg&#34;:&#34;sign not match&#34;}" in cell


def test_outbox_page_in_chinese(app, company):
    _dead("email", "wang.fang@example.cn",
          _smtp(smtplib.SMTPRecipientsRefused({"wang.fang@example.cn": (550, b"5.1.1 User unknown")})))
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    login(client, company["admin"])
    cell = client.get("/admin/outbox?status=dead").get_data(as_text=True).split('data-testid="last-error">')[1]
    assert "邮件服务器拒绝了收件人地址" in cell and "接收方返回的原始信息" in cell


def test_outbox_says_whose_channel_or_which_departments_robot_a_message_is_for(client_as, company):
    from rollout.notify.models import DepartmentRobot
    webhook = "https://oapi.dingtalk.com/robot/send?access_token=dept"
    db.session.add(DepartmentRobot(department_id=company["departments"]["sales"].id, kind="dingtalk", target=webhook,
                                   name="销售部群"))
    personal = queue_message("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/x", "周报", "内容",
                             user_id=company["staff"].id)
    personal.status = "dead"
    db.session.add(personal)
    _dead("dingtalk", webhook, "timed out")
    page = client_as("admin").get("/admin/outbox?status=dead").get_data(as_text=True)
    assert company["staff"].display_name in page and "销售部" in page and "access_token" not in page


def test_unrecognised_errors_are_shown_as_they_are(client_as, company):
    _dead("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "refused by wecom: invalid message type")
    cell = client_as("admin").get("/admin/outbox").get_data(as_text=True).split('data-testid="last-error">')[1]
    cell = cell.split("</td>")[0]
    assert "refused by wecom: invalid message type" in cell and "<details" not in cell


@pytest.fixture
def quick_delivery(app, monkeypatch):
    monkeypatch.setitem(app.config, "OUTBOX_HTTP_TIMEOUT", 5)
    monkeypatch.setitem(app.config, "BASE_URL", "https://rollout.example.cn")


def test_real_delivery_failures_are_recognised(company, quick_delivery):
    """What the sender really stores: a wrong DingTalk secret and a robot address nobody listens on."""
    robots = RobotServer(secrets={"dingtalk": "SEC-the-right-secret"})
    try:
        db.session.add(queue_message("dingtalk", robots.base + "/dingtalk", "测试", "内容", secret="wrong"))
        db.session.add(queue_message("wecom", f"http://127.0.0.1:{free_port()}/wecom", "测试", "内容"))
        db.session.commit()
        drain_once()
    finally:
        robots.stop()
    causes = {m.kind: delivery_error_cause(m.last_error, m.kind) for m in db.session.scalars(select(OutboxMessage))}
    assert causes == {"dingtalk": "signature", "wecom": "connection_refused"}
