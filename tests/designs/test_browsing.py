"""The gallery, design pages, designer pages, comments and moderation."""

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa

from designs.models import Comment, DesignState
from marketplace.kernel.extensions import db
from tests.helpers import PASSWORD, count_queries, csrf_in, csrf_token


def titles(html: str, names: list[str]) -> list[str]:
    """The given titles in the order the page shows them."""
    found = [(html.find(f">{n}<"), n) for n in names if html.find(f">{n}<") >= 0]
    return [n for _, n in sorted(found)]


def test_gallery_shows_public_designs_only_newest_first(client, make_design):
    make_design(state=DesignState.DRAFT, title="Secret draft")
    make_design(state=DesignState.SUBMITTED, title="Waiting review")
    make_design(title="Older one")
    make_design(title="Newer one")
    html = client.get("/designs/").get_data(as_text=True)
    assert titles(html, ["Older one", "Newer one"]) == ["Newer one", "Older one"]
    assert "Secret draft" not in html and "Waiting review" not in html


def test_gallery_filters_by_tag_product_status_and_search(app, client, ctx, make_design):
    from designs.models import Design, Product

    make_design(title="Neon city", tags=("city", "neon"))
    make_design(title="Quiet forest", tags=("nature",))
    make_design(title="Closed city", tags=("city",), state=DesignState.SHORTLISTED, rank_score=0.7)
    with ctx():
        poster = db.session.scalar(sa.select(Product).where(Product.name == "Poster"))
        forest = db.session.scalar(sa.select(Design).where(Design.title == "Quiet forest"))
        forest.product_id = poster.id
        db.session.commit()
        poster_id = poster.id

    def shown(query):
        return titles(
            client.get("/designs/" + query).get_data(as_text=True),
            ["Neon city", "Quiet forest", "Closed city"],
        )

    # Every public design by default, whatever its stage; a status narrows it.
    assert shown("?tag=city") == ["Closed city", "Neon city"]
    assert shown("?tag=city&status=voting") == ["Neon city"]
    assert shown(f"?product={poster_id}") == ["Quiet forest"]
    assert shown("?q=forest") == ["Quiet forest"]
    assert shown("?q=NEON") == ["Neon city"]  # the tag matches too, case-insensitively
    assert shown("?status=closed") == ["Closed city"]
    assert shown("?q=%25") == []  # a percent sign is searched for, not a wildcard


def test_search_finds_public_designs_by_title_tag_or_designer_in_any_case(
    client, make_user, make_design
):
    elodie = make_user("elodie@example.com", designer=True, name="Élodie Marchand")
    other = make_user("other@example.com", designer=True, name="Someone Else")
    make_design(elodie, title="Harbour lights", state=DesignState.VOTING)
    make_design(elodie, title="Old mill", state=DesignState.NOT_SELECTED, rank_score=0.2)
    make_design(elodie, title="In a campaign", state=DesignState.CAMPAIGN)
    make_design(elodie, title="Unfinished sketch", state=DesignState.DRAFT)
    make_design(elodie, title="Awaiting the check", state=DesignState.SUBMITTED)
    make_design(elodie, title="Turned down", state=DesignState.DECLINED)
    make_design(other, title="Église at dusk", tags=("architecture",))
    make_design(other, title="Lighthouse", tags=("coast", "élan"))
    every = [
        "Harbour lights",
        "Old mill",
        "In a campaign",
        "Unfinished sketch",
        "Awaiting the check",
        "Turned down",
        "Église at dusk",
        "Lighthouse",
    ]

    def shown(query):
        resp = client.get("/designs/", query_string={"q": query})
        assert resp.status_code == 200
        return titles(resp.get_data(as_text=True), every)

    # The designer's name, in any case, accents included: their public designs at every
    # stage, never a draft, a design under the check or a declined one.
    public = ["In a campaign", "Old mill", "Harbour lights"]
    assert shown("élodie") == public
    assert shown("ÉLODIE") == public
    assert shown("marchand") == public
    assert shown("ÉGLISE") == ["Église at dusk"]  # the title
    assert shown("Élan") == ["Lighthouse"]  # a tag, written with capitals
    # Several words: each one narrows (a title word and a name, a tag and a name).
    assert shown("Harbour Élodie") == ["Harbour lights"]
    assert shown("coast someone") == ["Lighthouse"]
    assert shown("coast élodie") == []
    assert shown("mill _") == []  # an underscore is searched for, not a wildcard


