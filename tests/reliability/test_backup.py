"""`rollout backup` and `rollout restore` round-trip every table."""
from sqlalchemy import select

from rollout.accounts.models import User
from rollout.audit.services import acting_as
from rollout.demo import load_demo
from rollout.extensions import db


def _snapshot() -> dict[str, list]:
    tables = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            columns = [c.name for c in table.columns]
            rows = connection.execute(select(table).order_by(*table.primary_key.columns)).all()
            tables[table.name] = [tuple(str(v) for v in row) for row in rows]
            assert columns
    return tables


def test_backup_and_restore_round_trip(runner, tmp_path):
    load_demo(force=True)
    before = _snapshot()
    assert sum(len(rows) for rows in before.values()) > 50
    path = tmp_path / "rollout.backup"
    result = runner.invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0

    with acting_as(db.session.scalar(select(User).where(User.username == "admin"))):
        db.session.scalar(select(User).where(User.username == "rep")).display_name = "changed after backup"
        db.session.commit()
    assert _snapshot() != before

    result = runner.invoke(args=["restore", str(path), "--yes"])
    assert result.exit_code == 0, result.output
    db.session.remove()
    assert _snapshot() == before


def test_restore_refuses_a_missing_file(runner, tmp_path):
    result = runner.invoke(args=["restore", str(tmp_path / "nothing"), "--yes"])
    assert result.exit_code != 0 and "No backup" in result.output
