"""The migrations are the schema: one head, and upgrading an empty database gives exactly
what the models describe (the session fixture built the test database that way)."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade

from config import TestConfig
from marketplace import create_app
from marketplace.kernel.extensions import db


def _script_directory(app) -> ScriptDirectory:
    migrate = app.extensions["migrate"]
    return ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))


def test_there_is_a_single_migration_head(app, ctx):
    with ctx():
        assert len(_script_directory(app).get_heads()) == 1


#: Indexes the models cannot describe, written by hand in their migrations.
HAND_WRITTEN = ("ix_designs_rank_score_id", "ix_designs_title_trgm")


# Alembic cannot compare expression indexes and says so; the next test checks ours directly.
@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index"
)
def test_migrated_database_matches_the_models(app, ctx):
    with ctx():
        # Expression indexes are compared by the next test (see migrations/env.py). The
        # test's own connection: on SQLite a second one would wait for its write lock.
        mc = MigrationContext.configure(
            db.session.connection(),
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, parents: name not in HAND_WRITTEN,
                "include_object": lambda obj, name, *_: name not in HAND_WRITTEN,
            },
        )
        diff = compare_metadata(mc, db.metadata)
    assert diff == []


def test_expression_indexes_exist(app, ctx):
    with ctx():
        connection = db.session.connection()
        names = {ix["name"] for ix in sa.inspect(connection).get_indexes("designs")}
        dialect = connection.dialect.name
    assert "ix_designs_rank_score_id" in names
    # The search's trigram index, where pg_trgm can be had (the test servers have it).
    assert ("ix_designs_title_trgm" in names) == (dialect == "postgresql")


def test_downgrade_to_empty_and_back_up(tmp_path):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/round.sqlite3")
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert sa.inspect(db.engine).get_table_names() == ["alembic_version"]
        upgrade()
        assert {"users", "audit_events", "outbox_mails"} <= set(
            sa.inspect(db.engine).get_table_names()
        )
        db.engine.dispose()
