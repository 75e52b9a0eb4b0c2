"""users choose, per kind of notification, to hear it in the app and on their channels, in the app only, or not at all

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 00:40:00

notification_preferences holds one row per user and kind (the notifications' event) that is not the
default ("all": in the app and on the user's channels): "app" keeps it out of email, robots and the
daily digest, "off" stores nothing. Until a user chooses, they have no rows and hear everything as before.
"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_preferences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=12), nullable=False),
    sa.CheckConstraint("mode = 'all' OR mode = 'app' OR mode = 'off'",
                       name=op.f('ck_notification_preferences_mode_known')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_preferences_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_preferences')),
    sa.UniqueConstraint('user_id', 'event', name=op.f('uq_notification_preferences_user_id_event'))
    )


def downgrade():
    op.drop_table('notification_preferences')
