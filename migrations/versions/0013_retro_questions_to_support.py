"""a retro card or action item can become a question to the support desk

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 17:00:00

A card such as "nobody knows how to transfer a customer" is a question, not an answer:
publishing it as an FAQ article at once left an article without an answer. It now goes to
the support desk, whose answer may become the article; the link keeps the question's id.

On SQLite the table's CHECK constraint is rewritten in the schema text, as in 0012.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

TABLE = 'retro_work_links'
TARGET_CHECK = 'ck_retro_work_links_ck_retro_work_links_target'
TWO_TARGETS = "(change_request_id IS NULL) <> (faq_article_id IS NULL)"
THREE_TARGETS = ("(change_request_id IS NOT NULL AND faq_article_id IS NULL AND support_request_id IS NULL)"
                 " OR (change_request_id IS NULL AND faq_article_id IS NOT NULL AND support_request_id IS NULL)"
                 " OR (change_request_id IS NULL AND faq_article_id IS NULL AND support_request_id IS NOT NULL)")


def _set_target_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        op.drop_constraint(op.f(TARGET_CHECK), TABLE, type_='check')
        op.create_check_constraint(op.f(TARGET_CHECK), TABLE, new)
        return
    sql = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :table"),
                       {"table": TABLE}).scalar_one()
    before, after = f"CONSTRAINT {TARGET_CHECK} CHECK ({old})", f"CONSTRAINT {TARGET_CHECK} CHECK ({new})"
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
    op.add_column(TABLE, sa.Column('support_request_id', sa.Integer(), nullable=True))
    op.create_index('ix_retro_work_links_support', TABLE, ['support_request_id'], unique=False)
    _set_target_check(TWO_TARGETS, THREE_TARGETS)


def downgrade():
    # The older schema links to change requests and articles only: questions lose their link.
    op.execute(sa.text(f"DELETE FROM {TABLE} WHERE support_request_id IS NOT NULL"))
    _set_target_check(THREE_TARGETS, TWO_TARGETS)
    op.drop_index('ix_retro_work_links_support', table_name=TABLE)
    op.drop_column(TABLE, 'support_request_id')
