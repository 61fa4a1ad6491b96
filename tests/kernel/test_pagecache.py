"""Anonymous visitors share briefly cached public pages; members never see a cached page."""

import datetime as dt

import pytest

from designs.models import Design
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from tests.helpers import csrf_token


@pytest.fixture
def caching(app, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 30)
    monkeypatch.setitem(app.config, "PAGE_CACHE_TAGGED_SECONDS", 300)
    # One process, one clock: the allowance for two servers' clocks would only make a page
    # visited within a second of a change wait for the visit after.
    monkeypatch.setattr("marketplace.kernel.pagecache.CLOCK_SKEW_SECONDS", 0.0)


def _anonymous(app, path):
    resp = app.test_client().get(path)
    assert resp.status_code == 200
    return resp.headers.get("X-Cache"), resp.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/designs/", "/campaigns/", "/about/scoring"])
def test_anonymous_public_pages_set_no_cookie(app, path, make_design, make_campaign):
    make_design()
    make_campaign()
    resp = app.test_client().get(path)
    assert resp.status_code == 200
    assert "Set-Cookie" not in resp.headers


def test_anonymous_design_and_campaign_pages_set_no_cookie(app, make_design, make_campaign):
    design_id = make_design()
    campaign_id = make_campaign()
    for path in (f"/designs/{design_id}", f"/campaigns/{campaign_id}"):
        assert "Set-Cookie" not in app.test_client().get(path).headers


def test_anonymous_gallery_is_served_from_the_cache_until_it_expires(
    app, ctx, caching, make_design
):
    design_id = make_design(title="Before the rename")
    first = app.test_client().get("/designs/")
    assert first.headers["X-Cache"] == "miss"
    assert (
        "public" in first.headers["Cache-Control"]
        and "max-age=30" in first.headers["Cache-Control"]
    )
    with ctx():
        db.session.get(Design, design_id).title = "After the rename"
        db.session.commit()
    second = app.test_client().get("/designs/")
    assert second.headers["X-Cache"] == "hit"
    assert "Before the rename" in second.get_data(as_text=True)
    # Another query string is another page.
    assert app.test_client().get("/designs/?sort=closing").headers["X-Cache"] == "miss"


def test_members_always_get_a_fresh_page(app, ctx, client, auth, caching, make_user, make_design):
    design_id = make_design(title="Before the rename")
    app.test_client().get("/designs/")  # cached for anonymous visitors
    with ctx():
        db.session.get(Design, design_id).title = "After the rename"
        db.session.commit()
    make_user("member@example.com")
    auth.login("member@example.com")
    resp = client.get("/designs/")
    assert "X-Cache" not in resp.headers
    assert "After the rename" in resp.get_data(as_text=True)


def test_a_down_cache_only_costs_speed(app, caching, monkeypatch, make_design):
    from marketplace.kernel.queues import make_redis

    make_design(title="Still served")
    monkeypatch.setitem(app.extensions, "redis", make_redis("redis://127.0.0.1:1/0"))
    resp = app.test_client().get("/designs/")
    assert resp.status_code == 200 and "Still served" in resp.get_data(as_text=True)


def test_errors_are_not_cached(app, caching, ctx):
    from marketplace.kernel.queues import redis_connection

    resp = app.test_client().get("/designs/999999")
    assert resp.status_code == 404
    assert redis_connection(app).keys("pagecache:*") == []


def test_a_cached_page_keeps_the_headers_of_the_page_it_copies(app, caching, make_design):
    make_design()
    first = app.test_client().get("/designs/")
    second = app.test_client().get("/designs/")
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
    for header in ("Content-Security-Policy", "X-Frame-Options", "Content-Type", "Cache-Control"):
        assert second.headers[header] == first.headers[header]
    assert second.get_data() == first.get_data()


def test_a_hit_does_not_touch_the_database(app, caching, make_design):
    from tests.helpers import count_queries

    make_design()
    app.test_client().get("/designs/")
    with count_queries(app) as statements:
        assert app.test_client().get("/designs/").headers["X-Cache"] == "hit"
    assert statements == []


@pytest.mark.parametrize("cookie", ["session", "remember_token"])
def test_a_visitor_with_a_session_or_remember_cookie_is_never_served_a_copy(
    app, caching, make_design, cookie
):
    make_design()
    app.test_client().get("/designs/")
    client = app.test_client()
    client.set_cookie(app.config.get("SESSION_COOKIE_NAME") if cookie == "session" else cookie, "x")
    resp = client.get("/designs/")
    assert resp.status_code == 200 and "X-Cache" not in resp.headers


def test_pages_not_marked_for_the_cache_are_never_stored(app, caching):
    from marketplace.kernel.queues import redis_connection

    # The login page also puts a CSRF token in a new session: it belongs to that visitor.
    resp = app.test_client().get("/account/login")
    assert resp.status_code == 200
    assert redis_connection(app).keys("pagecache:*") == []


