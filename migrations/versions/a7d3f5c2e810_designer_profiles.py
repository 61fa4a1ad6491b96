"""designer profiles: bio, links and avatar

Revision ID: a7d3f5c2e810
Revises: 9efd44634a09
Create Date: 2026-12-01 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7d3f5c2e810'
down_revision = '9efd44634a09'
branch_labels = None
depends_on = None


def upgrade():
    # Existing accounts start with an empty profile: no bio, no links, initials for a picture.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bio', sa.String(length=600), server_default='', nullable=False))
        batch_op.add_column(sa.Column('links', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('avatar_key', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('avatar_key')
        batch_op.drop_column('links')
        batch_op.drop_column('bio')
