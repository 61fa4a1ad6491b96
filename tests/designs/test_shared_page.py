"""A design's page is put together from a piece every reader with the same roles shares
(kernel.fragments) and the reader's own: what is shared must follow every change, and what is
the reader's must never reach anyone else."""

import re

import pytest

from tests.helpers import PASSWORD, count_queries, csrf_in, csrf_token


@pytest.fixture
def shared(app, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_CACHE_TAGGED_SECONDS", 300)
    # One process, one clock (tests/kernel/test_pagecache.py): stored right after the change.
    monkeypatch.setattr("marketplace.kernel.pagecache.CLOCK_SKEW_SECONDS", 0.0)


def _member(app, email):
    client = app.test_client()
    answer = client.post(
        "/account/login",
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": csrf_token(client, "/account/login"),
        },
    )
    assert answer.status_code == 302
    client.get("/")  # the login's message
    return client


def _page(client, design_id):
    page = client.get(f"/designs/{design_id}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def _comment(client, design_id, body):
    answer = client.post(
        f"/designs/{design_id}/comments",
        data={"csrf_token": csrf_token(client, f"/designs/{design_id}"), "body": body},
    )
    assert answer.status_code == 302
    client.get(f"/designs/{design_id}")  # shows the message beside the comment


def _reports(html):
    return len(re.findall(r'action="/designs/comments/\d+/report"', html))


def test_each_reader_gets_their_own_report_buttons_and_token(app, shared, make_user, make_design):
    make_user("ada@example.com")
    make_user("bob@example.com")
    design_id = make_design()
    ada, bob = _member(app, "ada@example.com"), _member(app, "bob@example.com")
    _comment(ada, design_id, "Ada's thought")
    _comment(bob, design_id, "Bob's thought")

    for round_ in range(2):  # rendered, then read back
        with count_queries(app) as queries:
            ada_page, bob_page = _page(ada, design_id), _page(bob, design_id)
        if round_:
            # Each page: the account, and the design's counters with the reader's vote.
            assert len(queries) == 2 * 2, "not read back from the shared piece"
        assert "Ada&#39;s thought" in bob_page and "Bob&#39;s thought" in ada_page
        # A report button under the other's comment only.
        assert _reports(ada_page) == _reports(bob_page) == 1
        assert csrf_in(ada_page) != csrf_in(bob_page)
        assert "\x00" not in ada_page + bob_page
    # Each one's token works for them: the shared piece carried none of its own.
    report = re.search(r'action="(/designs/comments/\d+/report)"', bob_page)[1]
    assert bob.post(report, data={"csrf_token": csrf_in(bob_page)}).status_code == 302
    assert ada.post(report, data={"csrf_token": csrf_in(bob_page)}).status_code == 400


def test_the_shared_piece_follows_a_new_comment_and_the_scores_follow_each_vote(
    app, shared, make_user, make_design
):
    make_user("ada@example.com")
    make_user("bob@example.com")
    design_id = make_design()
    ada, bob = _member(app, "ada@example.com"), _member(app, "bob@example.com")
    assert "No comments yet." in _page(bob, design_id)
    _comment(ada, design_id, "Fresh words")
    assert "Fresh words" in _page(bob, design_id)

    vote = {"csrf_token": csrf_in(_page(ada, design_id)), "score": "4"}
    assert ada.post(f"/designs/{design_id}/vote", data=vote).status_code == 302
    assert "Your score (you gave 4)" in _page(ada, design_id)
    assert "Your score (you gave" not in _page(bob, design_id)  # Bob's own vote form
    vote = {"csrf_token": csrf_in(_page(bob, design_id)), "score": "2"}
    assert bob.post(f"/designs/{design_id}/vote", data=vote).status_code == 302
    assert "average of 2 votes" in _page(ada, design_id)


def test_a_members_page_reads_its_piece_and_the_banner_in_one_round_trip_to_redis(
    app, shared, make_user, make_design, monkeypatch
):
    """The shared piece and what every member's page keeps (the survey banner) come back
    from Redis together (kernel.fragments.read_ahead), once both are kept."""
    from marketplace.kernel.queues import redis_connection

    make_user("ada@example.com")
    design_id = make_design()
    ada = _member(app, "ada@example.com")
    first = _page(ada, design_id)  # renders the piece, finds no banner: both kept
    with app.app_context():
        redis = redis_connection()
    sent = []
    original = type(redis).execute_command

    def counted(self, *args, **options):
        sent.append(args[0])
        return original(self, *args, **options)

    monkeypatch.setattr(type(redis), "execute_command", counted)
    again = _page(ada, design_id)
    assert sent == ["MGET"], sent
    assert again.count("Log out") == first.count("Log out") == 1


def test_the_scores_section_is_rendered_once_for_every_process_until_a_vote_moves_it(
    app, shared, make_user, make_design
):
    """Readers with the same roles and no vote see the same section: rendered once, kept in
    Redis (kernel.fragments.tagged_piece), so another process reads it rather than rendering
    it again; a vote changes the counters, and so the section everyone gets."""
    from flask import template_rendered

    make_user("ada@example.com")
    make_user("bob@example.com")
    make_user("cyd@example.com")
    design_id = make_design()
    ada, bob, cyd = (_member(app, f"{n}@example.com") for n in ("ada", "bob", "cyd"))
    rendered = []

    def seen(sender, template, context, **extra):
        if template.name == "designs/_scores.html":
            rendered.append(context["current_user"].email)

    template_rendered.connect(seen, app)
    try:
        first = _page(ada, design_id)
        # Another process: nothing of this one's own pieces.
        app.extensions.pop("fragments.in_process", None)
        assert _page(bob, design_id).count("Save my score") == first.count("Save my score") == 1
        assert rendered == ["ada@example.com"]

        vote = {"csrf_token": csrf_in(first), "score": "5", "would_buy": "y"}
        assert ada.post(f"/designs/{design_id}/vote", data=vote).status_code == 302
        _page(ada, design_id)  # the vote's message: rendered for Ada alone, not kept
        rendered.clear()
        assert "Your score (you gave 5)" in _page(ada, design_id)
        bobs = _page(bob, design_id)
        assert "Your score (you gave" not in bobs and "1 vote" not in bobs  # hidden until scored
        assert _page(cyd, design_id).count("Save my score") == 1
        assert rendered == ["ada@example.com", "bob@example.com"]
    finally:
        template_rendered.disconnect(seen, app)
