"""Races the database must settle, on PostgreSQL (CI runs it with TEST_DATABASE_URL)."""

import threading

import pytest
import sqlalchemy as sa

from designs.models import Design, Vote
from marketplace.kernel.extensions import db
from tests.helpers import Auth, csrf_token, needs_postgresql

pytestmark = [
    pytest.mark.live_db,
    needs_postgresql("row locks need"),
]


def test_fifty_simultaneous_score_posts_by_one_account_leave_one_vote(
    app, ctx, make_user, make_design, auth, client
):
    design_id = make_design()
    make_user("eager@example.com")
    auth.login("eager@example.com")
    token = csrf_token(client, f"/designs/{design_id}")
    cookie = client.get_cookie("session").value

    statuses = []
    barrier = threading.Barrier(50)

    def post(score: int) -> None:
        browser_tab = app.test_client()
        browser_tab.set_cookie("session", cookie)
        barrier.wait()
        resp = browser_tab.post(
            f"/designs/{design_id}/vote", data={"csrf_token": token, "score": score % 6}
        )
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert statuses == [302] * 50
    with ctx():
        votes = db.session.scalars(sa.select(Vote).where(Vote.design_id == design_id)).all()
        design = db.session.get(Design, design_id)
        assert len(votes) == 1
        # The totals hold exactly the one vote that won the race last.
        assert (design.vote_count, design.score_sum) == (1, votes[0].score)


def test_votes_changed_at_once_by_several_accounts_in_several_tabs_keep_the_totals_exact(
    app, ctx, make_user, make_design
):
    """Each account votes and changes its vote from two tabs at once while the others do
    the same: every post is taken, and the design's counters are the sums of the votes that
    remain, as the one-statement vote promises when its snapshot is older than the lock."""
    design_id = make_design()
    tabs = []
    for n in range(5):
        email = f"tabs{n}@example.com"
        make_user(email)
        first = app.test_client()
        Auth(first).login(email)
        token = csrf_token(first, f"/designs/{design_id}")
        cookie = first.get_cookie("session").value
        tabs += [(n, tab, cookie, token) for tab in range(2)]

    statuses = []
    barrier = threading.Barrier(len(tabs))

    def post(account: int, tab: int, cookie: str, token: str) -> None:
        browser_tab = app.test_client()
        browser_tab.set_cookie("session", cookie)
        barrier.wait()
        for k in range(4):
            data = {"csrf_token": token, "score": (account + tab + k) % 6}
            if (account + k) % 2:
                data["would_buy"] = "y"
            resp = browser_tab.post(f"/designs/{design_id}/vote", data=data)
            statuses.append(resp.status_code)

    threads = [threading.Thread(target=post, args=tab) for tab in tabs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert statuses == [302] * (len(tabs) * 4)
    with ctx():
        votes = db.session.scalars(sa.select(Vote).where(Vote.design_id == design_id)).all()
        design = db.session.get(Design, design_id)
        assert len(votes) == 5
        assert (design.vote_count, design.score_sum, design.buy_count) == (
            5,
            sum(v.score for v in votes),
            sum(v.would_buy for v in votes),
        )