def test_search_pages_through_many_matches(client, make_user, make_design):
    ada = make_user("ada@example.com", designer=True, name="Ada")
    for n in range(30):
        make_design(ada, title=f"Piece {n:02d}", tags=("series",) if n % 2 else ())
    first = client.get("/designs/?q=ada").get_data(as_text=True)
    second = client.get("/designs/?q=ada&page=2").get_data(as_text=True)
    assert "Piece 29" in first and "Piece 06" in first and "Piece 05" not in first
    assert all(f"Piece {n:02d}" in second for n in range(6)) and 'rel="next"' not in second
    # Matching by a tag and by the name at once: each design once, newest first.
    both = client.get("/designs/?q=series+ada").get_data(as_text=True)
    assert titles(both, [f"Piece {n:02d}" for n in range(30)]) == [
        f"Piece {n:02d}" for n in range(29, 0, -2)
    ]


def test_a_search_that_finds_nothing_offers_to_drop_each_filter_keeping_the_others(
    client, ctx, make_user, make_design
):
    from designs.models import Product

    ada = make_user("ada@example.com", designer=True, name="Ada")
    make_design(ada, title="Closed piece", tags=("sea",), state=DesignState.SHORTLISTED)
    with ctx():
        mug = db.session.scalar(sa.select(Product.id).where(Product.name == "Mug"))
    resp = client.get(f"/designs/?q=ada&tag=sea&status=voting&product={mug}&sort=closing")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Closed piece" not in html
    assert "No design matches “ada”" in html
    links = dict(re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', html.replace("&amp;", "&")))
    by_text = {text: href for href, text in links.items()}
    assert set(by_text) == {
        "Every stage, not only “Open for scoring”",
        "Any tag, not only #sea",
        "Every product, not only Mug",
        "Without the search “ada”",
    }

    def args(href):
        return dict(parse_qsl(urlsplit(href).query))

    kept = {"q": "ada", "tag": "sea", "status": "voting", "product": str(mug), "sort": "closing"}
    assert args(by_text["Every stage, not only “Open for scoring”"]) == {
        k: v for k, v in kept.items() if k != "status"
    }
    assert args(by_text["Any tag, not only #sea"]) == {k: v for k, v in kept.items() if k != "tag"}
    assert args(by_text["Without the search “ada”"]) == {k: v for k, v in kept.items() if k != "q"}
    # Dropping the stage and the product finds the design.
    wider = client.get("/designs/?q=ada&tag=sea&sort=closing").get_data(as_text=True)
    assert "Closed piece" in wider

    # Without a search, the heading names the filters.
    empty = client.get("/designs/?status=selected").get_data(as_text=True)
    assert "No design matches these filters" in empty and "Every stage" in empty


def test_an_empty_gallery_says_when_designs_appear(client):
    html = client.get("/designs/").get_data(as_text=True)
    assert "No designs here yet" in html and "once they pass the quality check" in html
    assert "Widen the search" not in html


def test_top_ranked_sort_applies_to_closed_designs_only(client, make_design):
    make_design(title="Bronze", state=DesignState.SHORTLISTED, rank_score=0.5)
    make_design(title="Gold", state=DesignState.SELECTED, rank_score=0.9)
    make_design(title="Silver", state=DesignState.NOT_SELECTED, rank_score=0.7)
    html = client.get("/designs/?status=closed&sort=top").get_data(as_text=True)
    assert titles(html, ["Bronze", "Gold", "Silver"]) == ["Gold", "Silver", "Bronze"]
    voting = client.get("/designs/?status=voting&sort=top").get_data(as_text=True)
    assert "Rankings are shown once scoring closes" in voting


def test_gallery_paginates(client, make_design):
    for n in range(26):
        make_design(title=f"Piece {n:02d}")
    first = client.get("/designs/").get_data(as_text=True)
    second = client.get("/designs/?page=2").get_data(as_text=True)
    assert "Piece 25" in first and "Piece 02" in first and "Piece 01" not in first
    assert "Piece 01" in second and "Piece 00" in second and 'rel="next"' not in second
    assert 'rel="next"' in first


def test_gallery_runs_the_same_number_of_queries_whatever_the_data(app, client, make_design):
    make_design(tags=("a", "b"))
    with count_queries(app) as few:
        client.get("/designs/")
    for n in range(20):
        make_design(tags=("a", f"t{n}"))
    with count_queries(app) as many:
        client.get("/designs/")
    assert len(few) == len(many) <= 4
    assert len(few) >= 2  # designs, then their tags


def test_a_members_gallery_is_shared_and_runs_two_statements_once_rendered(
    app, client, auth, make_user, make_design, monkeypatch
):
    """The gallery is the same for every member (but designers' "Submit" button): rendered
    once, it is shared for PAGE_CACHE_SECONDS, and a member's request reads only the account
    and the banner, however many designs there are."""
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 10)
    make_design(title="First piece", tags=("a", "b"))
    make_user("member@example.com")
    auth.login("member@example.com")
    client.get("/")  # shows the login's message: a page with a message waiting is not kept
    counts = []
    for n in range(20):
        make_design(title=f"Piece {n}", tags=("a", f"t{n}"))
    for _ in range(2):
        with count_queries(app) as queries:
            page = client.get("/designs/?sort=newest").get_data(as_text=True)
        assert "Piece 19" in page and "Log out" in page
        counts.append(len(queries))
    assert counts[0] <= 6 and counts[1] <= 2
    # Shared, but each member's forms carry their own session's token.
    make_user("other@example.com")
    other = app.test_client()
    other.post(
        "/account/login",
        data={
            "email": "other@example.com",
            "password": PASSWORD,
            "csrf_token": csrf_token(other, "/account/login"),
        },
    )
    other.get("/")
    with count_queries(app) as queries:
        theirs = other.get("/designs/?sort=newest").get_data(as_text=True)
    assert len(queries) <= 2 and "Piece 19" in theirs
    assert csrf_in(theirs) and csrf_in(theirs) != csrf_in(page)
    logged_out = other.post("/account/logout", data={"csrf_token": csrf_in(theirs)})
    assert logged_out.status_code == 302


