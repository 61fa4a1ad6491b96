"""ratings and reviews of delivered products, their photos, reports and rating requests

Revision ID: b3e9c1d7f452
Revises: a7d3f5c2e810
Create Date: 2026-12-01 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3e9c1d7f452'
down_revision = 'a7d3f5c2e810'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ratings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('design_id', sa.Integer(), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('review', sa.Text(), server_default='', nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('hidden', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('report_count', sa.Integer(), server_default='0', nullable=False),
        sa.Column('reviewed_at', sa.DateTime(), nullable=True),
        sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
        sa.Column('reply', sa.Text(), server_default='', nullable=False),
        sa.Column('replied_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint('score BETWEEN 1 AND 5', name=op.f('ck_ratings_score_1_to_5')),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_ratings_campaign_id_campaigns')),
        sa.ForeignKeyConstraint(['design_id'], ['designs.id'], name=op.f('fk_ratings_design_id_designs')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_ratings_order_id_orders')),
        sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_ratings_reviewed_by_id_users')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ratings_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
        sa.UniqueConstraint('order_id', name=op.f('uq_ratings_order_id')),
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index('ix_ratings_design_id_created_at', ['design_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ratings_user_id'), ['user_id'], unique=False)

    op.create_table(
        'rating_photos',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rating_id', sa.Integer(), nullable=False),
        sa.Column('image_key', sa.String(length=64), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_rating_photos_rating_id_ratings'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_photos')),
        sa.UniqueConstraint('rating_id', 'position', name=op.f('uq_rating_photos_rating_id_position')),
    )
    op.create_table(
        'rating_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('rating_id', sa.Integer(), nullable=False),
        sa.Column('reporter_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_rating_reports_rating_id_ratings'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_rating_reports_reporter_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rating_reports')),
        sa.UniqueConstraint('rating_id', 'reporter_id', name=op.f('uq_rating_reports_rating_id_reporter_id')),
    )
    op.create_table(
        'rating_requests',
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('asked_at', sa.DateTime(), nullable=True),
        sa.Column('reminded_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_rating_requests_order_id_orders')),
        sa.PrimaryKeyConstraint('order_id', name=op.f('pk_rating_requests')),
    )


def downgrade():
    op.drop_table('rating_requests')
    op.drop_table('rating_reports')
    op.drop_table('rating_photos')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ratings_user_id'))
        batch_op.drop_index('ix_ratings_design_id_created_at')
        batch_op.drop_index(batch_op.f('ix_ratings_campaign_id'))
    op.drop_table('ratings')
