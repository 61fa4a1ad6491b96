"""redesign challenges: a design's original and what changed, the challenges, the reviews
they draw on, and the invitations to score a redesign

Revision ID: c8f4a2d6e913
Revises: b3e9c1d7f452
Create Date: 2026-12-01 16:55:27.724543

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c8f4a2d6e913'
down_revision = 'b3e9c1d7f452'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('redesign_challenges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('design_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('open', 'closed', 'redesigned', name='challengestate', native_enum=False, length=20), nullable=False),
    sa.Column('brief', sa.Text(), nullable=False),
    sa.Column('deadline', sa.DateTime(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('outcome_design_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['design_id'], ['designs.id'], name=op.f('fk_redesign_challenges_design_id_designs')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_redesign_challenges_opened_by_id_users')),
    sa.ForeignKeyConstraint(['outcome_design_id'], ['designs.id'], name=op.f('fk_redesign_challenges_outcome_design_id_designs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redesign_challenges'))
    )
    with op.batch_alter_table('redesign_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redesign_challenges_design_id'), ['design_id'], unique=False)
        batch_op.create_index('ix_redesign_challenges_state_deadline', ['state', 'deadline'], unique=False)
        batch_op.create_index('uq_redesign_challenges_open_design', ['design_id'], unique=True, postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'"))

    op.create_table('redesign_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('design_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['design_id'], ['designs.id'], name=op.f('fk_redesign_invitations_design_id_designs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_redesign_invitations_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redesign_invitations')),
    sa.UniqueConstraint('design_id', 'user_id', name=op.f('uq_redesign_invitations_design_id_user_id'))
    )
    with op.batch_alter_table('redesign_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_redesign_invitations_user_id'), ['user_id'], unique=False)

    op.create_table('redesign_challenge_reviews',
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('rating_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['challenge_id'], ['redesign_challenges.id'], name=op.f('fk_redesign_challenge_reviews_challenge_id_redesign_challenges'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rating_id'], ['ratings.id'], name=op.f('fk_redesign_challenge_reviews_rating_id_ratings')),
    sa.PrimaryKeyConstraint('challenge_id', 'rating_id', name=op.f('pk_redesign_challenge_reviews'))
    )
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a column with its reference in place; a batch "create_foreign_key"
        # would copy the designs table, which every other table references.
        op.execute(
            'ALTER TABLE designs ADD COLUMN redesign_of_id INTEGER '
            'CONSTRAINT fk_designs_redesign_of_id_designs REFERENCES designs (id)'
        )
    else:
        op.add_column('designs', sa.Column('redesign_of_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_designs_redesign_of_id_designs'), 'designs', 'designs', ['redesign_of_id'], ['id'])
    with op.batch_alter_table('designs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('what_changed', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_designs_redesign_of_id'), ['redesign_of_id'], unique=False)



def downgrade():
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint(op.f('fk_designs_redesign_of_id_designs'), 'designs', type_='foreignkey')
    # On SQLite, dropping a referencing column copies the table (batch mode).
    with op.batch_alter_table('designs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_designs_redesign_of_id'))
        batch_op.drop_column('what_changed')
        batch_op.drop_column('redesign_of_id')

    op.drop_table('redesign_challenge_reviews')
    with op.batch_alter_table('redesign_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_redesign_invitations_user_id'))

    op.drop_table('redesign_invitations')
    with op.batch_alter_table('redesign_challenges', schema=None) as batch_op:
        batch_op.drop_index('uq_redesign_challenges_open_design', postgresql_where=sa.text("state = 'open'"), sqlite_where=sa.text("state = 'open'"))
        batch_op.drop_index('ix_redesign_challenges_state_deadline')
        batch_op.drop_index(batch_op.f('ix_redesign_challenges_design_id'))

    op.drop_table('redesign_challenges')