def _design_with(make_design, ctx, voters, votes: int, comments: int, variants=("A",)):
    design_id = make_design(
        votes=tuple((voters[i], 3, True) for i in range(votes)), variants=variants
    )
    with ctx():
        for i in range(comments):
            db.session.add(Comment(design_id=design_id, author_id=voters[i % 12], body=f"c{i}"))
        db.session.commit()
    return design_id


def test_design_page_runs_the_same_number_of_queries_whatever_the_data(
    app, client, ctx, auth, make_user, make_design, monkeypatch
):
    """A member's design page: its shared part is rendered once (a bounded number of
    statements), then every request reads the account, the design's counters with the
    member's vote (the banner is kept too): 2 statements, however many votes, comments and
    variants."""
    monkeypatch.setitem(app.config, "PAGE_CACHE_TAGGED_SECONDS", 300)
    # One process, one clock (tests/kernel/test_pagecache.py): stored right after the change.
    monkeypatch.setattr("marketplace.kernel.pagecache.CLOCK_SKEW_SECONDS", 0.0)
    voters = [make_user(f"v{i}@example.com") for i in range(12)]
    small = _design_with(make_design, ctx, voters, votes=1, comments=1)
    large = _design_with(
        make_design, ctx, voters, votes=12, comments=15, variants=tuple("ABCDEFGH")
    )
    auth.login("v0@example.com")
    client.get("/")  # shows the login's message: a page with a message waiting is not kept
    first, then = [], []
    for design_id in (small, large):
        for counts in (first, then):
            with count_queries(app) as queries:
                page = client.get(f"/designs/{design_id}")
            assert page.status_code == 200 and "Your score (you gave 3)" in page.get_data(True)
            counts.append(len(queries))
    assert first[0] == first[1] <= 12
    assert then[0] == then[1] <= 2


def test_designer_page_lists_public_designs(client, make_user, make_design):
    designer = make_user("artist@example.com", designer=True, name="Ada")
    make_design(designer, title="Public piece")
    make_design(designer, state=DesignState.DRAFT, title="Private draft")
    html = client.get(f"/designs/by/{designer}").get_data(as_text=True)
    assert "Ada" in html and "Public piece" in html and "Private draft" not in html
    assert client.get("/designs/by/999999").status_code == 404


