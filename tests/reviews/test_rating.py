"""Rating a delivered product: who may, when, once per order, the 30-day edit window, photos
and every refusal leaving nothing behind."""

import datetime as dt
import io

import pytest
import sqlalchemy as sa

from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent
from marketplace.reviews import queries
from marketplace.reviews.models import Rating, RatingPhoto
from tests.helpers import csrf_token, files_under, login_as, multipart, png_bytes

PNG = png_bytes(80, 60)


def rate(
    client, order_id, *, score="4", review="", photos=(), remove=(), editing=None, recommend=None
):
    """Post the rating form as the browser does (the page's token, its hidden ``editing``;
    no ``recommend`` at all when none of its radios is chosen)."""
    page = client.get(f"/reviews/orders/{order_id}").get_data(as_text=True)
    if editing is None:
        editing = "1" if 'name="editing" type="hidden" value="1"' in page else ""
    data = {
        "csrf_token": csrf_token(client, f"/reviews/orders/{order_id}"),
        "score": score,
        "review": review,
        "editing": editing,
        "remove_photos": [str(i) for i in remove],
        "photos": [(io.BytesIO(content), name) for content, name in photos],
    }
    if recommend is not None:
        data["recommend"] = recommend
    return client.post(f"/reviews/orders/{order_id}", data=data, content_type="multipart/form-data")


def ratings(ctx):
    with ctx():
        return db.session.scalars(sa.select(Rating).order_by(Rating.id)).all()


def test_a_delivered_backer_rates_from_my_pledges_with_a_photo(
    client, auth, ctx, delivered, upload_dir
):
    login_as(client, auth, "ada@example.com")
    order_id = delivered["orders"]["ada"]
    mine = client.get("/pledges/").get_data(as_text=True)
    assert "Rate this product" in mine and f"/reviews/orders/{order_id}" in mine

    response = rate(
        client, order_id, score="4", review="Soft and well cut.", photos=[(PNG, "a.png")]
    )
    assert response.status_code == 302
    [rating] = ratings(ctx)
    assert (rating.score, rating.review, rating.design_id) == (
        4,
        "Soft and well cut.",
        delivered["design"],
    )
    with ctx():
        [photo] = db.session.scalars(sa.select(RatingPhoto)).all()
        assert (
            db.session.scalar(
                sa.select(AuditEvent.action).where(AuditEvent.subject_type == "rating")
            )
            == "rating.created"
        )
    mine = client.get("/pledges/").get_data(as_text=True)
    assert "Your rating: 4/5" in mine and ">edit</a>" in mine
    for size in ("gallery", "detail", "original"):
        with client.get(f"/reviews/{rating.id}/photos/{photo.id}/{size}") as got:
            assert got.status_code == 200 and got.mimetype.startswith("image/")
    assert client.get(f"/reviews/{rating.id}/photos/{photo.id}/huge").status_code == 404


def test_only_the_backer_of_a_delivered_order_rates_it(client, auth, ctx, delivered):
    orders = delivered["orders"]
    assert client.get(f"/reviews/orders/{orders['ada']}").status_code == 302  # log in first
    login_as(client, auth, "ben@example.com")
    assert client.get(f"/reviews/orders/{orders['ada']}").status_code == 403
    assert rate(client, orders["ada"]).status_code == 403
    login_as(client, auth, "cy@example.com")
    on_its_way = client.get(f"/reviews/orders/{orders['cy']}")
    assert on_its_way.status_code == 409
    assert "once it is delivered" in on_its_way.get_data(as_text=True)
    assert client.get("/reviews/orders/999999").status_code == 404
    mine = client.get("/pledges/").get_data(as_text=True)
    assert "Rate this product" not in mine
    assert ratings(ctx) == []


def test_one_rating_per_order(client, auth, ctx, delivered):
    login_as(client, auth, "ada@example.com")
    order_id = delivered["orders"]["ada"]
    assert rate(client, order_id, score="5").status_code == 302
    # A new rating's form sent again (a second tab): refused, the first kept.
    again = rate(client, order_id, score="1", editing="")
    assert again.status_code == 409
    assert "already rated" in again.get_data(as_text=True)
    assert [r.score for r in ratings(ctx)] == [5]
    # And the database holds the rule whatever the code does.
    with ctx():
        first = db.session.scalar(sa.select(Rating))
        db.session.add(
            Rating(
                order_id=first.order_id,
                user_id=first.user_id,
                campaign_id=first.campaign_id,
                design_id=first.design_id,
                score=2,
            )
        )
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"score": "0"}, 422, "Choose a score from 1 to 5 stars."),
        ({"score": "6"}, 422, "Choose a score from 1 to 5 stars."),
        ({"score": ""}, 422, "Choose a score from 1 to 5 stars."),
        ({"review": "x" * 20_000}, 422, "A review has at most 5,000 characters."),
        ({"photos": [(b"not an image at all", "notes.txt")]}, 422, "“notes.txt”: Only PNG"),
        ({"photos": [(PNG, f"{n}.png") for n in range(4)]}, 422, "at most 3 photos"),
    ],
)
def test_bad_input_is_refused_with_the_form_kept_and_nothing_stored(
    client, auth, ctx, delivered, upload_dir, fields, status, message
):
    login_as(client, auth, "ada@example.com")
    before = sorted(files_under(upload_dir))
    typed = {"score": "3", "review": "Typed with care", **fields}
    response = rate(client, delivered["orders"]["ada"], **typed)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in page
    if len(typed["review"]) < 100:
        assert "Typed with care" in page  # shown again with what was typed
    assert ratings(ctx) == []
    assert sorted(files_under(upload_dir)) == before  # no photo file left behind


