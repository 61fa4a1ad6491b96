"""The vote checks who votes in its own statement (accounts.authz.as_member): the login
session the cookie names, as the user loader would, without loading the account. What a
member relies on must hold all the same: an ended session votes for nobody, "keep me logged
in" still votes, the confirmation is in their language, and it is one statement."""

import pytest
import sqlalchemy as sa

from designs.models import Design, Vote
from marketplace.accounts.models import User
from marketplace.kernel.extensions import db, statement_sent
from tests.helpers import PASSWORD, Auth, csrf_token, needs_postgresql


def _votes(ctx, design_id):
    with ctx():
        return db.session.scalars(sa.select(Vote).where(Vote.design_id == design_id)).all()


def test_a_session_logged_out_elsewhere_votes_for_nobody(app, ctx, make_user, make_design):
    design_id = make_design()
    make_user("twice@example.com")
    laptop = app.test_client()
    Auth(laptop).login("twice@example.com")
    token = csrf_token(laptop, f"/designs/{design_id}")
    # The same browser session, copied before the laptop logs out (a stolen cookie).
    copy = app.test_client()
    copy.set_cookie("session", laptop.get_cookie("session").value)
    Auth(laptop).logout()

    resp = copy.post(f"/designs/{design_id}/vote", data={"csrf_token": token, "score": "5"})
    assert resp.status_code == 302
    assert "/account/login" in resp.headers["Location"]
    assert _votes(ctx, design_id) == []


def test_keep_me_logged_in_still_votes_when_the_session_forgot_the_login(
    app, ctx, make_user, make_design
):
    design_id = make_design()
    make_user("remembered@example.com")
    browser = app.test_client()
    token = csrf_token(browser, "/account/login")
    browser.post(
        "/account/login",
        data={
            "email": "remembered@example.com",
            "password": PASSWORD,
            "remember": "y",
            "csrf_token": token,
        },
    )
    token = csrf_token(browser, f"/designs/{design_id}")
    with browser.session_transaction() as session:
        session.pop("_user_id")  # as after the browser session's end: the cookie remains

    resp = browser.post(f"/designs/{design_id}/vote", data={"csrf_token": token, "score": "3"})
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/designs/{design_id}#scores")
    assert [v.score for v in _votes(ctx, design_id)] == [3]


def test_the_confirmation_is_in_the_voters_language(app, ctx, make_user, make_design, client):
    design_id = make_design()
    voter_id = make_user("francoise@example.com")
    with ctx():
        db.session.get(User, voter_id).locale = "fr"
        db.session.commit()
    Auth(client).login("francoise@example.com")
    token = csrf_token(client, f"/designs/{design_id}")

    # The browser asks for English; the account chose French.
    resp = client.post(
        f"/designs/{design_id}/vote",
        data={"csrf_token": token, "score": "4"},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "Votre note est enregistrée." in resp.get_data(as_text=True)


def test_what_the_form_cannot_send_is_refused_and_saves_nothing(
    ctx, make_user, make_design, auth, client
):
    design_id = make_design()
    make_user("typist@example.com")
    auth.login("typist@example.com")
    token = csrf_token(client, f"/designs/{design_id}")
    for data in (
        {},
        {"score": ""},
        {"score": "3.5"},
        {"score": "-1"},
        {"score": "4", "would_buy": "y", "variant_id": "L"},
        {"score": "4", "would_buy": "y", "variant_id": "-2"},
    ):
        resp = client.post(f"/designs/{design_id}/vote", data={"csrf_token": token, **data})
        assert resp.status_code == 422, data
        assert "Choose a score from 0 to 5." in resp.get_data(as_text=True)
    assert _votes(ctx, design_id) == []
    # Without the token, nothing either: CSRFProtect checks it before the view.
    assert client.post(f"/designs/{design_id}/vote", data={"score": "4"}).status_code == 400
    # "Any variant" (0) is no variant.
    resp = client.post(
        f"/designs/{design_id}/vote",
        data={"csrf_token": token, "score": "4", "would_buy": "y", "variant_id": "0"},
    )
    assert resp.status_code == 302
    [vote] = _votes(ctx, design_id)
    assert (vote.score, vote.would_buy, vote.variant_id) == (4, True, None)


# Committed for real (live_db): in the suite's rolled-back transaction the vote would run
# inside it, not on its own.
@pytest.mark.live_db
@needs_postgresql("the one-statement vote is")
def test_a_vote_is_one_statement_on_postgresql(app, ctx, make_user, make_design, auth, client):
    design_id = make_design()
    make_user("quick@example.com")
    auth.login("quick@example.com")
    token = csrf_token(client, f"/designs/{design_id}")
    with app.app_context():
        engine = db.engine
    sent: list[str] = []
    driver: list[str] = []

    def before(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            sent.append(statement)

    def on_driver(sql, connection):
        sent.append(sql)
        driver.append(sql)

    # The vote runs on the driver's connection (kernel.extensions.run_on_its_own), which
    # the engine's events do not see: both are counted, so a statement through either counts.
    sa.event.listen(engine, "before_cursor_execute", before)
    statement_sent.connect(on_driver)
    try:
        for score in ("2", "5"):  # the first vote, then a change
            resp = client.post(
                f"/designs/{design_id}/vote", data={"csrf_token": token, "score": score}
            )
            assert resp.status_code == 302
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        statement_sent.disconnect(on_driver)
    assert len(sent) == 2, sent
    assert all(s in driver for s in sent), sent  # on its own, straight on the driver
    with ctx():
        design = db.session.get(Design, design_id)
        assert (design.vote_count, design.score_sum) == (1, 5)
