"""a rating's "would you recommend us" answer, 0-10

Revision ID: a9d4e6b2c1f7
Revises: f3c8a1d2b6e4
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9d4e6b2c1f7'
down_revision = 'f3c8a1d2b6e4'
branch_labels = None
depends_on = None


def upgrade():
    # Ratings written before the question was asked have no answer: NULL, not counted.
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recommend', sa.SmallInteger(), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_ratings_recommend_0_to_10'), 'recommend IS NULL OR recommend BETWEEN 0 AND 10'
        )


def downgrade():
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ratings_recommend_0_to_10'), type_='check')
        batch_op.drop_column('recommend')