def comment(client, design_id, body):
    return client.post(
        f"/designs/{design_id}/comments",
        data={"csrf_token": csrf_token(client, f"/designs/{design_id}"), "body": body},
    )


def test_comments_mark_the_designers_replies(app, client, auth, make_user, make_design):
    designer = make_user("artist@example.com", designer=True, name="Ada")
    design_id = make_design(designer)
    make_user("fan@example.com", name="Fan")
    auth.login("fan@example.com")
    assert comment(client, design_id, "Love the colours!\nMore please").status_code == 302
    auth.logout()
    auth.login("artist@example.com")
    assert comment(client, design_id, "Thank you <script>alert(1)</script>").status_code == 302
    html = app.test_client().get(f"/designs/{design_id}").get_data(as_text=True)
    assert "Love the colours!\nMore please" in html
    assert "&lt;script&gt;" in html and "<script>alert(1)" not in html
    reply = html[html.index("Thank you") - 600 : html.index("Thank you")]
    assert 'badge badge-info">designer<' in reply


def test_empty_or_long_comments_are_refused(client, auth, make_user, make_design):
    design_id = make_design()
    make_user("fan@example.com")
    auth.login("fan@example.com")
    assert comment(client, design_id, "   ").status_code == 422
    assert comment(client, design_id, "x" * 1001).status_code == 422


def test_three_reports_hide_a_comment_until_an_operator_restores_it(
    app, client, auth, ctx, make_user, make_design
):
    design_id = make_design()
    author = make_user("troll@example.com")
    for i in range(3):
        make_user(f"r{i}@example.com")
    make_user("staff@example.com", operator=True)
    with ctx():
        row = Comment(design_id=design_id, author_id=author, body="Rude words")
        db.session.add(row)
        db.session.commit()
        comment_id = row.id

    def report_as(email):
        auth.login(email)
        resp = client.post(
            f"/designs/comments/{comment_id}/report",
            data={"csrf_token": csrf_token(client, f"/designs/{design_id}")},
        )
        auth.logout()
        return resp

    assert report_as("r0@example.com").status_code == 302
    assert report_as("r0@example.com").status_code == 302  # a second report by the same person
    assert report_as("r1@example.com").status_code == 302
    assert "Rude words" in app.test_client().get(f"/designs/{design_id}").get_data(as_text=True)
    report_as("r2@example.com")
    assert "Rude words" not in app.test_client().get(f"/designs/{design_id}").get_data(as_text=True)
    with ctx():
        assert db.session.get(Comment, comment_id).report_count == 3
    assert report_as("troll@example.com").status_code == 403  # not your own

    auth.login("staff@example.com")
    queue = client.get("/operator/designs/comments").get_data(as_text=True)
    assert "Rude words" in queue
    resp = client.post(
        f"/operator/designs/comments/{comment_id}/restore",
        data={"csrf_token": csrf_token(client, "/operator/designs/comments")},
    )
    assert resp.status_code == 302
    assert "Rude words" in app.test_client().get(f"/designs/{design_id}").get_data(as_text=True)


def test_operators_manage_the_product_list(client, auth, ctx, make_user):
    from designs.models import Product

    make_user("staff@example.com", operator=True)
    auth.login("staff@example.com")
    token = csrf_token(client, "/operator/designs/products")
    resp = client.post(
        "/operator/designs/products",
        data={"csrf_token": token, "name": "Sticker", "variant_hint": "Small, Large"},
    )
    assert resp.status_code == 302
    dup = client.post("/operator/designs/products", data={"csrf_token": token, "name": "sticker"})
    assert dup.status_code == 409
    with ctx():
        sticker = db.session.scalar(sa.select(Product).where(Product.name == "Sticker"))
        sticker_id = sticker.id
    client.post(f"/operator/designs/products/{sticker_id}/toggle", data={"csrf_token": token})
    with ctx():
        assert db.session.get(Product, sticker_id).active is False
    unknown = client.post("/operator/designs/products/999999/toggle", data={"csrf_token": token})
    assert unknown.status_code == 404


@pytest.mark.parametrize("path", ["/about/scoring", "/designs/?status=all&sort=closing"])
def test_public_pages_render(client, path):
    assert client.get(path).status_code == 200
