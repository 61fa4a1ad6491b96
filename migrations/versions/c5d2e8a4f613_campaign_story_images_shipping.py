"""campaign story, images, FAQ, delivery month and shipping per zone; a pledge's shipping

Revision ID: c5d2e8a4f613
Revises: e4a1c7f09b21
Create Date: 2026-12-01 14:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c5d2e8a4f613'
down_revision = 'e4a1c7f09b21'
branch_labels = None
depends_on = None


def upgrade():
    # Campaigns opened before this had no story and free shipping: they keep showing what
    # they had, and their pledges' amounts (shipping 0) stay what was promised.
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('story', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('risks', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('delivery_month', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('ships_from', sa.String(length=2), server_default='FR', nullable=False))
        batch_op.add_column(sa.Column('shipping_domestic_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('shipping_eu_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('shipping_world_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(
            op.f('ck_campaigns_shipping_not_negative'),
            'shipping_domestic_cents >= 0 AND shipping_eu_cents >= 0 AND shipping_world_cents >= 0',
        )
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipping_zone', sa.String(length=8), server_default='domestic', nullable=False))
        batch_op.add_column(sa.Column('shipping_cents', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(
            op.f('ck_pledges_shipping_in_amount'), 'shipping_cents >= 0 AND shipping_cents < amount_cents'
        )
    op.create_table(
        'campaign_images',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('image_key', sa.String(length=64), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('is_mockup', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_images_campaign_id_campaigns'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_images')),
        sa.UniqueConstraint('campaign_id', 'position', name=op.f('uq_campaign_images_campaign_id_position')),
    )
    op.create_table(
        'campaign_faqs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('question', sa.String(length=200), nullable=False),
        sa.Column('answer', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_faqs_campaign_id_campaigns'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_faqs')),
        sa.UniqueConstraint('campaign_id', 'position', name=op.f('uq_campaign_faqs_campaign_id_position')),
    )


def downgrade():
    op.drop_table('campaign_faqs')
    op.drop_table('campaign_images')
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_pledges_shipping_in_amount'), type_='check')
        batch_op.drop_column('shipping_cents')
        batch_op.drop_column('shipping_zone')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_campaigns_shipping_not_negative'), type_='check')
        batch_op.drop_column('shipping_world_cents')
        batch_op.drop_column('shipping_eu_cents')
        batch_op.drop_column('shipping_domestic_cents')
        batch_op.drop_column('ships_from')
        batch_op.drop_column('delivery_month')
        batch_op.drop_column('risks')
        batch_op.drop_column('story')
