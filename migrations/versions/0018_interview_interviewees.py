"""a session records every account heard in it: group interviews

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 01:00:00

interview_interviewees holds one row per session and account heard, with the business role the
person speaks for; the coverage matrix counts each of them. Each session's picked account
(interviews.interviewee_id) and its role become its first row.

interviews.interviewee_id stays and now names the first listed interviewee: dropping it would make
SQLite rebuild the interviews table, and a rebuild deletes the rows that refer to a session
(ON DELETE CASCADE). Downgrading keeps that first person on each session; the others are named
only in the session's interviewee text from then on.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('interview_interviewees',
    sa.Column('interview_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['interview_id'], ['interviews.id'],
                            name=op.f('fk_interview_interviewees_interview_id_interviews'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_interview_interviewees_user_id_users')),
    sa.PrimaryKeyConstraint('interview_id', 'user_id', name=op.f('pk_interview_interviewees'))
    )
    with op.batch_alter_table('interview_interviewees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_interview_interviewees_user_id'), ['user_id'], unique=False)
    # Plain SQL both engines run: each session's picked account, with the session's role.
    op.execute("INSERT INTO interview_interviewees (interview_id, user_id, role) "
               "SELECT id, interviewee_id, role FROM interviews WHERE interviewee_id IS NOT NULL")


def downgrade():
    # The application keeps interviewee_id on the first listed person; a session whose first
    # person was never copied there still keeps one of its people.
    op.execute("UPDATE interviews SET interviewee_id = (SELECT MIN(i.user_id) FROM interview_interviewees i "
               "WHERE i.interview_id = interviews.id) WHERE interviewee_id IS NULL")
    with op.batch_alter_table('interview_interviewees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_interview_interviewees_user_id'))
    op.drop_table('interview_interviewees')
