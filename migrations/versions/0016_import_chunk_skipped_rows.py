"""an import chunk records the rows it skipped as duplicates

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 22:40:00

skipped_rows lists each row left out as a duplicate with what it duplicates, for the import's page.
Chunks written before stay null: their import says only how many rows were skipped.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('import_chunks', sa.Column('skipped_rows', sa.JSON(), nullable=True))


def downgrade():
    # A plain DROP COLUMN (SQLite 3.35+), as in 0011, 0014 and 0015.
    op.drop_column('import_chunks', 'skipped_rows')
