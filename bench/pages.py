"""Server time and SQL statement count of key pages, in process (Flask test client, warm).

For each page: median and p95 of the request time over repeated GETs and the number of
SQL statements one request runs.  Goal: the same statement count at the demo size and the
large size; p95 ≤ 50 ms on SQLite at the large size (≤ 100 ms for the dashboard).
"""
from __future__ import annotations

import statistics
import time
from contextlib import contextmanager

WARMUP = 2
MAX_RUNS = 15
#: Stop repeating a page once it has used this many seconds (slow pages get fewer runs).
PAGE_BUDGET_SECONDS = 5.0
DASHBOARD_ENDPOINTS = {"dashboard.readiness"}


def page_list(app) -> list[tuple[str, str, str]]:
    """(label, username, path) of every measured page; ids looked up by stable codes and names."""
    from processmaps.models import Process
    from rollout.accounts.models import Department
    from rollout.extensions import db
    from rollout.plans.models import SalesPlan
    from rollout.timeutil import utcnow
    from sqlalchemy import func, select
    from surveys.models import Requirement
    from training.models import SESSION_SCHEDULED, TrainingSession
    with app.app_context():
        bench_department = db.session.scalar(select(Department.id).where(Department.code == "bench-d0"))
        sales = db.session.scalar(select(Department.id).where(Department.code == "sales"))
        unit = bench_department or sales
        big_map = db.session.scalar(select(Process.id).where(Process.name.like("%业务流程000")))
        company_plan = db.session.scalar(select(func.min(SalesPlan.id)).where(SalesPlan.level == "company"))
        requirement = db.session.scalar(select(func.min(Requirement.id)))
        coming_session = db.session.scalar(select(func.min(TrainingSession.id)).where(
            TrainingSession.status == SESSION_SCHEDULED, TrainingSession.starts_at > utcnow()))
    pages = [
        ("home (admin)", "admin", "/"),
        ("home (lead)", "lead", "/"),
        ("home (trainer)", "trainer", "/"),
        ("home (head)", "sales.head", "/"),
        ("home (staff)", "rep", "/"),
        ("dashboard: readiness", "lead", "/rollout/"),
        ("dashboard: adoption", "lead", "/rollout/adoption"),
        ("plan vs actual, company", "lead", "/plans/actual"),
        ("plan vs actual, one department", "lead", f"/plans/actual?unit={unit}"),
        ("customers, filtered by name", "admin", "/customers?q=%E5%8C%97%E4%BA%AC"),
        ("customers (staff, own)", "rep", "/customers"),
        ("requirements coverage", "lead", "/surveys/coverage"),
        ("change requests, all", "lead", "/changes/all"),
        ("change board", "lead", "/changes/board"),
        ("training completion matrix (company)", "lead", "/training/matrix"),
        ("training completion matrix (head)", "bench.u0" if bench_department else "sales.head", "/training/matrix"),
        ("audit trail, filtered by action", "admin", "/audit/?action=export"),
        ("audit trail, filtered by department user", "admin", "/audit/?username=bench.u7"),
        ("follow-ups, all", "lead", "/activities"),
        ("follow-ups, visits", "lead", "/activities?kind=visit"),
        ("deals, all", "lead", "/deals"),
        ("public pool", "lead", "/customers/pool"),
        ("new change request (step picker)", "rep", "/changes/new"),
        ("seed users", "lead", "/training/seeds"),
    ]
    for label, user, path, found in (
            ("company plan", "lead", "/plans/{}", company_plan),
            ("requirement (step picker)", "lead", "/surveys/requirements/{}", requirement),
            ("coming training session (sign-up list)", "lead", "/training/sessions/{}", coming_session)):
        if found:
            pages.append((label, user, path.format(found)))
    if big_map:
        pages.append(("process map, 200 nodes", "lead", f"/processes/{big_map}/v/1"))
    return pages


@contextmanager
def counting_statements(engine):
    """Collect the SQL statements run while the block runs."""
    from sqlalchemy import event
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "PRAGMA")):
            statements.append(statement)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def client_for(app, username: str):
    """A test client logged in as ``username`` (session set directly, no password hashing)."""
    from rollout.accounts.models import User
    from rollout.extensions import db
    from sqlalchemy import select
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        user_key = user.get_id()
    client = app.test_client()
    from rollout.extensions import login_manager
    with app.test_request_context(environ_base=client.environ_base):
        identifier = login_manager._session_identifier_generator()  # as stored by a real login
    with client.session_transaction() as session:
        session["_user_id"] = user_key
        session["_fresh"] = True
        session["_id"] = identifier
    return client


def measure_page(app, client, path: str) -> dict:
    """Warm up, time one GET with the figure cache empty, then repeated GETs of ``path``; statement
    counts of the uncached and a warm request."""
    from rollout.extensions import db
    for _ in range(WARMUP):
        response = client.get(path)
    status = response.status_code
    with app.app_context():
        engine = db.engine
    # Once with nothing cached (what the first view after a write costs), then warm.
    from rollout import figures
    figures.clear()
    with counting_statements(engine) as computing:
        started = time.perf_counter()
        client.get(path)
        computing_ms = (time.perf_counter() - started) * 1000
    from flask import template_rendered
    rendered = []
    with counting_statements(engine) as statements, template_rendered.connected_to(
            lambda sender, template, context, **extra: rendered.append(template.name), app):
        client.get(path)
    times = []
    spent_since = time.perf_counter()
    while len(times) < MAX_RUNS and (len(times) < 3 or time.perf_counter() - spent_since < PAGE_BUDGET_SECONDS):
        started = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    # A kept page (rollout.figures.whole_page_cached) renders nothing and reads its key with one
    # statement outside the ORM, which the statement counter does not see.
    return {"status": status, "statements": len(statements), "kept_page": not rendered,
            "statements_computing": len(computing),
            "computing_ms": computing_ms, "median_ms": statistics.median(times),
            "p95_ms": p95, "runs": len(times), "bytes": len(response.data)}


def run(app) -> list[dict]:
    """Measure every page of page_list(app); one row per page."""
    rows = []
    clients = {}
    for label, username, path in page_list(app):
        if username not in clients:
            clients[username] = client_for(app, username)
        result = measure_page(app, clients[username], path)
        result.update(label=label, user=username, path=path,
                      goal_ms=100 if path.startswith("/rollout/") and path == "/rollout/" else 50)
        rows.append(result)
        print(f"    {label:<45} {result['status']} {result['statements']:>4} stmts "
              f"({result['statements_computing']} uncached, {result['computing_ms']:.0f} ms) "
              f"median {result['median_ms']:8.1f} ms  p95 {result['p95_ms']:8.1f} ms", flush=True)
    return rows
