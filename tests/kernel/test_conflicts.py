"""A transaction that loses a collision with another is run once more, then answered with a
409: never a 500. PostgreSQL raises the real errors (CI sets TEST_DATABASE_URL)."""

import pytest
import sqlalchemy as sa

from marketplace.kernel.errors import is_conflict
from marketplace.kernel.extensions import db
from marketplace.kernel.web import retried_on_conflict
from tests.helpers import needs_postgresql

pytestmark = needs_postgresql("real serialization failures and deadlocks need")

# What PostgreSQL raises when a serializable transaction or a deadlock loses: raised here by
# the server itself, so the driver's exception is the one a real collision gives.
LOSE = {
    "serialization failure": "serialization_failure",
    "deadlock": "deadlock_detected",
}


def _lose(condition: str) -> None:
    db.session.execute(
        sa.text(f"DO $$ BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = '{condition}'; END $$")
    )


@pytest.mark.parametrize("condition", LOSE.values(), ids=LOSE.keys())
def test_a_write_that_loses_once_is_run_again_and_succeeds(app, condition):
    calls = []

    @retried_on_conflict
    def view():
        calls.append(1)
        if len(calls) == 1:
            _lose(condition)
        return "saved"

    with app.test_request_context("/", method="POST"):
        assert view() == "saved"
    assert len(calls) == 2


def test_a_write_that_loses_twice_is_answered_409_with_nothing_kept(app):
    @retried_on_conflict
    def view():
        _lose("serialization_failure")

    with app.test_request_context("/", method="POST"):
        with pytest.raises(sa.exc.DBAPIError) as raised:
            view()
        assert is_conflict(raised.value)
        response = app.make_response(app.handle_user_exception(raised.value))
    assert response.status_code == 409
    assert "Nothing was saved: try again." in response.get_data(as_text=True)


def test_other_database_errors_are_not_retried(app):
    calls = []

    @retried_on_conflict
    def view():
        calls.append(1)
        db.session.execute(sa.text("SELECT * FROM no_such_table"))

    with app.test_request_context("/", method="POST"), pytest.raises(sa.exc.DBAPIError) as raised:
        view()
    assert not is_conflict(raised.value) and len(calls) == 1
