"""The benchmark data generator works at a tiny scale, and key pages run the same number of SQL
statements whatever the amount of generated data (no timings asserted)."""
from sqlalchemy import func, select

from bench import generate
from bench.pages import client_for, counting_statements
from rollout.audit.models import AuditEntry
from rollout.extensions import db
from rollout.plans.models import Activity, Customer
from processmaps.models import ProcessNode
from surveys.models import Requirement

SMALL, LARGER = 0.001, 0.003


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _build(factory, scale):
    factory.department(name="公司", kind="company", code="company")
    factory.user("admin", username="admin")
    factory.user("lead", username="lead")
    return generate.generate(scale, log=lambda _line: None)


def _pages() -> list[tuple[str, str]]:
    from processmaps.models import Process
    from rollout.accounts.models import Department
    unit = db.session.scalar(select(Department.id).where(Department.code == "bench-d0"))
    big_map = db.session.scalar(select(Process.id).where(Process.name.like("%业务流程000")))
    return [("lead", "/rollout/"), ("lead", "/"), ("lead", "/plans/actual"), ("lead", f"/plans/actual?unit={unit}"),
            ("admin", "/customers?q=%E5%8C%97%E4%BA%AC"), ("lead", "/surveys/coverage"), ("lead", "/changes/all"),
            ("lead", "/changes/board"), ("lead", "/training/matrix"), ("admin", "/audit/?action=export"),
            ("bench.u0", "/training/matrix"), ("lead", f"/processes/{big_map}/v/1")]


def _statement_counts(app) -> dict[str, int]:
    counts = {}
    pages = _pages()
    db.session.remove()  # end this test's read transaction: some pages write (the map render cache)
    for username, path in pages:
        client = client_for(app, username)
        assert client.get(path).status_code == 200, path
        with counting_statements(db.engine) as statements:
            client.get(path)
        counts[f"{username} {path.split('?')[0]}"] = len(statements)
    return counts


def test_generator_writes_the_scaled_counts(app, factory):
    written = _build(factory, SMALL)
    counts = generate.counts_for(SMALL)
    assert _count(Customer) == counts["customers"] == written["customers"]
    assert _count(Activity) == counts["activities"]
    assert written["audit_entries"] == counts["audit"] <= _count(AuditEntry)  # plus the fixtures' own entries
    assert _count(Requirement) == 300  # the specification benchmark's size at every scale
    largest_map = db.session.scalar(select(func.count()).select_from(ProcessNode).group_by(ProcessNode.version_id)
                                    .order_by(func.count().desc()).limit(1))
    assert largest_map == 200
    # Every generated customer belongs to a generated department, owned or in that department's pool.
    assert db.session.scalar(select(func.count()).select_from(Customer).where(Customer.department_id.is_(None))) == 0


def test_key_pages_run_the_same_statements_at_two_sizes(app, factory):
    from tests.conftest import _empty_all_tables
    _build(factory, SMALL)
    small = _statement_counts(app)
    db.session.remove()
    _empty_all_tables()
    _build(factory, LARGER)
    assert _count(Customer) == generate.counts_for(LARGER)["customers"] > generate.counts_for(SMALL)["customers"]
    larger = _statement_counts(app)
    assert larger == small
