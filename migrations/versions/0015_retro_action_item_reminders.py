"""owners of retro action items are reminded of due dates

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 22:30:00

reminded_on records the last reminder, so the daily job tells an owner once before the due date and
then weekly while the item is overdue.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('retro_action_items', sa.Column('reminded_on', sa.Date(), nullable=True))


def downgrade():
    # A plain DROP COLUMN (SQLite 3.35+), as in 0011 and 0014.
    op.drop_column('retro_action_items', 'reminded_on')
