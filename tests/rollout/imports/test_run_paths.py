"""A real run's fast paths write what the plain ones write, and a failure mid-run keeps what was committed.

On SQLite customers go in as multi-row INSERT ... VALUES and their ownership history is copied
with INSERT ... SELECT; elsewhere (and for targets whose rows are not complete) SQLAlchemy Core
inserts them.
"""
import pytest
from sqlalchemy import select

from rollout.extensions import db
from rollout.imports import services, targets
from rollout.imports.models import COMPLETED, FAILED, ImportChunk, ImportRowError
from rollout.imports.plan_targets import CustomerTarget
from rollout.plans import services as plans
from rollout.plans.models import Customer, CustomerAssignment
from tests.rollout.imports.helpers import upload, write_csv

HEADER = ["客户名称", "手机", "邮箱", "城市", "负责人", "规模"]


def _rows():
    """Clean rows, messy ones, rejected ones, repeats in the file and rows matching existing customers."""
    rows = [HEADER]
    for number in range(40):
        rows.append([f"星辰{number:03d}科技有限公司", f"138{number:08d}", f"Info{number}@XC.com" if number % 3 else "",
                     "\u3000北京 " if number % 2 else "上海", "staff" if number % 4 == 0 else "", f"{number}万"])
    rows += [["", "13900000000", "", "", "", ""],                  # name missing
             ["坏电话公司", "12345", "", "", "", ""],               # invalid phone
             ["星辰005科技有限公司", "", "", "", "", ""],           # same as an earlier row
             ["华南电子有限公司", "13700137000", "", "", "", ""],   # an existing customer
             ["星辰007科技", "", "", "", "", ""],                   # near duplicate of row 9
             ["未知负责人公司", "", "", "", "nobody", ""],          # unknown owner
             ["规模有误公司", "", "", "", "", "很多"]]              # not a number
    return rows


@pytest.fixture
def setup(tmp_path, company):
    admin = company["admin"]
    plans.save_field(None, "scale", "规模", "number", [], False)
    plans.create_customer("华南电子", admin, phone="13700137000")
    db.session.commit()
    return admin, write_csv(tmp_path, _rows()), company["staff"]


def _result(batch):
    """What a run wrote, without ids that differ from run to run."""
    created = [i for chunk in db.session.scalars(select(ImportChunk).where(ImportChunk.batch_id == batch.id)
                                                   .order_by(ImportChunk.seq)) for i in chunk.created_ids["customers"]]
    customers = db.session.execute(
        select(Customer.name, Customer.name_key, Customer.phone, Customer.phone_key, Customer.email, Customer.city,
               Customer.owner_id, Customer.department_id, Customer.is_in_pool, Customer.extra)
        .where(Customer.id.in_(created)).order_by(Customer.id)).all()
    history = db.session.execute(
        select(Customer.name, CustomerAssignment.kind, CustomerAssignment.from_user_id, CustomerAssignment.to_user_id,
               CustomerAssignment.note, CustomerAssignment.created_at == Customer.created_at)
        .join(Customer, Customer.id == CustomerAssignment.customer_id)
        .where(Customer.id.in_(created)).order_by(CustomerAssignment.id)).all()
    errors = db.session.execute(select(ImportRowError.row_number, ImportRowError.cells, ImportRowError.message)
                                .where(ImportRowError.batch_id == batch.id).order_by(ImportRowError.row_number)).all()
    counts = (batch.status, batch.created_count, batch.updated_count, batch.skipped_count, batch.error_count,
              batch.department_ids)
    return counts, customers, history, errors


def _run(admin, path):
    batch = upload(admin, path)
    db.session.commit()
    return services.run_import(batch, admin, chunk_size=6)


def test_the_bulk_path_writes_what_the_core_path_writes(setup, monkeypatch):
    admin, path, staff = setup
    bulk = _run(admin, path)
    expected = _result(bulk)
    services.undo_import(bulk, admin)
    db.session.commit()
    monkeypatch.setattr(CustomerTarget, "complete_rows", False)  # SQLAlchemy Core's insert, as on PostgreSQL
    assert _result(_run(admin, path)) == expected
    counts, customers, history, errors = expected
    assert counts[:5] == (COMPLETED, 41, 0, 2, 4) and len(customers) == len(history) == 41
    assert "必填" in errors[0].message
    # Every new customer's ownership history starts with the import, naming its owner.
    owners = {customer.name: customer.owner_id for customer in customers}
    assert owners["星辰000科技有限公司"] == staff.id and owners["星辰001科技有限公司"] is None
    assert all(kind == "create" and from_user is None and to_user == owners[name] and note == "import" and same_time
               for name, kind, from_user, to_user, note, same_time in history)


def fail_planning_at_row(monkeypatch, failing: int) -> None:
    """Planning row ``failing`` raises RuntimeError("disk gone")."""
    real_plan = services.Planner.plan

    def plan(self, number, cells):
        if number == failing:
            raise RuntimeError("disk gone")
        return real_plan(self, number, cells)

    monkeypatch.setattr(services.Planner, "plan", plan)


