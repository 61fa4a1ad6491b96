"""Ratings shown where people look (campaign page, design page, designer's profile), the
designer's one answer, reports and the operators' moderation."""

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent, OutboxMail
from marketplace.reviews.models import Rating, RatingPhoto
from tests.helpers import csrf_token, login_as, post


def add_rating(ctx, story, name, score, review="", *, days_ago=0, photo_key=None) -> int:
    with ctx():
        rating = Rating(
            order_id=story["orders"][name],
            user_id=story["users"][name],
            campaign_id=story["campaign"],
            design_id=story["design"],
            score=score,
            review=review,
            created_at=utcnow() - dt.timedelta(days=days_ago),
        )
        if photo_key:
            rating.photos.append(RatingPhoto(image_key=photo_key, position=0))
        db.session.add(rating)
        db.session.commit()
        return rating.id


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_every_page_shows_the_average_the_distribution_and_the_reviews(client, ctx, delivered):
    add_rating(ctx, delivered, "ada", 5, "Perfect fit", days_ago=2)
    add_rating(ctx, delivered, "ben", 4, "Colours a bit dull", days_ago=1)
    pages = {
        "campaign": client.get(f"/campaigns/{delivered['campaign']}").get_data(as_text=True),
        "design": client.get(f"/designs/{delivered['design']}").get_data(as_text=True),
        "designer": client.get(f"/designs/by/{delivered['designer']}").get_data(as_text=True),
    }
    for where, page in pages.items():
        assert "4.5 out of 5, 2 ratings" in page, where
        # The bars carry their counts, for screen readers too.
        assert 'value="1" aria-label="5 stars: 1 rating"' in page, where
        assert 'value="0" aria-label="3 stars: 0 ratings"' in page, where
        # Newest first, with the backer's name and the date.
        assert page.index("Colours a bit dull") < page.index("Perfect fit"), where
        assert "Ada" in page and "Ben" in page, where


def test_nothing_is_shown_before_the_first_rating_but_no_ratings_yet_once_delivered(
    client, ctx, delivered, make_campaign
):
    campaign = client.get(f"/campaigns/{delivered['campaign']}").get_data(as_text=True)
    assert "No ratings yet." in campaign
    design = client.get(f"/designs/{delivered['design']}").get_data(as_text=True)
    assert "No ratings yet." in design
    designer = client.get(f"/designs/by/{delivered['designer']}").get_data(as_text=True)
    assert 'id="ratings"' not in designer
    live = make_campaign()
    assert 'id="ratings"' not in client.get(f"/campaigns/{live}").get_data(as_text=True)


def test_more_reviews_are_a_page_away(client, ctx, delivered, make_user):
    from marketplace.campaigns.models import Campaign
    from marketplace.production.models import Order, OrderState
    from tests.helpers import pledge_row

    # Seven ratings: the section shows five and links to the rest.
    with ctx():
        campaign = db.session.get(Campaign, delivered["campaign"])
        run_id = db.session.scalar(sa.select(Order.run_id))
    for n in range(7):
        backer = make_user(f"extra{n}@example.com", name=f"Extra {n}")
        with ctx():
            campaign = db.session.get(Campaign, delivered["campaign"])
            pledge = pledge_row(
                campaign,
                campaign.variants[0],
                backer,
                1,
                state="collected",
                idempotency_key=f"extra-{n}-0000000000001",
            )
            db.session.add(pledge)
            db.session.flush()
            order = Order(run_id=run_id, pledge_id=pledge.id, state=OrderState.DELIVERED)
            db.session.add(order)
            db.session.flush()
            db.session.add(
                Rating(
                    order_id=order.id,
                    user_id=backer,
                    campaign_id=campaign.id,
                    design_id=campaign.design_id,
                    score=3,
                    review=f"Review number {n}",
                    created_at=utcnow() - dt.timedelta(hours=10 - n),
                )
            )
            db.session.commit()
    design = client.get(f"/designs/{delivered['design']}").get_data(as_text=True)
    assert "Review number 6" in design and "Review number 2" in design
    assert "Review number 1" not in design
    assert f"/reviews/designs/{delivered['design']}" in design
    all_of_them = client.get(f"/reviews/designs/{delivered['design']}").get_data(as_text=True)
    assert all(f"Review number {n}" in all_of_them for n in range(7))


