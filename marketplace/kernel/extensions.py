"""The Flask extensions, created once and bound to an app by ``create_app``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

#: Constraint names that Alembic can drop and recreate on every database, SQLite included.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


def _on_its_own(session) -> bool:
    # SQLite is in the process: no round trip to spare. A session already in a transaction,
    # or bound to a connection in one (the test suite's, rolled back test by test), has to
    # run its statements there.
    bind = session.get_bind()
    return (
        bind.dialect.name == "postgresql"
        and not isinstance(bind, sa.Connection)
        and not session.in_transaction()
    )


def connection_without_transaction() -> sa.Connection:
    """The session's connection, each statement its own transaction on PostgreSQL: no
    round trips for BEGIN and COMMIT, for a page that only reads (``web.read_only``). As it
    is where that cannot be (``_on_its_own``)."""
    session = db.session()
    if _on_its_own(session):
        return session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return session.connection()


@contextlib.contextmanager
def statement_on_its_own() -> Iterator[sa.Connection]:
    """A connection for one statement that does a whole change by itself (the vote),
    committed as it ends: on PostgreSQL straight from the pool, in autocommit, without the
    session's transaction and its bookkeeping (a third of the cost of running a short
    statement). The session's connection where that cannot be (``_on_its_own``): the caller
    commits as usual."""
    session = db.session()
    if not _on_its_own(session):
        yield session.connection()
        return
    with session.get_bind().connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")
