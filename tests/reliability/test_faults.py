"""Faults: a killed import, write-lock contention on SQLite, a service failing part-way.

An SMTP server or chat-robot webhook that is down for a while loses no
message: see tests/rollout/output/test_delivery.py
(test_email_waits_while_the_smtp_server_is_down_then_arrives_once,
test_robots_get_every_message_exactly_once_after_an_outage,
test_a_worker_that_died_mid_send_leaves_the_message_to_the_next_one).
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from changes.models import ChangeRequest, ChangeTransition
from rollout.audit.models import AuditEntry
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.imports import services as import_services
from rollout.imports.models import FAILED, RUNNING, ImportBatch, ImportChunk
from rollout.plans.models import Customer
from rollout.timeutil import utcnow
from tests.conftest import is_postgres

CLI_CHUNK = 5000  # rows per committed chunk in `rollout import`
ROWS = 15000


def _count(model, *where) -> int:
    """Committed rows, seen from a connection of its own."""
    db.session.rollback()  # the test's own session may hold SQLite's write lock (work outside a request)
    with db.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model).where(*where))


def _customer_file(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["客户名称", "联系方式"])
        for n in range(ROWS):
            writer.writerow([f"压力测试客户{n:05d}有限公司", f"139{n:08d}"])
    return path


def test_an_import_killed_mid_run_keeps_whole_chunks_only_and_runs_again(app, company, runner, tmp_path):
    file = _customer_file(tmp_path / "customers.csv")
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "test-secret",
           "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"], "ROLLOUT_INSTANCE": str(tmp_path)}
    rollout = str(Path(sys.executable).with_name("rollout"))
    process = subprocess.Popen([rollout, "import", "customers", str(file), "--as", "admin", "--department", "sales"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # The CLI reports progress after each committed chunk: kill it right after the first one.
        deadline = time.monotonic() + 120
        for line in process.stderr:
            if "rows …" in line or time.monotonic() > deadline:
                break
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    imported = _count(Customer)
    assert 0 < imported < ROWS, "the kill must land in the middle of the import"
    assert imported % CLI_CHUNK == 0, f"{imported} rows: a chunk was committed in part"
    batch = db.session.scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
    chunks = db.session.scalars(select(ImportChunk).where(ImportChunk.batch_id == batch.id)).all()
    recorded = sum(len(ids) for chunk in chunks for ids in (chunk.created_ids or {}).values())
    assert recorded == imported, "every imported row is recorded in its chunk (so it can be undone)"
    assert batch.status == RUNNING  # the killed run never got to finish or fail

    # While it might still be alive it cannot be ended; once stale, it is marked interrupted and can be undone.
    admin = company["admin"]
    with pytest.raises(ServiceError):
        import_services.mark_interrupted(batch, admin)
    import_services.mark_interrupted(batch, admin, now=utcnow() + timedelta(hours=1))
    db.session.commit()
    assert batch.status == FAILED
    import_services.undo_import(batch, admin)
    db.session.commit()
    assert _count(Customer) == 0

    # Run again: rows already there are skipped as duplicates, the rest is created, none twice.
    result = runner.invoke(args=["import", "customers", str(file), "--as", "admin", "--department", "sales"])
    assert result.exit_code == 0, result.output
    assert _count(Customer) == ROWS, result.output
    assert db.session.scalar(select(func.count(func.distinct(Customer.name)))) == ROWS


def _change_form(**extra):
    return {"title": "订单导出增加字段", "description": "导出时带上客户等级", "reason": "财务对账需要",
            "kind": "standard", "urgency": "medium", "impact": "low", **extra}


def test_a_service_failing_at_its_last_step_leaves_nothing_behind(app, client_as, monkeypatch):
    """Submitting a standard change writes the request, two transitions and a notice; the notice fails."""
    import changes.services

    def fail(*args, **kwargs):
        raise ServiceError("notice could not be queued")
    monkeypatch.setattr(changes.services, "_notify_decision", fail)
    audit_before = _count(AuditEntry)
    response = client_as("staff").post("/changes/new", data=_change_form(submit_now="1"))
    assert response.status_code in (200, 422) and b"notice could not be queued" in response.data
    assert _count(ChangeRequest) == 0 and _count(ChangeTransition) == 0
    assert _count(AuditEntry) == audit_before

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(changes.services, "_notify_decision", crash)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production: the 500 page
    response = client_as("staff").post("/changes/new", data=_change_form(submit_now="1"))
    assert response.status_code == 500
    assert _count(ChangeRequest) == 0 and _count(ChangeTransition) == 0
    assert _count(AuditEntry) == audit_before

    monkeypatch.undo()
    response = client_as("staff").post("/changes/new", data=_change_form(submit_now="1"))
    assert response.status_code == 302  # the same input goes through once nothing fails
    assert _count(ChangeRequest) == 1 and _count(ChangeTransition) >= 2


def test_sqlite_write_lock_contention_is_retried_not_a_500(app, client_as, monkeypatch):
    if is_postgres():
        pytest.skip("SQLite's write lock only")
    import sqlite3

    import rollout.database
    # Short busy timeout so the requests run into "database is locked" and the retry has to act.
    monkeypatch.setattr(rollout.database, "BUSY_TIMEOUT_MS", 100)
    db.engine.dispose()
    lock_errors = []
    real_is_lock_error = rollout.database.is_lock_error

    def spy(error):
        found = real_is_lock_error(error)
        if found:
            lock_errors.append(error)
        return found
    monkeypatch.setattr(rollout.database, "is_lock_error", spy)

    clients = [client_as("staff"), client_as("staff2")]
    db.session.commit()  # outside a request the test's own session holds the write lock
    blocker = sqlite3.connect(db.engine.url.database, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock …
    statuses = []

    def post(client, n):
        statuses.append(client.post("/changes/new", data=_change_form(kind="normal", title=f"并发写入{n}")).status_code)

    threads = [threading.Thread(target=post, args=(c, n)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    time.sleep(0.25)
    blocker.execute("ROLLBACK")  # … and lets go while the requests are being retried
    blocker.close()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert statuses == [302, 302]
        assert lock_errors, "the lock was never contended: the test did not exercise the retry"
        assert _count(ChangeRequest) == 2
    finally:
        monkeypatch.undo()
        db.engine.dispose()
