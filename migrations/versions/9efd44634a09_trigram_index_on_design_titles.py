"""trigram index on design titles, for the gallery's search

Revision ID: 9efd44634a09
Revises: c5d2e8a4f613
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9efd44634a09'
down_revision = 'c5d2e8a4f613'
branch_labels = None
depends_on = None

INDEX = 'ix_designs_title_trgm'


def upgrade():
    # The search looks for words inside titles (ILIKE '%word%'), which a B-tree cannot serve;
    # pg_trgm's GIN index can. The extension ships with PostgreSQL and every managed offer,
    # and is trusted (a database owner may create it); where it cannot be created the search
    # still works, scanning the designs as SQLite does, so its absence does not stop a deploy.
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    if not _has_trgm(bind):
        try:
            with bind.begin_nested():
                bind.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
        except sa.exc.DBAPIError:
            return
    op.execute(f'CREATE INDEX {INDEX} ON designs USING gin (title gin_trgm_ops)')


def downgrade():
    # The extension stays: something else in the database may use it.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'DROP INDEX IF EXISTS {INDEX}')


def _has_trgm(bind) -> bool:
    return bool(bind.scalar(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")))
