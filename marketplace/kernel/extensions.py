"""The Flask extensions, created once and bound to an app by ``create_app``."""

from __future__ import annotations

import collections

import blinker
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


class _DriverStatement:
    """A statement compiled once for the driver, with SQLAlchemy's own type processing of
    its parameters (the values it holds itself included) and of its columns: what running
    it through a Connection would send and give back, without the per-execution work
    around it (compiled-cache lookup, execution context, result metadata), which costs as
    much CPU as the driver's own call."""

    def __init__(self, statement: sa.Select, dialect: sa.Dialect):
        compiled = statement.compile(dialect=dialect)
        self.compiled = compiled
        self.sql = compiled.string
        self.bind_processors = {
            name: param.type.dialect_impl(dialect).bind_processor(dialect)
            for param, name in compiled.bind_names.items()
        }
        self.dialect = dialect
        self.columns = list(statement.selected_columns)
        self.result_processors = None  # from the driver's types, at the first run
        self.row = collections.namedtuple("Row", [column.key for column in self.columns])

    def parameters(self, params: dict) -> dict:
        values = self.compiled.construct_params(params)
        for name, process in self.bind_processors.items():
            if process is not None and name in values:
                values[name] = process(values[name])
        return values

    def result(self, raw: tuple, description):
        if self.result_processors is None:
            self.result_processors = [
                column.type.dialect_impl(self.dialect).result_processor(
                    self.dialect, found.type_code
                )
                for column, found in zip(self.columns, description, strict=True)
            ]
        pairs = zip(self.result_processors, raw, strict=True)
        return self.row(*(value if p is None else p(value) for p, value in pairs))


_DRIVER_STATEMENTS: dict[tuple[int, str], _DriverStatement] = {}

#: Sent with the SQL of each statement run straight on the driver (``run_on_its_own``,
#: ``read_on_driver``) and its connection: SQLAlchemy's engine events do not see those, so
#: whatever counts statements (tests, the page profiler) listens to both.
statement_sent = blinker.Namespace().signal("kernel.statement-sent-on-its-own")


def _prepared(statement: sa.Select, dialect: sa.Dialect) -> _DriverStatement:
    key = (id(statement), dialect.name)
    prepared = _DRIVER_STATEMENTS.get(key)
    if prepared is None:
        prepared = _DRIVER_STATEMENTS[key] = _DriverStatement(statement, dialect)
    return prepared


def _on_driver(prepared: _DriverStatement, values: dict, conn, invalidate) -> list:
    """The rows the statement gives on the driver's connection ``conn``; a driver's error
    raised as SQLAlchemy's, the connection invalidated (``invalidate``) when it is lost."""
    dialect = prepared.dialect
    statement_sent.send(prepared.sql, connection=conn)
    try:
        with conn.cursor() as cursor:
            cursor.execute(prepared.sql, values)
            raw = cursor.fetchall()
            description = cursor.description
    except dialect.loaded_dbapi.Error as exc:
        if dialect.is_disconnect(exc, conn, None):
            invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            prepared.sql, values, exc, dialect.loaded_dbapi.Error
        ) from exc
    return [prepared.result(row, description) for row in raw]


def run_on_its_own(statement: sa.Select, params: dict):
    """The one row of a statement that does a whole change by itself (the vote), committed
    as it ends. On PostgreSQL: on a connection of the pool, in autocommit, straight on the
    driver (``_DriverStatement``): no transaction to begin or end, no session bookkeeping,
    one round trip. Where that cannot be (``_on_its_own``), on the session's connection, for
    the caller to commit as usual. Errors are SQLAlchemy's either way."""
    session = db.session()
    if not _on_its_own(session):
        return session.connection().execute(statement, params).one()
    engine = session.get_bind()
    prepared = _prepared(statement, engine.dialect)
    values = prepared.parameters(params)
    pooled = engine.raw_connection()
    try:
        conn = pooled.driver_connection
        conn.autocommit = True
        try:
            rows = _on_driver(prepared, values, conn, pooled.invalidate)
        finally:
            if pooled.is_valid:
                conn.autocommit = False
    finally:
        pooled.close()
    if len(rows) != 1:
        raise (sa.exc.MultipleResultsFound if rows else sa.exc.NoResultFound)("one row expected")
    return rows[0]


def read_on_driver(statement: sa.Select, params: dict) -> list:
    """The rows of a read that runs on every request of a busy page (a design's counters
    and the reader's vote), on the session's connection, as it is (in autocommit on a
    ``web.read_only`` page); on PostgreSQL straight on the driver (``_DriverStatement``),
    elsewhere through SQLAlchemy. Rows are named tuples either way."""
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        return list(conn.execute(statement, params))
    prepared = _prepared(statement, conn.dialect)
    return _on_driver(
        prepared, prepared.parameters(params), conn.connection.driver_connection, conn.invalidate
    )