def test_the_design_page_shows_a_new_rating_at_once_to_cached_visitors(
    app, client, auth, ctx, delivered, monkeypatch
):
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 30)
    monkeypatch.setitem(app.config, "PAGE_CACHE_TAGGED_SECONDS", 300)
    url = f"/designs/{delivered['design']}"
    assert "No ratings yet." in client.get(url).get_data(as_text=True)
    assert "No ratings yet." in client.get(url).get_data(as_text=True)  # now cached
    login_as(client, auth, "ada@example.com")
    order = delivered["orders"]["ada"]
    post(client, f"/reviews/orders/{order}", f"/reviews/orders/{order}", score="2")
    auth.logout()
    assert "2.0 out of 5, 1 rating" in client.get(url).get_data(as_text=True)


def test_the_designer_answers_a_review_once_and_the_reviewer_is_told(client, auth, ctx, delivered):
    rating_id = add_rating(ctx, delivered, "ada", 3, "Shrank in the wash")
    design_url = f"/designs/{delivered['design']}"
    login_as(client, auth, "ben@example.com")
    assert "Your public answer" not in client.get(design_url).get_data(as_text=True)
    assert post(client, f"/reviews/{rating_id}/reply", design_url, body="Mine").status_code == 403

    login_as(client, auth, "designer@example.com")
    assert "Your public answer" in client.get(design_url).get_data(as_text=True)
    answered = post(
        client,
        f"/reviews/{rating_id}/reply",
        design_url,
        body="Wash it cold: next run is pre-shrunk.",
    )
    assert answered.status_code == 302
    page = client.get(design_url).get_data(as_text=True)
    assert "Wash it cold: next run is pre-shrunk." in page
    assert "The designer’s answer" in page
    token = csrf_token(client, "/account/")
    again = client.post(f"/reviews/{rating_id}/reply", data={"csrf_token": token, "body": "Again"})
    assert again.status_code == 409
    with ctx():
        mails = db.session.scalars(
            sa.select(OutboxMail).where(OutboxMail.kind == "review_reply")
        ).all()
        assert [m.to_address for m in mails] == ["ada@example.com"]
        assert "Wash it cold" in mails[0].body_text
        assert f"/designs/{delivered['design']}#rating-{rating_id}" in mails[0].body_text
        assert db.session.get(Rating, rating_id).reply == "Wash it cold: next run is pre-shrunk."


def test_reports_hide_a_review_text_not_its_score_and_operators_decide(
    client, auth, ctx, delivered, make_user, upload_dir
):
    import io

    from designs import images
    from tests.helpers import png_bytes

    key = images.store_artwork(io.BytesIO(png_bytes()), upload_dir).key
    rating_id = add_rating(ctx, delivered, "ada", 1, "Rude words here", photo_key=key)
    with ctx():
        photo_id = db.session.scalar(sa.select(RatingPhoto.id))
    design_url = f"/designs/{delivered['design']}"

    login_as(client, auth, "ada@example.com")
    own = post(client, f"/reviews/{rating_id}/report", design_url)
    assert own.status_code == 403
    reporters = ["ben@example.com", "r2@example.com", "r3@example.com"]
    make_user(reporters[1])
    make_user(reporters[2])
    for n, email in enumerate(reporters):
        login_as(client, auth, email)
        assert post(client, f"/reviews/{rating_id}/report", design_url).status_code == 302
        if n == 0:  # once per person: a second report changes nothing
            post(client, f"/reviews/{rating_id}/report", design_url)
            with ctx():
                assert db.session.get(Rating, rating_id).report_count == 1
    with ctx():
        rating = db.session.get(Rating, rating_id)
        assert (rating.report_count, rating.hidden) == (3, True)

    auth.logout()
    page = client.get(design_url).get_data(as_text=True)
    assert "Rude words here" not in page
    assert "1.0 out of 5, 1 rating" in page  # its score still counts
    with client.get(f"/reviews/{rating_id}/photos/{photo_id}/gallery") as hidden_photo:
        assert hidden_photo.status_code == 404

    login_as(client, auth, "ops@example.com")
    console = client.get("/operator/reviews/").get_data(as_text=True)
    assert "Rude words here" in console
    kept = post(client, f"/operator/reviews/{rating_id}/keep", "/operator/reviews/")
    assert kept.status_code == 302
    auth.logout()
    assert "Rude words here" in client.get(design_url).get_data(as_text=True)
    login_as(client, auth, "ops@example.com")
    post(client, f"/operator/reviews/{rating_id}/hide", "/operator/reviews/")
    with ctx():
        actions = db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.subject_type == "rating", AuditEvent.subject_id == rating_id)
            .order_by(AuditEvent.id)
        ).all()
        assert actions == ["rating.hidden_by_reports", "rating.kept", "rating.hidden"]
        assert db.session.get(Rating, rating_id).hidden


