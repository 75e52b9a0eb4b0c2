"""process map versions are reviewed: draft → in review → approved (or sent back to draft)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 15:00:00

A version's editors submit it for review when it is ready; approvers approve it or send it
back with a note. The version in review is locked, and it is still the process's one open
version: the partial unique index on drafts now covers versions in review too.

On SQLite the table's CHECK constraint is rewritten in the schema text, as in 0007: recreating
process_versions would drop it while foreign keys are enforced, deleting its steps and flows.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

TABLE = 'process_versions'
STATUS_CHECK = 'ck_process_versions_ck_process_versions_status'
OLD_STATUSES = "status = 'draft' OR status = 'approved' OR status = 'superseded'"
NEW_STATUSES = "status = 'draft' OR status = 'in_review' OR status = 'approved' OR status = 'superseded'"
OPEN = "status IN ('draft', 'in_review')"
DRAFT = "status = 'draft'"


def _set_status_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        op.drop_constraint(op.f(STATUS_CHECK), TABLE, type_='check')
        op.create_check_constraint(op.f(STATUS_CHECK), TABLE, new)
        return
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :table"),
                       {"table": TABLE}).scalar_one()
    before, after = f"CONSTRAINT {STATUS_CHECK} CHECK ({old})", f"CONSTRAINT {STATUS_CHECK} CHECK ({new})"
    if sql.count(before) != 1:
        raise RuntimeError(f"expected {before!r} once in: {sql}")
    schema_version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :table"),
                 {"sql": sql.replace(before, after), "table": TABLE})
    # A new schema version makes every connection read the changed table definition.
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(schema_version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    if bind.exec_driver_sql("PRAGMA integrity_check").scalar_one() != "ok":
        raise RuntimeError("the CHECK constraint rewrite failed the integrity check")


def upgrade():
    op.add_column(TABLE, sa.Column('submitted_at', sa.DateTime(), nullable=True))
    op.add_column(TABLE, sa.Column('review_note', sa.Text(), nullable=False, server_default=''))
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for column in ('submitted_by_id', 'sent_back_by_id'):
        name = f'fk_process_versions_{column}_users'
        if sqlite:  # a column with its reference, which SQLite adds in place (Alembic would rebuild the table)
            op.execute(f"ALTER TABLE {TABLE} ADD COLUMN {column} INTEGER CONSTRAINT {name} REFERENCES users (id)")
        else:
            op.add_column(TABLE, sa.Column(column, sa.Integer(), nullable=True))
            op.create_foreign_key(op.f(name), TABLE, 'users', [column], ['id'])
    _set_status_check(OLD_STATUSES, NEW_STATUSES)
    op.drop_index('uq_process_versions_one_draft', table_name=TABLE)
    op.create_index('uq_process_versions_one_open', TABLE, ['process_id'], unique=True,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))


def downgrade():
    # Versions in review go back to draft: the older schema knows no review.
    op.execute(sa.text(f"UPDATE {TABLE} SET status = 'draft' WHERE status = 'in_review'"))
    op.drop_index('uq_process_versions_one_open', table_name=TABLE)
    op.create_index('uq_process_versions_one_draft', TABLE, ['process_id'], unique=True,
                    sqlite_where=sa.text(DRAFT), postgresql_where=sa.text(DRAFT))
    _set_status_check(NEW_STATUSES, OLD_STATUSES)
    if op.get_bind().dialect.name != 'sqlite':  # on SQLite the reference goes with its column
        for column in ('sent_back_by_id', 'submitted_by_id'):
            op.drop_constraint(op.f(f'fk_process_versions_{column}_users'), TABLE, type_='foreignkey')
    op.drop_column(TABLE, 'sent_back_by_id')
    op.drop_column(TABLE, 'review_note')
    op.drop_column(TABLE, 'submitted_by_id')
    op.drop_column(TABLE, 'submitted_at')
