"""The busiest pages read without a transaction on PostgreSQL (kernel.web.read_only): their
statements run in autocommit, and the connection goes back to the pool as it came, so the
next request's writes are in a transaction again; so does the vote's, one statement committed
on its own."""

import pytest
import sqlalchemy as sa

from designs.models import Comment, Vote
from marketplace.kernel.extensions import db, statement_sent
from tests.helpers import csrf_in, needs_postgresql

pytestmark = [pytest.mark.live_db, needs_postgresql("autocommit reads are PostgreSQL's:")]


@pytest.fixture
def autocommit_seen(app):
    """For each statement sent, whether its connection was in autocommit."""
    with app.app_context():
        engine = db.engine
    seen: list[tuple[bool, str]] = []

    def before(conn, cursor, statement, *args):
        seen.append((conn.connection.dbapi_connection.autocommit, statement))

    def on_driver(statement, connection):
        seen.append((connection.autocommit, statement))

    sa.event.listen(engine, "before_cursor_execute", before)
    # What runs straight on the driver (kernel.extensions.run_on_its_own: the vote).
    statement_sent.connect(on_driver)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", before)
    statement_sent.disconnect(on_driver)


def test_pages_read_in_autocommit_and_writes_after_them_are_transactions(
    app, ctx, make_user, make_design, auth, client, autocommit_seen
):
    design_id = make_design()
    make_user("reader@example.com")
    auth.login("reader@example.com")
    client.get("/")
    autocommit_seen.clear()
    for path in (f"/designs/{design_id}", "/designs/"):
        page = client.get(path)
        assert page.status_code == 200
    assert autocommit_seen and all(auto for auto, _ in autocommit_seen), autocommit_seen

    # The vote is one statement committed on its own (designs.services.cast_vote).
    autocommit_seen.clear()
    token = csrf_in(page.get_data(as_text=True))
    vote = client.post(f"/designs/{design_id}/vote", data={"csrf_token": token, "score": "4"})
    assert vote.status_code == 302
    assert [auto for auto, _ in autocommit_seen] == [True], autocommit_seen

    # A comment right after, on the connections the pages and the vote gave back: in a
    # transaction.
    autocommit_seen.clear()
    comment = client.post(
        f"/designs/{design_id}/comments", data={"csrf_token": token, "body": "Lovely lines."}
    )
    assert comment.status_code == 302
    assert autocommit_seen and not any(auto for auto, _ in autocommit_seen)
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Vote)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 1
