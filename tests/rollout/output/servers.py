"""Real servers on 127.0.0.1 for delivery tests: chat-robot webhooks that can fail, and SMTP (aiosmtpd)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line


class RobotServer:
    """Answers like DingTalk (/dingtalk), WeCom (/wecom) and Feishu (/feishu) group robots.

    The first ``failures`` requests get HTTP 500 (the platform is down); after
    that each request is checked like the platform does (signature when a
    secret is known) and accepted or refused in the platform's JSON.
    """

    def __init__(self, failures: int = 0, secrets: dict[str, str] | None = None):
        self.failures_left = failures
        self.secrets = secrets or {}
        self.requests: list[dict] = []
        self.accepted: list[dict] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = urlsplit(self.path)
                record = {"path": parts.path, "query": parse_qs(parts.query), "headers": dict(self.headers),
                          "body": json.loads(body.decode("utf-8")),
                          "key": self.headers.get("Idempotency-Key")}
                with server.lock:
                    server.requests.append(record)
                    failing = server.failures_left > 0
                    if failing:
                        server.failures_left -= 1
                if failing:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"upstream down")
                    return
                verdict = server.check(record)
                if verdict is None:
                    with server.lock:
                        server.accepted.append(record)
                reply = server.reply(parts.path, verdict)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def check(self, record) -> str | None:
        """None when the platform would accept the request, else its complaint."""
        kind = record["path"].strip("/")
        secret = self.secrets.get(kind)
        if kind == "dingtalk":
            body = record["body"]
            if body.get("msgtype") != "markdown" or not body["markdown"].get("text"):
                return "bad message"
            if secret:
                timestamp = record["query"].get("timestamp", [""])[0]
                sign = record["query"].get("sign", [""])[0]
                expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                                     hashlib.sha256).digest()).decode()
                if sign != expected or abs(time.time() * 1000 - int(timestamp or 0)) > 3600_000:
                    return "sign not match"
        elif kind == "wecom":
            if record["body"].get("msgtype") != "markdown" or not record["body"]["markdown"].get("content"):
                return "bad message"
        elif kind == "feishu":
            body = record["body"]
            if body.get("msg_type") != "interactive":
                return "bad message"
            if secret:
                timestamp = body.get("timestamp", "")
                expected = base64.b64encode(hmac.new(f"{timestamp}\n{secret}".encode(), b"",
                                                     hashlib.sha256).digest()).decode()
                if body.get("sign") != expected or abs(time.time() - int(timestamp or 0)) > 3600:
                    return "sign match fail or timestamp is not within one hour from current time"
        return None

    @staticmethod
    def reply(path: str, verdict: str | None) -> dict:
        if path.strip("/") == "feishu":
            return {"code": 0, "msg": "success"} if verdict is None else {"code": 19021, "msg": verdict}
        return {"errcode": 0, "errmsg": "ok"} if verdict is None else {"errcode": 310000, "errmsg": verdict}

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailCollector:
    """aiosmtpd handler keeping every accepted message."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


def start_smtp(port: int) -> tuple[Controller, MailCollector]:
    collector = MailCollector()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, collector