def test_a_fourth_photo_on_an_edit_is_refused_and_stores_nothing(
    client, auth, ctx, delivered, upload_dir
):
    login_as(client, auth, "ada@example.com")
    order_id = delivered["orders"]["ada"]
    three = [(PNG, f"{n}.png") for n in range(3)]
    assert rate(client, order_id, photos=three).status_code == 302
    before = sorted(files_under(upload_dir))
    refused = rate(client, order_id, review="More", photos=[(PNG, "4.png")])
    assert refused.status_code == 422
    assert "at most 3 photos" in refused.get_data(as_text=True)
    assert sorted(files_under(upload_dir)) == before
    [rating] = ratings(ctx)
    assert rating.review == ""


def test_a_rating_changes_for_30_days_then_is_read_only(client, auth, ctx, delivered, upload_dir):
    login_as(client, auth, "ada@example.com")
    order_id = delivered["orders"]["ada"]
    assert (
        rate(client, order_id, score="2", photos=[(PNG, "a.png"), (PNG, "b.png")]).status_code
        == 302
    )
    with ctx():
        first, second = db.session.scalars(sa.select(RatingPhoto).order_by(RatingPhoto.id)).all()
        first_id, first_key = first.id, first.image_key
    # Within the window: a new score, one photo removed (its files too), one added.
    changed = rate(
        client,
        order_id,
        score="5",
        review="Better after washing",
        remove=[first_id],
        photos=[(PNG, "c.png")],
    )
    assert changed.status_code == 302
    with ctx():
        rating = db.session.scalar(sa.select(Rating))
        assert (rating.score, rating.review, len(rating.photos)) == (5, "Better after washing", 2)
        assert first_id not in {p.id for p in rating.photos}
    assert not any(f"/{first_key}/" in f for f in files_under(upload_dir))

    with ctx():
        rating = db.session.scalar(sa.select(Rating))
        rating.created_at -= dt.timedelta(days=31)
        db.session.commit()
    page = client.get(f"/reviews/orders/{order_id}").get_data(as_text=True)
    assert "this one can no longer change" in page
    assert 'name="score"' not in page  # read-only: no form
    late = rate(client, order_id, score="1", editing="1")
    assert late.status_code == 409
    assert [r.score for r in ratings(ctx)] == [5]
    assert ">see</a>" in client.get("/pledges/").get_data(as_text=True)


def test_summaries_count_every_rating_hidden_ones_too(ctx, delivered, make_design):
    with ctx():
        for name, score, hidden in (("ada", 5, False), ("ben", 2, True)):
            order_id = delivered["orders"][name]
            db.session.add(
                Rating(
                    order_id=order_id,
                    user_id=delivered["users"][name],
                    campaign_id=delivered["campaign"],
                    design_id=delivered["design"],
                    score=score,
                    hidden=hidden,
                )
            )
        db.session.commit()
    other = make_design()
    with ctx():
        found = queries.summaries([delivered["design"], other])
        assert found[delivered["design"]].count == 2
        assert found[delivered["design"]].average == pytest.approx(3.5)
        assert found[delivered["design"]].distribution == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
        assert (found[other].count, found[other].average) == (0, None)
        assert queries.raters_of(delivered["design"]) == [
            delivered["users"]["ada"],
            delivered["users"]["ben"],
        ]
        assert [r.score for r in queries.reviews_of_design(delivered["design"], 10)] == [2, 5]
        assert len(queries.reviews_of_design(delivered["design"], 1)) == 1


def test_a_photo_over_10_mb_is_refused_as_too_large(client, auth, ctx, delivered, upload_dir):
    login_as(client, auth, "ada@example.com")
    order_id = delivered["orders"]["ada"]
    before = sorted(files_under(upload_dir))
    fields = {
        "csrf_token": csrf_token(client, f"/reviews/orders/{order_id}"),
        "score": "5",
        "review": "Heavy",
    }
    body, content_type = multipart(fields, (PNG + b"\0" * (10 * 1024 * 1024), "big.png"), "photos")
    response = client.post(f"/reviews/orders/{order_id}", data=body, content_type=content_type)
    assert response.status_code == 413
    assert "“big.png”: The image is larger than 10 MB." in response.get_data(as_text=True)
    assert ratings(ctx) == []
    assert sorted(files_under(upload_dir)) == before
