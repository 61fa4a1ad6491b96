"""A statement run straight on the driver (kernel.extensions.run_on_its_own, the vote's): the
values SQLAlchemy would send and give back, SQLAlchemy's errors, and the connection back in
the pool as it came."""

import datetime as dt

import pytest
import sqlalchemy as sa

from designs.models import Design, DesignState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db, run_on_its_own, statement_sent
from tests.helpers import needs_postgresql

pytestmark = [pytest.mark.live_db, needs_postgresql("the driver's path is PostgreSQL's:")]

designs = Design.__table__

# Typed both ways: an aware datetime and an enum in, the same out; a value the statement
# holds itself (the state compared with) processed like the others.
_ROUND_TRIP = sa.select(
    sa.bindparam("when", type_=designs.c.voting_closes_at.type).label("when"),
    sa.bindparam("state", type_=designs.c.state.type).label("state"),
    (sa.bindparam("state", type_=designs.c.state.type) == DesignState.VOTING).label("is_voting"),
    sa.literal(7).label("seven"),
)
_FAILS = sa.select((sa.literal(1) / sa.bindparam("zero", type_=sa.Integer())).label("x"))


def test_values_go_and_come_back_as_sqlalchemy_types_them(app):
    when = utcnow().replace(microsecond=0)
    sent = []

    def on_driver(sql, connection):
        sent.append(sql)

    statement_sent.connect(on_driver)
    try:
        with app.test_request_context():
            row = run_on_its_own(_ROUND_TRIP, {"when": when, "state": DesignState.VOTING})
    finally:
        statement_sent.disconnect(on_driver)
    assert len(sent) == 1  # one statement, on the driver
    assert row.when == when and row.when.tzinfo is not None
    assert row.state is DesignState.VOTING
    assert row.is_voting is True and row.seven == 7


def test_an_error_is_sqlalchemys_and_the_connection_goes_back_usable(app):
    with app.test_request_context():
        with pytest.raises(sa.exc.DBAPIError) as refused:
            run_on_its_own(_FAILS, {"zero": 0})
        assert "division by zero" in str(refused.value)
        # The same pool's connections: out of autocommit, and in working order.
        with db.engine.connect() as conn:
            assert conn.connection.dbapi_connection.autocommit is False
            assert conn.scalar(sa.text("SELECT 1")) == 1
        when = utcnow() + dt.timedelta(days=1)
        row = run_on_its_own(_ROUND_TRIP, {"when": when, "state": DesignState.DRAFT})
        assert row.is_voting is False
