"""HTTP throughput: gunicorn (2 workers, as ``make run``) serving the logged-in dashboard, then a
bare Flask app returning a constant string, each driven by wrk on 127.0.0.1 for a bounded time.

Goal: the dashboard at 30 % or more of bare Flask's requests/s.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

WORKERS = 2
DURATION = "10s"
#: A first run, not counted, so every worker has built its page and opened its connection.
WARM_UP = "3s"
THREADS = 2
CONNECTIONS = 8
#: Sent with the login and by wrk: one browser, as Flask-Login's session protection expects.
USER_AGENT = "rollout-bench/1.0"
BARE_APP = '''
from flask import Flask
app = Flask(__name__)

@app.route("/")
def index():
    return "ok"
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not start on port {port}")


def _gunicorn(app_spec: str, port: int, env: dict, cwd: str) -> subprocess.Popen:
    binary = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen([str(binary), "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}", app_spec],
                               env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_until_up(port)
    return process


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wrk(url: str, headers: list[str], duration: str = DURATION) -> dict:
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}", "--latency"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], capture_output=True, text=True, timeout=120, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1, "s": 1000}
    return {"rps": rate, "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "p50_ms": float(p50.group(1)) * scale[p50.group(2)] if p50 else None}


def _login_cookie(port: int, username: str, password: str) -> str:
    """Log in through the form (CSRF token from the page) and return the Cookie header value."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    page = opener.open(f"http://127.0.0.1:{port}/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    fields = {"username": username, "password": password}
    if token:
        fields["csrf_token"] = token.group(1)
    opener.open(f"http://127.0.0.1:{port}/login", data=urllib.parse.urlencode(fields).encode(), timeout=30).read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    check = urllib.request.Request(f"http://127.0.0.1:{port}/rollout/",
                                   headers={"Cookie": cookie, "User-Agent": USER_AGENT})
    with urllib.request.urlopen(check, timeout=60) as response:
        if response.geturl().rstrip("/").endswith("/login"):
            raise RuntimeError("login for the HTTP benchmark failed")
    return cookie


def run(instance: Path, username: str = "lead", password: str = "rollout-demo-2026") -> list[dict]:
    """Requests/s of the logged-in dashboard and of bare Flask, and their ratio."""
    if shutil.which("wrk") is None:
        return [{"name": "wrk", "value": "not installed (apt-get install -y wrk)", "unit": ""}]
    project = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, ROLLOUT_INSTANCE=str(instance), RATELIMIT_ENABLED="0")
    if not os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = f"sqlite:///{instance / 'bench.db'}"
    port = _free_port()
    server = _gunicorn("rollout:create_app()", port, env, project)
    try:
        cookie = _login_cookie(port, username, password)
        headers = [f"Cookie: {cookie}", f"User-Agent: {USER_AGENT}"]
        _wrk(f"http://127.0.0.1:{port}/rollout/", headers, WARM_UP)
        dashboard = _wrk(f"http://127.0.0.1:{port}/rollout/", headers)
    finally:
        _stop(server)
    with tempfile.TemporaryDirectory(prefix="bare-flask-") as folder:
        Path(folder, "bare_app.py").write_text(BARE_APP)
        port = _free_port()
        server = _gunicorn("bare_app:app", port, dict(os.environ), folder)
        try:
            _wrk(f"http://127.0.0.1:{port}/", [f"User-Agent: {USER_AGENT}"], WARM_UP)
            bare = _wrk(f"http://127.0.0.1:{port}/", [f"User-Agent: {USER_AGENT}"])
        finally:
            _stop(server)
    ratio = dashboard["rps"] / bare["rps"] * 100 if bare["rps"] else 0
    return [
        {"name": f"dashboard /rollout/ as {username} (gunicorn {WORKERS} workers, wrk {THREADS}t/{CONNECTIONS}c/{DURATION})",
         "value": round(dashboard["rps"], 1), "unit": "req/s", "goal": ""},
        {"name": "dashboard median latency", "value": dashboard["p50_ms"], "unit": "ms", "goal": ""},
        {"name": "dashboard non-2xx responses", "value": dashboard["non_2xx"], "unit": "", "goal": "0"},
        {"name": "bare Flask constant string (same settings)", "value": round(bare["rps"], 1), "unit": "req/s",
         "goal": ""},
        {"name": "dashboard / bare Flask", "value": round(ratio, 1), "unit": "%", "goal": "≥ 30 %"},
    ]
