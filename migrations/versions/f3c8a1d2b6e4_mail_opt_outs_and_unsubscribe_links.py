"""mail opt-outs and unsubscribe links

Revision ID: f3c8a1d2b6e4
Revises: f3b8c1d9e027
Create Date: 2026-12-01 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3c8a1d2b6e4'
down_revision = 'f3b8c1d9e027'
branch_labels = None
depends_on = None


def upgrade():
    # No row means the topic is on: every existing account keeps getting all its mail.
    op.create_table('mail_opt_outs',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mail_opt_outs_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'topic', name=op.f('pk_mail_opt_outs'))
    )
    # Mail already in the outbox was rendered without a link: it goes out without the header.
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsubscribe_url', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.drop_column('unsubscribe_url')

    op.drop_table('mail_opt_outs')
