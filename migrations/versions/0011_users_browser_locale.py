"""remember the browser's language at sign-in

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 21:00:00

Notifications are written when they happen, outside the reader's request. A user who never chose
a language got them in the company's default (Chinese) while the pages followed an English
browser. users.browser_locale keeps the browser's language of the last sign-in for them.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('users', sa.Column('browser_locale', sa.String(length=10), nullable=True))


def downgrade():
    # A plain DROP COLUMN (SQLite 3.35+): rebuilding users in batch mode would trip over every row
    # that refers to a user.
    op.drop_column('users', 'browser_locale')
