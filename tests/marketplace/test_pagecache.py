"""Anonymous visitors share briefly cached public pages; members never see a cached page."""

import pytest

from designs.models import Design
from marketplace.extensions import db


@pytest.fixture
def caching(app, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 30)


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
    from marketplace.queues import make_redis

    make_design(title="Still served")
    monkeypatch.setitem(app.extensions, "redis", make_redis("redis://127.0.0.1:1/0"))
    resp = app.test_client().get("/designs/")
    assert resp.status_code == 200 and "Still served" in resp.get_data(as_text=True)


def test_errors_are_not_cached(app, caching, ctx):
    from marketplace.queues import redis_connection

    resp = app.test_client().get("/designs/999999")
    assert resp.status_code == 404
    assert redis_connection(app).keys("pagecache:*") == []