def test_a_design_page_is_kept_until_the_design_changes(
    app, ctx, client, auth, caching, make_user, make_design
):
    from designs import services

    design_id = make_design(title="Kept design", closes_in=dt.timedelta(days=7))
    path = f"/designs/{design_id}"
    assert _anonymous(app, path)[0] == "miss"
    # Changes no code announces (here: straight to the database) wait for the copy to expire;
    # proxies are only allowed the short window.
    with ctx():
        db.session.get(Design, design_id).description = "Edited behind the cache's back"
        db.session.commit()
    cached, html = _anonymous(app, path)
    assert cached == "hit" and "Edited behind" not in html
    assert "max-age=30" in app.test_client().get(path).headers["Cache-Control"]

    # A member's comment: anonymous visitors see it on their next visit.
    make_user("member@example.com")
    auth.login("member@example.com")
    token = csrf_token(client, path)
    resp = client.post(f"{path}/comments", data={"csrf_token": token, "body": "Love the colours"})
    assert resp.status_code == 302
    cached, html = _anonymous(app, path)
    assert cached == "miss" and "Love the colours" in html and "Edited behind" in html
    assert _anonymous(app, path)[0] == "hit"

    # A state change (here the scheduled close of scoring) too.
    with ctx():
        design = db.session.get(Design, design_id)
        design.voting_closes_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
        assert services.close_voting(design_id)
        db.session.commit()
    cached, html = _anonymous(app, path)
    assert cached == "miss" and "Scoring closed" in html


def test_a_change_rolled_back_forgets_nothing(app, ctx, caching, make_design):
    from designs import services

    design_id = make_design()
    _anonymous(app, f"/designs/{design_id}")
    with ctx():
        services.forget_page(design_id)
        db.session.rollback()
        db.session.commit()
    assert _anonymous(app, f"/designs/{design_id}")[0] == "hit"


def test_a_page_rendered_before_a_change_is_not_stored_after_it(
    app, ctx, caching, monkeypatch, make_design
):
    """The race every invalidated cache has: a visitor's render reads the design, another
    server commits a change and forgets the page, then that render stores what it read.
    It must not be kept."""
    from designs import views as design_views
    from marketplace.kernel import pagecache

    design_id = make_design(title="Old title")
    real_render = design_views.render_template

    def render_then_another_server_forgets(*args, **kwargs):
        html = real_render(*args, **kwargs)
        pagecache.forget({f"design:{design_id}"})
        return html

    monkeypatch.setattr(design_views, "render_template", render_then_another_server_forgets)
    assert _anonymous(app, f"/designs/{design_id}")[0] == "miss"
    monkeypatch.setattr(design_views, "render_template", real_render)
    assert _anonymous(app, f"/designs/{design_id}")[0] == "miss"
    assert _anonymous(app, f"/designs/{design_id}")[0] == "hit"


def test_made_up_query_strings_do_not_multiply_a_design_pages_copies(app, caching, make_design):
    from marketplace.kernel.queues import redis_connection

    design_id = make_design()
    for n in range(3):
        resp = app.test_client().get(f"/designs/{design_id}?x={n}")
        assert resp.status_code == 200 and "X-Cache" not in resp.headers
    assert redis_connection(app).keys("pagecache:*") == []
    assert _anonymous(app, f"/designs/{design_id}")[0] == "miss"
    assert len(redis_connection(app).keys("pagecache:*")) == 1


def test_a_shared_fragment_is_rendered_once_per_version_of_what_it_shows(app, monkeypatch):
    from markupsafe import Markup

    from marketplace.kernel.pagecache import cached_fragment
    from marketplace.kernel.queues import make_redis

    rendered = []

    def render(text):
        def go():
            rendered.append(text)
            return Markup("<p>{}</p>").format(text)

        return go

    with app.test_request_context():
        first = cached_fragment(("figures", 1, "en"), render("a <b>"), 60)
        again = cached_fragment(("figures", 1, "en"), render("never"), 60)
        other = cached_fragment(("figures", 2, "en"), render("b"), 60)
        assert first == again == Markup("<p>a &lt;b&gt;</p>")
        assert other == Markup("<p>b</p>")
        assert rendered == ["a <b>", "b"]
        # Without Redis the page still shows, rendered each time.
        monkeypatch.setitem(app.extensions, "redis", make_redis("redis://127.0.0.1:1/0"))
        assert cached_fragment(("figures", 1, "en"), render("c"), 60) == Markup("<p>c</p>")
        assert rendered[-1] == "c"


def test_a_members_copy_of_a_page_is_theirs_alone(app, ctx, make_user):
    from flask import flash, session
    from flask_login import login_user

    from marketplace.accounts.models import User
    from marketplace.kernel.pagecache import cached_for_member

    ada, ben = make_user("ada@example.com"), make_user("ben@example.com")
    rendered = []

    def page(user_id, token="t1", path="/report", flashed=False, login="s1"):
        with ctx(), app.test_request_context(path):
            user = db.session.get(User, user_id)
            user.session_token = login  # the login session's secret, as the loader sets it
            login_user(user)
            session["csrf_token"] = token
            if flashed:
                flash("Saved.")

            def render():
                rendered.append((user.email, token, path))
                return f"<p>{user.email} {len(rendered)}</p>"

            return cached_for_member(("figures", 1), render, 60)

    first = page(ada)
    assert page(ada) == first  # kept for the same session
    assert len(rendered) == 1
    assert "ben@" in page(ben)  # another account: its own rendering
    assert page(ada, token="t2") != first  # another session of the same account
    assert page(ada, path="/report?days=7") != first
    # A page with a message waiting is rendered (the message shows), and not kept.
    flashed = page(ada, flashed=True)
    assert flashed != first and page(ada) == first
    # Another login session of the same account (after logging in again elsewhere).
    assert page(ada, login="s2") != first