def test_a_planning_failure_ends_the_run_after_the_written_chunks(setup, monkeypatch):
    admin, path, _staff = setup
    fail_planning_at_row(monkeypatch, 20)
    batch = _run(admin, path)
    assert batch.status == FAILED and "an unexpected error" in batch.message
    assert "disk gone" not in batch.message  # logged, never shown
    assert "在第 4 批停止" in batch.message  # the chunk of row 20, not the last one written
    # Rows 2–19 are the first three chunks of six: written, committed and undoable.
    assert batch.created_count + batch.skipped_count + batch.error_count == 18
    services.undo_import(batch, admin)
    db.session.commit()
    assert db.session.scalar(select(Customer).where(Customer.name.like("星辰%"))) is None


def test_a_write_failure_keeps_the_chunks_before_it(setup, monkeypatch):
    admin, path, _staff = setup
    real_insert = targets.Target.insert
    calls = []

    def insert(self, rows, ctx):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("database full")
        return real_insert(self, rows, ctx)

    monkeypatch.setattr(targets.Target, "insert", insert)
    batch = _run(admin, path)
    assert batch.status == FAILED and "database full" not in batch.message
    assert batch.created_count == calls[0]
    names = db.session.scalars(select(Customer.name).where(Customer.name.like("星辰%"))).all()
    assert len(names) == calls[0]


@pytest.mark.parametrize("limit, value", [("SQLITE_MAX_PARAMETERS", 45), ("ROWS_PER_STATEMENT", 4)])
def test_bulk_insert_splits_statements_at_the_parameter_or_row_limit(setup, monkeypatch, limit, value):
    """A limit of 45 parameters or 4 rows: a few customers per statement, ids still in file order."""
    admin, path, _staff = setup
    monkeypatch.setattr(targets, limit, value)
    batch = _run(admin, path)
    assert batch.created_count == 41
    created = [i for chunk in db.session.scalars(select(ImportChunk).where(ImportChunk.batch_id == batch.id)
                                                   .order_by(ImportChunk.seq)) for i in chunk.created_ids["customers"]]
    names = dict(db.session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(created))).all())
    assert [names[i] for i in created][:3] == ["星辰000科技有限公司", "星辰001科技有限公司", "星辰002科技有限公司"]
    assert db.session.get(Customer, created[10]).extra == {"scale": "100000"}


def test_chunks_are_written_with_a_large_page_cache_given_back_after_the_run(setup, monkeypatch):
    admin, path, _staff = setup
    if db.session.connection().dialect.name != "sqlite":
        pytest.skip("a SQLite setting")
    from rollout.database import BULK_PAGE_CACHE_KIB, DEFAULT_PAGE_CACHE_KIB
    seen = []
    real = targets.sqlite_bulk_insert

    def spy(connection, table, rows, shared=None):
        seen.append(connection.exec_driver_sql("PRAGMA cache_size").scalar())
        return real(connection, table, rows, shared)

    monkeypatch.setattr(targets, "sqlite_bulk_insert", spy)
    db.session.commit()
    idle = [db.engine.raw_connection() for _ in range(3)]  # the pool hands chunks to several connections
    for connection in idle:
        connection.close()
    assert _run(admin, path).status == COMPLETED
    assert seen and set(seen) == {-BULK_PAGE_CACHE_KIB}
    # Whichever pooled connections wrote a chunk: each is back to the default when next used.
    db.session.commit()
    connections = [db.engine.raw_connection() for _ in range(db.engine.pool.checkedin() + 1)]
    try:
        sizes = {c.cursor().execute("PRAGMA cache_size").fetchone()[0] for c in connections}
        assert sizes == {-DEFAULT_PAGE_CACHE_KIB}
    finally:
        for connection in connections:
            connection.close()


def test_bulk_insert_writes_each_row_whole_whatever_its_columns_share(company):
    """Columns equal on every row (text, flags, times, NULL), mixed and varying ones: rows read back as given."""
    if db.session.connection().dialect.name != "sqlite":
        pytest.skip("the SQLite statement")
    from datetime import datetime
    staff = company["staff"]
    created_at = datetime(2026, 11, 27, 9, 30, 15, 250000)

    def row(number, **changes):
        values = {"name": f"共享{number}公司", "name_key": f"共享{number}", "phone": None, "phone_key": "",
                  "email": f"s{number}@example.com" if number % 2 else None, "industry": "制造", "city": "上海",
                  "address": None, "source": "import", "owner_id": staff.id, "department_id": staff.department_id,
                  "campaign_id": None, "extra": {}, "is_in_pool": False, "pool_entered_at": None,
                  "last_followup_at": created_at, "is_lost": False, "created_by_id": staff.id,
                  "created_at": created_at, "deleted_at": None}
        return {**values, **changes}

    connection = db.session.connection()
    given = {"created_at": created_at, "is_lost": False, "deleted_at": None}  # shared by the caller
    for rows in ([row(n) for n in range(7)], [row(7)], [row(8, extra={"scale": "5"}), row(9, city="北京")]):
        for shared in (None, given):
            planned = [{k: v for k, v in r.items() if k not in (shared or {})} for r in rows]
            ids = targets.sqlite_bulk_insert(connection, Customer.__table__, planned, shared)
            assert len(ids) == len(rows)
            written = [db.session.execute(select(*[Customer.__table__.c[k] for k in rows[0]])
                                          .where(Customer.id == i)).one()._asdict() for i in ids]
            assert written == rows
