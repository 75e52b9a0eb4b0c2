"""Delivery errors in plain words for the outbox page.

The outbox keeps each platform's own message (``refused by dingtalk: sign not
match``, ``SMTP: (535, b'5.7.8 ...')``, ``unreachable: timed out``, or a raw
reply such as ``{"errcode":310000,"errmsg":"keywords not in content"}``).
Admins need to know what to fix, so the common causes are recognised here and
explained; the page keeps the raw message underneath.
"""
from __future__ import annotations

import json
import re

from flask_babel import lazy_gettext as _l

ROBOT_KINDS = ("dingtalk", "wecom", "feishu")

#: What to tell the admin for each recognised cause.
EXPLANATIONS = {
    "signature": _l("The platform rejected the signature: the robot's signing secret does not match the one set in "
                    "the group robot, or this server's clock is more than an hour off. Copy the secret again."),
    "login": _l("The mail server refused the login: check the SMTP user name and password (some providers "
                "require an app password or authorisation code instead of the mailbox password)."),
    "keyword": _l("The robot only accepts messages that contain its security keyword. Add the keyword to the "
                  "robot's settings in the group, or switch the robot's security setting to signing."),
    "ip_not_allowed": _l("The robot only accepts messages from listed IP addresses. Add this server's outgoing IP "
                         "address to the robot's IP allowlist."),
    "webhook": _l("The platform does not know this robot address: the robot was removed, the group was dissolved "
                  "or the address was copied incompletely. Copy the webhook address again."),
    "rate_limited": _l("The platform is limiting how fast messages may arrive (DingTalk allows 20 a minute per "
                       "robot). The outbox tries again later; if this keeps happening, send fewer messages, "
                       "for example with the daily digest."),
    "connection_refused": _l("Nothing accepted the connection at that address: the server is down, the port is "
                             "wrong or a firewall blocks it."),
    "timeout": _l("The server did not answer in time. Check the network path from this server (proxy, firewall) "
                  "and whether the receiving server is overloaded."),
    "dns": _l("The server's name could not be resolved. Check the host name and this server's DNS settings."),
    "tls": _l("The secure connection failed: the certificate is not trusted or has expired, or the encryption "
              "settings do not match (for example STARTTLS on a port that expects SSL)."),
    "recipient_refused": _l("The mail server refused the recipient address. Check the person's email address; the "
                            "mailbox may not exist or may be full."),
    "not_configured": _l("Email is not set up on this server: SMTP_HOST is missing from the configuration."),
    "temporarily_refused": _l("The mail server turned the message away for now (busy, or limiting how fast mail "
                              "may arrive). The outbox tries again later; nothing needs doing unless it keeps "
                              "happening."),
}

#: Platform error codes (DingTalk and WeCom ``errcode``, Feishu ``code``) by cause.
ERROR_CODES = {
    19021: "signature", 19024: "keyword", 19022: "ip_not_allowed", 19001: "webhook",
    300001: "webhook", 400013: "webhook", 93000: "webhook",
    130101: "rate_limited", 410100: "rate_limited", 45009: "rate_limited", 11232: "rate_limited",
}

#: Patterns in the message text by cause, tried in order (more specific causes first).
PATTERNS = [
    ("not_configured", r"smtp_host is not configured"),
    ("keyword", r"key ?words?"),
    ("ip_not_allowed", r"\bip\b.*\b(not in whitelist|not allowed)\b|\bip not allowed\b"),
    ("signature", r"\bsign(ature)?\b.*\b(not match|match fail|mismatch|invalid)|timestamp is not within"),
    ("webhook", r"token is not exist|invalid webhook|access token invalid|robot (does )?not exist|^http 404\b"),
    ("rate_limited", r"too fast|too many|freq(uency)? (out of )?limit|rate.?limit|^http 429\b"),
    ("recipient_refused", r"^smtp: \{'[^']*': \(5\d\d|recipient|user unknown|no such user|"
                          r"mailbox (unavailable|not found|full)|\b5\.1\.1\b"),
    ("login", r"\b53[45]\b|authenticat|username and password"),
    # SMTP's 4xx replies are temporary by definition: 421 service not available, 450/451/452 try later.
    ("temporarily_refused", r"^smtp: \(4\d\d\b|^smtp: \{'[^']*': \(4\d\d\b"),
    ("tls", r"\bssl\b|\btls\b|starttls|certificate"),
    ("timeout", r"timed out|timeout"),
    ("dns", r"name or service not known|name resolution|getaddrinfo|nodename nor servname|errno -[23]\b"),
    ("connection_refused", r"connection refused|errno 111\b|errno 61\b|actively refused"),
]
_COMPILED = [(cause, re.compile(pattern, re.IGNORECASE)) for cause, pattern in PATTERNS]
_JSON_OBJECT = re.compile(r"\{.*\}", re.S)


def _platform_code(raw: str) -> int | None:
    match = _JSON_OBJECT.search(raw)
    if not match:
        return None
    try:
        reply = json.loads(match.group(0))
    except ValueError:
        return None
    if not isinstance(reply, dict):
        return None
    code = reply.get("errcode", reply.get("code", reply.get("StatusCode")))
    return code if isinstance(code, int) else None


def delivery_error_cause(raw: str | None, kind: str | None = None) -> str | None:
    """The recognised cause of a stored delivery error (a key of EXPLANATIONS), or None."""
    if not raw:
        return None
    text = raw.strip()
    cause = ERROR_CODES.get(_platform_code(text))
    if cause:
        return cause
    for name, pattern in _COMPILED:
        if pattern.search(text):
            return name
    if re.match(r"http 40[13]\b", text, re.IGNORECASE):
        return "signature" if kind in ROBOT_KINDS else "login"
    return None


def explain_delivery_error(raw: str | None, kind: str | None = None) -> str | None:
    """A short explanation of a delivery error in the reader's language, or None when the cause is unknown."""
    cause = delivery_error_cause(raw, kind)
    return str(EXPLANATIONS[cause]) if cause else None
