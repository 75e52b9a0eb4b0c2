"""covering indexes for plan vs actual's visit and quote counts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 16:00:00

Plan vs actual counts visits and submitted quotes in a period, per department or rep,
and sums won and open deals. Visits walked the whole department index and read every
activity row for its kind (570 ms at 500,000 activities); quotes, won and open deals
read every row of the period (17, 10 and 50 ms). All are now read from the index alone
(19, 3, 2 and 7 ms).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_opportunities_closed', table_name='opportunities')
    op.create_index('ix_opportunities_closed', 'opportunities',
                    ['stage', 'closed_on', 'department_id', 'owner_id', 'campaign_id', 'amount'], unique=False)
    op.create_index('ix_opportunities_open', 'opportunities',
                    ['stage', 'expected_close_on', 'department_id', 'owner_id', 'campaign_id', 'amount'],
                    unique=False)
    op.create_index('ix_activities_kind_occurred', 'activities',
                    ['kind', 'occurred_at', 'department_id', 'user_id'], unique=False)
    op.drop_index('ix_quotes_submitted', table_name='quotes')
    op.create_index('ix_quotes_submitted', 'quotes', ['submitted_at', 'status', 'department_id', 'owner_id'],
                    unique=False)


def downgrade():
    op.drop_index('ix_quotes_submitted', table_name='quotes')
    op.create_index('ix_quotes_submitted', 'quotes', ['submitted_at'], unique=False)
    op.drop_index('ix_activities_kind_occurred', table_name='activities')
    op.drop_index('ix_opportunities_open', table_name='opportunities')
    op.drop_index('ix_opportunities_closed', table_name='opportunities')
    op.create_index('ix_opportunities_closed', 'opportunities', ['stage', 'closed_on'], unique=False)
