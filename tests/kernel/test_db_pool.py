"""Pooled connections are pinged before use only after sitting idle, and a dead idle one is
replaced without the caller noticing."""

import pytest
import sqlalchemy as sa

from config import TestConfig
from marketplace import create_app
from marketplace.kernel.extensions import db
from tests.helpers import needs_postgresql

on_postgresql = needs_postgresql("ending a server connection needs")


@pytest.fixture
def pool_app(database_url, redis_url):
    """An app of its own, so its pool holds only this test's connection."""
    apps = []

    def build(idle_seconds: float):
        app = create_app(
            TestConfig,
            SQLALCHEMY_DATABASE_URI=database_url,
            REDIS_URL=redis_url,
            RATELIMIT_STORAGE_URI=redis_url,
            DB_PING_AFTER_IDLE_SECONDS=idle_seconds,
        )
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def _pings(monkeypatch, app) -> list[int]:
    calls: list[int] = []
    with app.app_context():
        dialect = db.engine.dialect
    real = dialect.do_ping

    def counting(dbapi_connection):
        calls.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counting)
    return calls


def _transactions(app, count: int) -> None:
    with app.app_context():
        for _ in range(count):
            with db.engine.connect() as conn:
                assert conn.scalar(sa.text("SELECT 1")) == 1


def test_a_connection_back_from_use_a_moment_ago_is_not_pinged(pool_app, monkeypatch):
    app = pool_app(idle_seconds=3600)
    pings = _pings(monkeypatch, app)
    _transactions(app, 5)
    assert pings == []


def test_a_connection_idle_past_the_threshold_is_pinged_at_each_checkout(pool_app, monkeypatch):
    app = pool_app(idle_seconds=0)
    pings = _pings(monkeypatch, app)
    _transactions(app, 5)
    # The first checkout opens a new connection, which needs no ping.
    assert len(pings) == 4


def _end_pooled_backend(app) -> None:
    """Terminate, from another session, the server process behind the pooled connection."""
    with app.app_context():
        with db.engine.connect() as conn:
            pid = conn.scalar(sa.text("SELECT pg_backend_pid()"))
        killer = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
        with killer.connect() as other:
            assert other.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()


@on_postgresql
def test_a_dead_idle_connection_is_replaced_before_anyone_uses_it(pool_app):
    app = pool_app(idle_seconds=0)
    _end_pooled_backend(app)
    with app.app_context(), db.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT 1")) == 1


@on_postgresql
def test_a_connection_that_died_while_hot_fails_once_then_the_pool_recovers(pool_app):
    # The price of skipping the ping: the statement fails as an in-flight one would, and
    # SQLAlchemy recycles the pool so that the retry works.
    app = pool_app(idle_seconds=3600)
    _end_pooled_backend(app)
    with app.app_context():
        with pytest.raises(sa.exc.OperationalError), db.engine.connect() as conn:
            conn.scalar(sa.text("SELECT 1"))
        with db.engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT 1")) == 1
