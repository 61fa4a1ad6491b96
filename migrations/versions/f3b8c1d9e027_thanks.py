"""thanks: one row per person thanked for a selected design or a settled campaign

Revision ID: f3b8c1d9e027
Revises: c8f4a2d6e913
Create Date: 2026-12-01 17:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3b8c1d9e027'
down_revision = 'c8f4a2d6e913'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('thanks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("event IN ('scored', 'backed')", name=op.f('ck_thanks_known_event')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_thanks_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_thanks')),
    sa.UniqueConstraint('user_id', 'event', 'subject_id', name=op.f('uq_thanks_user_id_event_subject_id'))
    )


def downgrade():
    op.drop_table('thanks')
