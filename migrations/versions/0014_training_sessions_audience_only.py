"""a training session may admit only its audience

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 20:00:00

A session's roles and departments are whom it invites; with is_audience_only they are also the
only people who may sign themselves up (a trainer or head may still sign anyone up).
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('training_sessions', sa.Column('is_audience_only', sa.Boolean(), nullable=False,
                                                 server_default=sa.false()))


def downgrade():
    # A plain DROP COLUMN (SQLite 3.35+), as in 0011: a batch rebuild would trip over the rows that
    # refer to a session.
    op.drop_column('training_sessions', 'is_audience_only')
