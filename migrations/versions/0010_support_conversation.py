"""support requests become conversations: replies, a solved status, the FAQ article asked from

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 18:00:00

A support request keeps its first answer and gains replies (training_support_replies) from the
requester and those who answer. The requester's reply reopens an answered request (reopened_at
restarts the time to answer), the requester may mark it solved (a new status, solved_at), the
answer's author may correct it (answer_edited_at), and a question asked from an FAQ article
names it (asked_from_article_id).

training_support_requests is rebuilt on SQLite (batch mode) for its new foreign key and CHECK
constraint. Nothing refers to that table before training_support_replies, which is created after
the rebuild and dropped before the one of the downgrade, so dropping the old table deletes nothing
through foreign keys.

The downgrade turns solved requests back into the status they had before: answered when they have
an answer, else the one they waited in.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD_STATUSES = "status = 'open' OR status = 'escalated' OR status = 'answered'"
NEW_STATUSES = "status = 'open' OR status = 'escalated' OR status = 'answered' OR status = 'solved'"


def upgrade():
    with op.batch_alter_table('training_support_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer_edited_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('asked_from_article_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reopened_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('solved_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_training_support_requests_asked_from_article_id_training_faq_articles'),
            'training_faq_articles', ['asked_from_article_id'], ['id'], ondelete='SET NULL')
        batch_op.drop_constraint(batch_op.f('ck_training_support_requests_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_training_support_requests_status_known'), NEW_STATUSES)

    op.create_table('training_support_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_training_support_replies_author_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['training_support_requests.id'],
                            name=op.f('fk_training_support_replies_request_id_training_support_requests'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_support_replies'))
    )
    op.create_index('ix_training_support_replies_request', 'training_support_replies', ['request_id', 'created_at'],
                    unique=False)


def downgrade():
    op.drop_index('ix_training_support_replies_request', table_name='training_support_replies')
    op.drop_table('training_support_replies')

    op.execute("UPDATE training_support_requests SET status = CASE "
               "WHEN answered_by_id IS NOT NULL THEN 'answered' "
               "WHEN escalated_at IS NOT NULL THEN 'escalated' ELSE 'open' END "
               "WHERE status = 'solved'")
    with op.batch_alter_table('training_support_requests', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_training_support_requests_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_training_support_requests_status_known'), OLD_STATUSES)
        batch_op.drop_constraint(
            batch_op.f('fk_training_support_requests_asked_from_article_id_training_faq_articles'),
            type_='foreignkey')
        batch_op.drop_column('solved_at')
        batch_op.drop_column('reopened_at')
        batch_op.drop_column('asked_from_article_id')
        batch_op.drop_column('answer_edited_at')
