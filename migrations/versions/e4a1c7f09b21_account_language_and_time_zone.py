"""account language and time zone

Revision ID: e4a1c7f09b21
Revises: b7e31c9a5d42
Create Date: 2026-12-01 11:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e4a1c7f09b21'
down_revision = 'b7e31c9a5d42'
branch_labels = None
depends_on = None


def upgrade():
    # Accounts made before languages existed saw the product in English, in UTC: they get
    # English (they can switch) and Paris time, the product's default.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=5), server_default='en', nullable=False))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), server_default='Europe/Paris', nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
        batch_op.drop_column('locale')
