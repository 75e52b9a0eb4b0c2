"""Sending one outbox message: email over SMTP, or a chat robot's webhook in its own format.

Each platform gets its own JSON (markdown where it has it) and its own
request signing: DingTalk signs ``timestamp + "\\n" + secret`` with the
secret as HMAC-SHA256 key and takes ``timestamp`` and ``sign`` as query
parameters; Feishu/Lark uses ``timestamp + "\\n" + secret`` as the key of an
HMAC-SHA256 over an empty message and takes both in the body.  Every request
carries the message's idempotency key so a receiver can drop a repeat.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import quote_plus, urlsplit

from flask import current_app

from rollout.markdown import render_markdown

IDEMPOTENCY_HEADER = "Idempotency-Key"


class DeliveryError(Exception):
    """The receiver did not accept the message; the outbox will try again later."""


def absolute_link(link: str | None) -> str | None:
    """Links are stored as site paths; receivers outside the site need the full URL."""
    if not link:
        return None
    if link.startswith(("http://", "https://")):
        return link
    return current_app.config.get("BASE_URL", "").rstrip("/") + "/" + link.lstrip("/")


def markdown_text(subject: str, body: str, link: str | None, heading: str = "### ") -> str:
    """The message as Markdown: a heading, the body and a link to the page."""
    parts = [f"{heading}{subject}"]
    if body:
        parts.append(body)
    url = absolute_link(link)
    if url:
        parts.append(f"[{url}]({url})")
    return "\n\n".join(parts)


# --- signing -------------------------------------------------------------------
def dingtalk_signature(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign``: base64(HMAC-SHA256(key=secret, msg=timestamp\\nsecret))."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_signature(secret: str, timestamp_s: int) -> str:
    """Feishu's ``sign``: base64(HMAC-SHA256(key=timestamp\\nsecret, msg=empty))."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


# --- payloads --------------------------------------------------------------------
def dingtalk_request(message, now: float) -> tuple[str, dict]:
    """The URL (signed when a secret is set) and JSON body for a DingTalk group robot."""
    url = message.target
    if message.secret:
        timestamp = int(now * 1000)
        separator = "&" if "?" in url else "?"
        url = f"{url}{separator}timestamp={timestamp}&sign={quote_plus(dingtalk_signature(message.secret, timestamp))}"
    body = {"msgtype": "markdown",
            "markdown": {"title": message.subject, "text": fit(markdown_text(
                message.subject, message.body_markdown, message.link), MAX_BYTES["dingtalk"])}}
    return url, body


#: Largest message body each platform accepts, in UTF-8 bytes.
MAX_BYTES = {"dingtalk": 20000, "wecom": 4096, "feishu": 30000}


def fit(text: str, max_bytes: int) -> str:
    """Cut ``text`` to at most ``max_bytes`` of UTF-8 (never inside a character), marking the cut."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes - 4].decode("utf-8", "ignore") + " …"


def wecom_request(message, now: float) -> tuple[str, dict]:
    """WeCom (企业微信) group robots take markdown; they have no request signing."""
    return message.target, {"msgtype": "markdown", "markdown": {
        "content": fit(markdown_text(message.subject, message.body_markdown, message.link), MAX_BYTES["wecom"])}}


def feishu_request(message, now: float) -> tuple[str, dict]:
    """Feishu/Lark: an interactive card whose markdown element carries the body."""
    content = message.body_markdown or ""
    url = absolute_link(message.link)
    if url:
        content = f"{content}\n\n[{url}]({url})".strip()
    body: dict = {"msg_type": "interactive", "card": {
        "header": {"title": {"tag": "plain_text", "content": message.subject}},
        "elements": [{"tag": "markdown", "content": fit(content or message.subject, MAX_BYTES["feishu"])}],
    }}
    if message.secret:
        timestamp = int(now)
        body["timestamp"] = str(timestamp)
        body["sign"] = feishu_signature(message.secret, timestamp)
    return message.target, body


ROBOT_REQUESTS = {"dingtalk": dingtalk_request, "wecom": wecom_request, "feishu": feishu_request}


def _robot_accepted(kind: str, reply: dict) -> tuple[bool, str]:
    # The platforms answer HTTP 200 even when they refuse; the verdict is in the body.
    if kind == "feishu":
        code = reply.get("code", reply.get("StatusCode", 0))
        return code == 0, str(reply.get("msg") or reply.get("StatusMessage") or "")
    code = reply.get("errcode", 0)
    return code == 0, str(reply.get("errmsg") or "")


def send_robot(message, now: float | None = None) -> None:
    """POST the message to its robot webhook; raise DeliveryError unless the platform accepts it."""
    url, body = ROBOT_REQUESTS[message.kind](message, time.time() if now is None else now)
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError(f"not a web address: {url[:80]}")
    request = urllib.request.Request(
        url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8",
                 IDEMPOTENCY_HEADER: message.idempotency_key, "User-Agent": "RolloutDesk/1.0"})
    timeout = current_app.config.get("OUTBOX_HTTP_TIMEOUT", 10)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(65536)
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError) as error:
        raise DeliveryError(f"unreachable: {getattr(error, 'reason', error)}") from error
    try:
        reply = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        reply = {}
    accepted, detail = _robot_accepted(message.kind, reply if isinstance(reply, dict) else {})
    if not accepted:
        raise DeliveryError(f"refused by {message.kind}: {detail}"[:500])


def email_message(message) -> EmailMessage:
    """The email for an outbox message: plain Markdown text plus sanitised HTML."""
    config = current_app.config
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = config.get("SMTP_SENDER", "rollout@localhost")
    email["To"] = message.target
    email["Date"] = formatdate(localtime=False)
    # A Message-ID derived from the idempotency key lets mail systems drop a repeat.
    domain = config.get("SMTP_SENDER", "rollout@localhost").rpartition("@")[2] or "localhost"
    email["Message-ID"] = f"<{message.idempotency_key}@{domain}>" if message.idempotency_key else make_msgid()
    email[IDEMPOTENCY_HEADER] = message.idempotency_key
    text = markdown_text(message.subject, message.body_markdown, message.link, heading="")
    email.set_content(text)
    email.add_alternative(f"<html><body>{render_markdown(markdown_text(message.subject, message.body_markdown, message.link))}"
                          f"</body></html>", subtype="html")
    return email


def send_email(message) -> None:
    """Hand the message to the configured SMTP server; raise DeliveryError if it is not accepted."""
    config = current_app.config
    if not config.get("SMTP_HOST"):
        raise DeliveryError("SMTP_HOST is not configured")
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config.get("SMTP_PORT", 25),
                          timeout=config.get("OUTBOX_HTTP_TIMEOUT", 10)) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USER"):
                smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD", ""))
            smtp.send_message(email_message(message))
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"SMTP: {error}"[:500]) from error


def deliver(message) -> None:
    """Send one message on its channel; DeliveryError when it did not get through."""
    if message.kind == "email":
        send_email(message)
    elif message.kind in ROBOT_REQUESTS:
        send_robot(message)
    else:
        raise DeliveryError(f"unknown channel {message.kind}")