@pytest.mark.parametrize("who", ["member@example.com", None])
def test_the_moderation_console_is_for_operators_only(client, auth, make_user, who):
    if who:
        make_user(who)
        auth.login(who)
    assert client.get("/operator/reviews/").status_code in (302, 403)


def test_a_shared_design_page_shows_report_under_the_others_reviews_only(
    app, client, auth, ctx, delivered, monkeypatch
):
    """The reviews section is part of the design page every member shares: rendered for
    one reader, it must not give another a "Report" under their own review."""
    monkeypatch.setitem(app.config, "PAGE_CACHE_TAGGED_SECONDS", 300)
    monkeypatch.setattr("marketplace.kernel.pagecache.CLOCK_SKEW_SECONDS", 0.0)
    add_rating(ctx, delivered, "ada", 5, "Perfect fit")
    add_rating(ctx, delivered, "ben", 4, "Colours a bit dull")
    url = f"/designs/{delivered['design']}"
    reports = {}
    for name in ("ben", "ada", "ben"):  # Ben's renders the shared piece, Ada's reads it back
        login_as(client, auth, f"{name}@example.com")
        client.get("/")  # the login's message
        page = client.get(url).get_data(as_text=True)
        reports[name] = re.findall(r'action="/reviews/(\d+)/report"', page)
    ratings = {n: str(delivered_rating(ctx, delivered, n)) for n in ("ada", "ben")}
    assert reports["ada"] == [ratings["ben"]]
    assert reports["ben"] == [ratings["ada"]]


def delivered_rating(ctx, story, name) -> int:
    with ctx():
        return db.session.scalar(
            sa.select(Rating.id).where(Rating.order_id == story["orders"][name])
        )


def _kept(app, monkeypatch):
    """Shared parts of pages kept as in production, on one clock (tests/kernel/
    test_pagecache.py)."""
    monkeypatch.setitem(app.config, "PAGE_CACHE_TAGGED_SECONDS", 300)
    monkeypatch.setattr("marketplace.kernel.pagecache.CLOCK_SKEW_SECONDS", 0.0)


def _member_client(app, email):
    from tests.helpers import Auth

    member = app.test_client()
    Auth(member).login(email)
    member.get("/")  # the login's message: a page with a message waiting is not kept
    return member


def test_the_campaign_page_shows_a_new_rating_and_its_hiding_at_once_to_members(
    app, client, auth, ctx, delivered, monkeypatch
):
    _kept(app, monkeypatch)
    cy = _member_client(app, "cy@example.com")
    url = f"/campaigns/{delivered['campaign']}"
    assert "No ratings yet." in cy.get(url).get_data(as_text=True)
    assert "No ratings yet." in cy.get(url).get_data(as_text=True)  # now kept
    login_as(client, auth, "ada@example.com")
    order = delivered["orders"]["ada"]
    post(client, f"/reviews/orders/{order}", f"/reviews/orders/{order}", score="2", review="Meh")
    page = cy.get(url).get_data(as_text=True)
    assert "2.0 out of 5, 1 rating" in page and "Meh" in page
    login_as(client, auth, "ops@example.com")
    with ctx():
        rating_id = db.session.scalar(sa.select(Rating.id))
    post(client, f"/operator/reviews/{rating_id}/hide", "/operator/reviews/")
    assert "Meh" not in cy.get(url).get_data(as_text=True)


def test_on_a_shared_campaign_page_no_reviewer_may_report_their_own_review(
    app, ctx, delivered, monkeypatch
):
    _kept(app, monkeypatch)
    ratings = {name: add_rating(ctx, delivered, name, 4, f"By {name}") for name in ("ada", "ben")}
    url = f"/campaigns/{delivered['campaign']}"

    def reportable(email):
        page = _member_client(app, email).get(url).get_data(as_text=True)
        return {name for name, r in ratings.items() if f"/reviews/{r}/report" in page}

    # Both backers with the same roles: the second is given the part the first rendered.
    assert reportable("ada@example.com") == {"ben"}
    assert reportable("ben@example.com") == {"ada"}
    assert reportable("ada@example.com") == {"ben"}
