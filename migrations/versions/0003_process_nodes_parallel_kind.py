"""process maps: a parallel split/join node kind

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:20:00

The CHECK constraint on process_nodes.kind gains 'parallel'. On PostgreSQL the
constraint is dropped and created again. SQLite cannot alter a constraint, and
recreating the table (Alembic's batch mode) would drop process_nodes while
foreign keys are enforced, which deletes every edge and RACI row through
ON DELETE CASCADE. Widening a CHECK changes nothing stored, so on SQLite the
table's schema text is rewritten in place, the procedure sqlite.org documents
for CHECK-constraint changes (https://www.sqlite.org/lang_altertable.html).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

CONSTRAINT = 'ck_process_nodes_ck_process_nodes_kind'
OLD_KINDS = "kind IN ('start', 'end', 'task', 'decision', 'exception', 'subprocess')"
NEW_KINDS = "kind IN ('start', 'end', 'task', 'decision', 'exception', 'subprocess', 'parallel')"


def _rewrite_sqlite_check(old: str, new: str) -> None:
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'process_nodes'").scalar_one()
    if old not in sql:
        raise RuntimeError(f"process_nodes has an unexpected kind constraint: {sql}")
    schema_version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'process_nodes'"),
                 {"sql": sql.replace(old, new)})
    # A new schema version makes every connection read the changed table definition.
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(schema_version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    if bind.exec_driver_sql("PRAGMA integrity_check").scalar_one() != "ok":
        raise RuntimeError("process_nodes: the schema rewrite failed the integrity check")


def _replace_check(old: str, new: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        _rewrite_sqlite_check(old, new)
        return
    op.drop_constraint(op.f(CONSTRAINT), 'process_nodes', type_='check')
    op.create_check_constraint(op.f(CONSTRAINT), 'process_nodes', new)


def upgrade():
    _replace_check(OLD_KINDS, NEW_KINDS)


def downgrade():
    # A parallel step has no older kind that means the same; refuse rather than guess.
    count = op.get_bind().execute(sa.text("SELECT count(*) FROM process_nodes WHERE kind = 'parallel'")).scalar_one()
    if count:
        raise RuntimeError(f"{count} process steps are parallel splits/joins; change their kind before downgrading")
    _replace_check(NEW_KINDS, OLD_KINDS)
