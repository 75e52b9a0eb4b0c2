"""Load run: simulated users against gunicorn on SQLite or PostgreSQL.

    python -m tests.reliability.load --db sqlite --users 50 --seconds 60
    python -m tests.reliability.load --db postgres --users 50 --seconds 60

Builds a fresh database with the demo data, starts gunicorn on 127.0.0.1,
logs every simulated user in through the login form and lets them browse and
write for the given time: retro cards, change requests, customer activities,
survey answers by personal link and sign-ups for a training session with few
seats. Afterwards it checks that there was no 5xx, that every acknowledged
write is in the database and that the session is not overbooked, and prints
request counts and latency percentiles. Exit status 0 only when all holds.

Rate limiting is switched off for the run: every simulated user comes from
127.0.0.1, where real users would come from many addresses.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "rollout-demo-2026"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres"
SESSION_SEATS = 5
USERNAMES = ["rep"] + [f"rep{n}" for n in range(2, 15)] + [f"mkt{n}" for n in range(1, 5)] + \
    [f"fin{n}" for n in range(1, 4)] + [f"svc{n}" for n in range(1, 5)] + [f"it{n}" for n in range(1, 4)] + \
    ["team1.head", "team2.head", "sales.head", "svc.head", "mkt.head", "lead"]


# --- forms -----------------------------------------------------------------------------------
class _Forms(HTMLParser):
    """Every <form> on a page: action, method and the values a browser would send."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(), "fields": []}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "file", "reset"):
                return
            if kind in ("radio", "checkbox"):
                # One choice per name: the first one on the page.
                if any(name == a["name"] for name, _v, _k in self._form["fields"]):
                    return
                self._form["fields"].append((a["name"], a.get("value", "on"), kind))
            else:
                self._form["fields"].append((a["name"], a.get("value", ""), kind))
        elif tag == "select" and a.get("name"):
            self._select = [a["name"], None, "multiple" in a]
        elif tag == "option" and self._select is not None and self._select[1] is None:
            if a.get("value", "x") not in ("", "0", "-1") and not self._select[2]:
                self._select[1] = a.get("value")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form["fields"].append((a["name"], "", "textarea"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select is not None:
            name, value, _multiple = self._select
            if value is not None and self._form is not None:
                self._form["fields"].append((name, value, "select"))
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def find_form(html: str, action_pattern: str, page: str = "") -> dict | None:
    """The first POST form whose action (the page itself when empty) matches ``action_pattern``."""
    parser = _Forms()
    parser.feed(html)
    for form in parser.forms:
        form["action"] = urllib.parse.urlsplit(form["action"]).path or page
        if form["method"] == "post" and re.search(action_pattern, form["action"]):
            return form
    return None


def fill(form: dict, text: str, overrides: dict | None = None) -> list[tuple[str, str]]:
    """Values for a form: hidden fields and choices as given, empty text fields filled with ``text``."""
    values, ranks = [], {}
    for name, value, kind in form["fields"]:
        if kind == "number" and "__" in name:  # ranking questions: 1..n per question
            prefix = name.split("__")[0]
            ranks[prefix] = ranks.get(prefix, 0) + 1
            value = str(ranks[prefix])
        elif kind == "number" and not value:
            value = "3"
        elif kind == "date" and not value:
            value = time.strftime("%Y-%m-%d")
        elif kind == "datetime-local" and not value:
            value = time.strftime("%Y-%m-%dT%H:%M")
        elif kind in ("text", "textarea", "search") and not value:
            value = text
        elif kind == "email" and not value:
            value = "load@example.com"
        values.append((name, value))
    for name, value in (overrides or {}).items():
        values = [(n, v) for n, v in values if n != name] + [(name, value)]
    return values


# --- HTTP ----------------------------------------------------------------------------------
@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    acknowledged: dict[str, list] = field(default_factory=dict)
    by_route: dict[str, list] = field(default_factory=dict)

    def record(self, method, url, status, seconds):
        route = method + " " + re.sub(r"/respond/[^/]+", "/respond/<token>", re.sub(r"/\d+", "/<id>", url))
        with self.lock:
            self.latencies.append(seconds)
            self.by_route.setdefault(route, []).append(seconds)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status >= 500:
                self.server_errors.append(f"{method} {url} → {status}")

    def ack(self, kind, value):
        with self.lock:
            self.acknowledged.setdefault(kind, []).append(value)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One simulated user: a cookie jar, no automatic redirects, timings into ``stats``."""

    def __init__(self, base: str, stats: Stats):
        self.base, self.stats = base, stats
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  _NoRedirect())

    def request(self, path, data=None):
        url = self.base + path
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, headers={"Accept-Language": "en"})
        started = time.perf_counter()
        try:
            with self.opener.open(req, timeout=120) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode("utf-8", "replace")
        self.stats.record("POST" if data is not None else "GET", path, status, time.perf_counter() - started)
        return status, text

    def submit(self, page, action_pattern, text, overrides=None):
        """Open ``page``, fill its form whose action matches, post it; (status, body) or None."""
        status, html = self.request(page)
        form = find_form(html, action_pattern, page) if status == 200 else None
        if form is None:
            return None
        return self.request(form["action"], fill(form, text, overrides))

    def login(self, username):
        result = self.submit("/login", r"login", "", {"username": username, "password": DEMO_PASSWORD})
        if result is None or result[0] not in (302, 303):
            raise RuntimeError(f"login failed for {username}: {result and result[0]}")


# --- set-up ----------------------------------------------------------------------------------
def database_url(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'rollout.db'}"
    from sqlalchemy import create_engine, text
    name = "rollout_load"
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def prepare(url: str) -> dict:
    """Schema, demo data and the objects the run writes to; returns their ids and tokens."""
    from sqlalchemy import select

    from rollout import create_app
    from rollout.accounts.models import User
    from rollout.audit.services import acting_as
    from rollout.demo import load_demo
    from rollout.extensions import db
    from rollout.plans.models import Customer
    from rollout.retros.models import Retro
    from rollout.timeutil import utcnow
    from surveys.models import Survey, SurveyInvitation
    from surveys.services import accepting_answers
    from training.models import Enrolment as TrainingEnrolment, TrainingSession

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": None})
    with app.app_context():
        db.create_all()
        load_demo(force=True)
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        with acting_as(admin):
            # Few seats, many takers: the session must never hold more than its capacity.
            session = db.session.scalars(select(TrainingSession).where(TrainingSession.status == "scheduled")
                                         .order_by(TrainingSession.id)).first()
            session.capacity = SESSION_SEATS
            start = utcnow() + timedelta(days=10)
            session.starts_at, session.ends_at = start, start + timedelta(hours=2)
            session.signup_deadline_at = session.cancel_deadline_at = None
            session.target_roles = ""
            for enrolment in db.session.scalars(select(TrainingEnrolment)
                                                .where(TrainingEnrolment.session_id == session.id)):
                db.session.delete(enrolment)
            # Fresh personal survey links for every user on every open survey.
            users = db.session.scalars(select(User)).all()
            tokens = []
            for survey in db.session.scalars(select(Survey)).all():
                if not accepting_answers(survey):
                    continue
                invited = set(db.session.scalars(select(SurveyInvitation.user_id)
                                                 .where(SurveyInvitation.survey_id == survey.id)))
                for user in users:
                    if user.id not in invited:
                        invitation = SurveyInvitation(survey=survey, user_id=user.id, department_id=user.department_id,
                                                      invited_on=utcnow().date())
                        db.session.add(invitation)
                        db.session.flush()
                        tokens.append(invitation.token)
            db.session.commit()
        customers = {}
        for user_id, customer_id in db.session.execute(
                select(Customer.owner_id, Customer.id).where(Customer.owner_id.is_not(None),
                                                             Customer.deleted_at.is_(None))):
            customers.setdefault(user_id, []).append(customer_id)
        usernames = {u.username: u.id for u in db.session.scalars(select(User))}
        retros = [r.id for r in db.session.scalars(select(Retro))]
        result = {"session_id": session.id, "tokens": tokens, "retros": retros,
                  "customers": {name: customers.get(uid, []) for name, uid in usernames.items()}}
        db.session.remove()
        db.engine.dispose()
    return result


def verify(url: str, targets: dict, stats: Stats) -> list[str]:
    """Problems found in the database after the run (empty list: everything acknowledged is there)."""
    from sqlalchemy import func, select

    from changes.models import ChangeRequest
    from rollout import create_app
    from rollout.extensions import db
    from rollout.plans.models import Activity
    from rollout.retros.models import RetroCard
    from surveys.models import SurveyInvitation, SurveyResponse
    from training.models import Enrolment as TrainingEnrolment, TrainingSession

    problems = []
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": None})
    acks = stats.acknowledged
    with app.app_context():
        checks = [("card", RetroCard.body), ("change", ChangeRequest.title), ("activity", Activity.outcome)]
        for kind, column in checks:
            stored = set(db.session.scalars(select(column).where(column.like("LOAD-%"))))
            missing = [m for m in acks.get(kind, []) if m not in stored]
            if missing:
                problems.append(f"{len(missing)} acknowledged {kind} writes missing, e.g. {missing[:3]}")
        tokens = acks.get("answer", [])
        if tokens:
            answered = db.session.scalar(select(func.count()).select_from(SurveyInvitation)
                                         .where(SurveyInvitation.token.in_(tokens), SurveyInvitation.has_responded))
            if answered != len(tokens):
                problems.append(f"{len(tokens) - answered} acknowledged survey answers missing")
            responses = db.session.scalar(select(func.count()).select_from(SurveyResponse))
            if responses < len(tokens):
                problems.append(f"only {responses} survey responses for {len(tokens)} acknowledged answers")
        session = db.session.get(TrainingSession, targets["session_id"])
        enrolled = db.session.scalars(select(TrainingEnrolment.user_id).where(
            TrainingEnrolment.session_id == session.id, TrainingEnrolment.status == "enrolled")).all()
        if len(enrolled) > session.capacity:
            problems.append(f"session overbooked: {len(enrolled)} enrolled for {session.capacity} seats")
        signed_up = set(db.session.scalars(select(TrainingEnrolment.user_id).where(
            TrainingEnrolment.session_id == session.id, TrainingEnrolment.status.in_(("enrolled", "waitlisted")))))
        from rollout.accounts.models import User
        ids = {u.username: u.id for u in db.session.scalars(select(User))}
        lost = [name for name in set(acks.get("enrol", [])) if ids[name] not in signed_up]
        if lost:
            problems.append(f"acknowledged sign-ups missing for {lost}")
        stats.counted = {"enrolled": len(enrolled), "signed_up": len(signed_up), "capacity": session.capacity}
        db.session.remove()
        db.engine.dispose()
    return problems


# --- the simulated user ---------------------------------------------------------------------------
READ_PAGES = ["/", "/customers", "/changes/", "/training/", "/surveys/", "/retros/", "/notifications",
              "/training/faq"]


def simulated_user(base, username, targets, stats, deadline, token_pool, seed):
    rng = random.Random(seed)
    browser = Browser(base, stats)
    browser.login(username)
    own_customers = targets["customers"].get(username, [])
    session_id = targets["session_id"]
    while time.monotonic() < deadline:
        marker = f"LOAD-{uuid.uuid4().hex[:12]}"
        choice = rng.random()
        if choice < 0.45:
            browser.request(rng.choice(READ_PAGES))
        elif choice < 0.55:
            retro_id = rng.choice(targets["retros"])
            result = browser.submit(f"/retros/{retro_id}", rf"/retros/{retro_id}/cards$", marker)
            if result and result[0] == 302:
                stats.ack("card", marker)
        elif choice < 0.65:
            result = browser.submit("/changes/new", r"/changes/new", marker)
            if result and result[0] == 302:
                stats.ack("change", marker)
        elif choice < 0.80 and own_customers:
            customer_id = rng.choice(own_customers)
            result = browser.submit(f"/customers/{customer_id}?tab=activities", rf"/customers/{customer_id}/activities$",
                                    marker)
            if result and result[0] == 302:
                stats.ack("activity", marker)
        elif choice < 0.90:
            with stats.lock:
                token = token_pool.pop() if token_pool else None
            if token:
                result = browser.submit(f"/surveys/respond/{token}", r"/surveys/respond/", marker,
                                        {"action": "submit"})
                if result and result[0] == 200 and find_form(result[1], r"/surveys/respond/") is None:
                    stats.ack("answer", token)
        else:
            result = browser.submit(f"/training/sessions/{session_id}", rf"/training/sessions/{session_id}/enrol$",
                                    marker)
            if result and result[0] == 302:
                stats.ack("enrol", username)


# --- the run ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(base: str, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            urllib.request.urlopen(base + "/login", timeout=2).read()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def run(db_kind="sqlite", users=50, seconds=60, workers=4, threads=8) -> dict:
    """Run the load and return the figures; ``problems`` lists what did not hold."""
    folder = Path(tempfile.mkdtemp(prefix="rollout-load-"))
    url = database_url(db_kind, folder)
    env = {**os.environ, "ROLLOUT_INSTANCE": str(folder), "DATABASE_URL": url, "SECRET_KEY": "load-" + uuid.uuid4().hex,
           "UPLOAD_FOLDER": str(folder / "uploads"), "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST": "8192",
           "ARGON2_PARALLELISM": "1"}
    targets = prepare(url)
    token_pool = list(targets["tokens"])
    random.Random(1).shuffle(token_pool)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    process = subprocess.Popen(
        [gunicorn, "--workers", str(workers), "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
         "--timeout", "120", "--log-level", "warning", "rollout:create_app({'RATELIMIT_ENABLED': False})"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(folder / "gunicorn.log", "w"))
    stats = Stats()
    try:
        _wait_for(base, process)
        deadline = time.monotonic() + seconds
        errors = []

        # Users arrive over the first seconds, not all in the same instant (logins hash passwords).
        ramp = min(0.2, seconds / (4 * users))

        def worker(n):
            time.sleep(n * ramp)
            try:
                simulated_user(base, USERNAMES[n % len(USERNAMES)], targets, stats, deadline, token_pool, n)
            except Exception as error:  # a crashed simulated user is a failed run, not a silent one
                errors.append(f"user {n}: {error!r}")

        pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(users)]
        started = time.monotonic()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(timeout=seconds + 180)
        elapsed = time.monotonic() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    problems = list(errors) + [f"5xx: {e}" for e in stats.server_errors[:20]]
    problems += verify(url, targets, stats)
    figures = {
        "database": db_kind, "users": users, "seconds": seconds, "elapsed": round(elapsed, 1),
        "requests": len(stats.latencies), "requests_per_second": round(len(stats.latencies) / elapsed, 1),
        "statuses": dict(sorted(stats.statuses.items())),
        "p50_ms": round(percentile(stats.latencies, 0.50) * 1000), "p95_ms": round(percentile(stats.latencies, 0.95) * 1000),
        "p99_ms": round(percentile(stats.latencies, 0.99) * 1000),
        # Reads and writes apart: writes wait for SQLite's single writer, reads do not.
        **{f"{method.lower()}_p95_ms": round(percentile(
            [t for route, times in stats.by_route.items() if route.startswith(method + " ") for t in times],
            0.95) * 1000) for method in ("GET", "POST")},
        "slowest_routes_p95_ms": dict(sorted(((route, round(percentile(times, 0.95) * 1000))
                                              for route, times in stats.by_route.items()),
                                             key=lambda item: -item[1])[:6]),
        "acknowledged_writes": {kind: len(v) for kind, v in stats.acknowledged.items()},
        "session": getattr(stats, "counted", {}), "problems": problems,
    }
    if not problems:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        figures["folder"] = str(folder)
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    # The set-up builds the app in this process too: keep its instance files out of the project.
    os.environ.setdefault("ROLLOUT_INSTANCE", tempfile.mkdtemp(prefix="rollout-load-instance-"))
    if not (1 <= args.users <= 200 and 1 <= args.seconds <= 600):
        parser.error("users must be 1..200 and seconds 1..600")
    figures = run(args.db, args.users, args.seconds, args.workers, args.threads)
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
