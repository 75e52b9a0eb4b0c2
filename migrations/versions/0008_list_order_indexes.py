"""indexes for the follow-up, deal and quote lists' newest-first order

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 10:00:00

Seen by someone who may see every department, these lists have no filter an index serves, and
SQLite sorted the whole table for each page: 1.2 s for the follow-ups at 500,000 rows, about
90 ms for the deals and quotes at 50,000. With an index in the list's order a page reads its
25 rows directly (follow-ups: 1.2 s → 10 ms without the count; deals and quotes: → 1 ms).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_activities_occurred', 'activities', ['occurred_at', 'id'], unique=False)
    op.create_index('ix_opportunities_stage_changed', 'opportunities', ['stage_changed_at', 'id'], unique=False)
    op.create_index('ix_quotes_created', 'quotes', ['created_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_quotes_created', table_name='quotes')
    op.drop_index('ix_opportunities_stage_changed', table_name='opportunities')
    op.drop_index('ix_activities_occurred', table_name='activities')
