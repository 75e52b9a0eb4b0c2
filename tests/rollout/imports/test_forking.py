"""Planning a large import in a forked process: the same results as one process, and failures end cleanly."""
import itertools
import os
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.imports import forking, services
from rollout.imports.models import COMPLETED, FAILED
from rollout.plans.models import Customer
from tests.rollout.imports.helpers import upload
# setup is the shared fixture: messy rows, rows in the file twice, and an existing customer.
from tests.rollout.imports.test_run_paths import _result, _run, fail_planning_at_row, setup  # noqa: F401

pytestmark = pytest.mark.skipif(not forking.available(), reason="needs fork() and a second core")


def test_items_arrive_in_order_with_their_values():
    made = [{"n": n, "at": datetime(2026, 1, n % 28 + 1), "amount": Decimal("1.50"), "name": "北京"}
            for n in range(3000)]
    assert list(forking.items_from_child(lambda: iter(made))) == made


def test_a_service_error_in_the_child_arrives_with_its_message():
    def produce():
        yield 1
        raise ServiceError("第 3 行：文件格式不对", "file")

    received = forking.items_from_child(produce)
    assert next(received) == 1
    with pytest.raises(ServiceError) as raised:
        next(received)
    assert (raised.value.message, raised.value.field) == ("第 3 行：文件格式不对", "file")


def test_any_other_failure_arrives_named():
    def produce():
        raise KeyError("owner")
        yield

    with pytest.raises(forking.ChildFailed, match="KeyError: 'owner'"):
        list(forking.items_from_child(produce))


def test_stopping_early_ends_the_child():
    children = []
    real_fork = os.fork

    def fork():
        pid = real_fork()
        children.append(pid)
        return pid

    os.fork = fork
    try:
        received = forking.items_from_child(lambda: itertools.count())  # never ends by itself
        assert [next(received) for _ in range(5)] == [0, 1, 2, 3, 4]
        received.close()
    finally:
        os.fork = real_fork
    with pytest.raises(ChildProcessError):  # already reaped: nothing is left running
        os.waitpid(children[0], os.WNOHANG)


def _plan_apart(monkeypatch):
    """Every file is planned in a second process, sent four rows at a time (chunks are six)."""
    monkeypatch.setattr(services, "PLAN_APART_ROWS", 0)
    monkeypatch.setattr(services, "SENT_ROWS", 4)
    used = []
    real = forking.items_from_child
    monkeypatch.setattr(forking, "items_from_child", lambda produce: used.append(1) or real(produce))
    return used


def test_planning_apart_writes_what_one_process_writes(setup, monkeypatch):  # noqa: F811
    admin, path, _staff = setup
    alone = _run(admin, path)
    expected = _result(alone)
    services.undo_import(alone, admin)
    db.session.commit()
    used = _plan_apart(monkeypatch)
    apart = _run(admin, path)
    assert used and _result(apart) == expected
    assert expected[0][:5] == (COMPLETED, 41, 0, 2, 4)


def test_a_planning_failure_apart_keeps_the_same_chunks(setup, monkeypatch):  # noqa: F811
    admin, path, _staff = setup
    used = _plan_apart(monkeypatch)
    fail_planning_at_row(monkeypatch, 20)
    batch = _run(admin, path)
    assert used and batch.status == FAILED and "an unexpected error" in batch.message
    assert "disk gone" not in batch.message  # logged, never shown
    assert "在第 4 批停止" in batch.message
    # Rows 2–19 are three whole chunks of six, as when one process plans and writes.
    assert batch.created_count + batch.skipped_count + batch.error_count == 18
    services.undo_import(batch, admin)
    db.session.commit()
    assert db.session.scalar(select(Customer).where(Customer.name.like("星辰%"))) is None


def test_a_file_that_stops_reading_fails_the_same_apart(tmp_path, company, monkeypatch):
    """The stored file turns unreadable after row 600 (changed on disk after its inspection)."""
    admin = company["admin"]
    good = "客户名称,手机\n" + "".join(f"客户{n:04d},138{n:08d}\n" for n in range(900))
    path = tmp_path / "customers.csv"
    path.write_text(good, encoding="utf-8")
    broken = good.encode().replace("客户0600".encode(), b"\xff\xfe0600")

    def run():
        batch = upload(admin, path)
        db.session.commit()
        services.stored_path(batch).write_bytes(broken)
        batch = services.run_import(batch, admin, chunk_size=6)
        return batch, (batch.status, batch.created_count, batch.message)

    alone, expected = run()
    services.undo_import(alone, admin)
    db.session.commit()
    used = _plan_apart(monkeypatch)
    _batch, result = run()
    assert used and result == expected
    status, created, message = result
    assert status == FAILED and "无法按 utf-8 读取" in message and 0 < created <= 600 and created % 6 == 0
