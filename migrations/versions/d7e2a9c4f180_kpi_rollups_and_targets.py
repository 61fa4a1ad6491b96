"""KPI rollups and targets

Revision ID: d7e2a9c4f180
Revises: a9d4e6b2c1f7
Create Date: 2026-12-01 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd7e2a9c4f180'
down_revision = 'a9d4e6b2c1f7'
branch_labels = None
depends_on = None


def upgrade():
    # Empty until the first rollup: `flask kpis rebuild` (or the next `flask cron` round)
    # fills them from the existing history.
    op.create_table('kpi_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('participants', sa.Integer(), nullable=False),
    sa.Column('ratings', sa.Integer(), nullable=False),
    sa.Column('rating_points', sa.Integer(), nullable=False),
    sa.Column('top_ratings', sa.Integer(), nullable=False),
    sa.Column('nps_answers', sa.Integer(), nullable=False),
    sa.Column('promoters', sa.Integer(), nullable=False),
    sa.Column('detractors', sa.Integer(), nullable=False),
    sa.Column('delivered_orders', sa.Integer(), nullable=False),
    sa.Column('rated_orders', sa.Integer(), nullable=False),
    sa.Column('units_made', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_kpi_days'))
    )
    op.create_table('kpi_money',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('pledged_cents', sa.BigInteger(), nullable=False),
    sa.Column('collected_cents', sa.BigInteger(), nullable=False),
    sa.Column('refunded_cents', sa.BigInteger(), nullable=False),
    sa.Column('royalties_booked_cents', sa.BigInteger(), nullable=False),
    sa.Column('royalties_paid_cents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'currency', name=op.f('pk_kpi_money'))
    )
    op.create_table('kpi_activity',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('roles', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'account_id', name=op.f('pk_kpi_activity'))
    )
    op.create_index('ix_kpi_activity_account_id_day', 'kpi_activity', ['account_id', 'day'], unique=False)
    op.create_table('kpi_accounts',
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('first_backed_day', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_kpi_accounts'))
    )
    op.create_table('kpi_cohorts',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('submitted', sa.Integer(), nullable=False),
    sa.Column('redesigns', sa.Integer(), nullable=False),
    sa.Column('approved', sa.Integer(), nullable=False),
    sa.Column('shortlisted', sa.Integer(), nullable=False),
    sa.Column('selected', sa.Integer(), nullable=False),
    sa.Column('campaign', sa.Integer(), nullable=False),
    sa.Column('funded', sa.Integer(), nullable=False),
    sa.Column('produced', sa.Integer(), nullable=False),
    sa.Column('delivered', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_kpi_cohorts'))
    )
    op.create_table('kpi_rollups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rolled_through', sa.Date(), nullable=True),
    sa.Column('rolled_at', sa.DateTime(), nullable=True),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('targets_version', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_rollups'))
    )
    # The row every rollup locks, there from the start: two first runs cannot both create it.
    op.bulk_insert(
        sa.table('kpi_rollups', sa.column('id', sa.Integer()), sa.column('generation', sa.Integer())),
        [{'id': 1, 'generation': 0}],
    )
    op.create_table('kpi_targets',
    sa.Column('indicator', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('set_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('change', 'at_least')", name=op.f('ck_kpi_targets_kind_known')),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], name=op.f('fk_kpi_targets_set_by_id_users')),
    sa.PrimaryKeyConstraint('indicator', name=op.f('pk_kpi_targets'))
    )


def downgrade():
    op.drop_table('kpi_targets')
    op.drop_table('kpi_rollups')
    op.drop_table('kpi_cohorts')
    op.drop_table('kpi_accounts')
    op.drop_index('ix_kpi_activity_account_id_day', table_name='kpi_activity')
    op.drop_table('kpi_activity')
    op.drop_table('kpi_money')
    op.drop_table('kpi_days')
