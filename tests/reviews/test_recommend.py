"""The rating form's "would you recommend Cocréa" question, 0-10: optional, kept with the
rating and changed with it inside the edit window, refused outside 0-10 with nothing stored,
held to 0-10 by the database too, and shown on no public page."""

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.kernel.extensions import db
from marketplace.reviews import services
from marketplace.reviews.models import Rating
from tests.helpers import files_under, login_as, png_bytes
from tests.reviews.test_rating import rate, ratings

PNG = png_bytes(80, 60)
RANGE_MESSAGE = "Choose how likely you are to recommend Cocréa from 0 to 10, or skip it."


def chosen(page: str) -> list[str]:
    """The question's answers the page shows as chosen."""
    return re.findall(
        r'<input checked id="recommend-\d+" name="recommend" [^>]*value="(\d+)"', page
    )


def test_the_question_is_an_accessible_0_to_10_row_and_says_it_is_private(client, auth, delivered):
    login_as(client, auth, "ada@example.com")
    page = client.get(f"/reviews/orders/{delivered['orders']['ada']}").get_data(as_text=True)
    start = page.index('class="score-picker recommend-picker')
    fieldset = page[start : page.index("</fieldset>", start)]
    assert (
        "<legend>How likely are you to recommend Cocréa to a friend? (optional)</legend>"
        in fieldset
    )
    values = re.findall(r'name="recommend" type="radio" value="(\d+)"', fieldset)
    assert values == [str(n) for n in range(11)]
    # Each cell is announced as a mark on the scale, whose ends are written out.
    for n in range(11):
        assert f'<span class="sr-only">{n} out of 10</span>' in fieldset
    assert "0: not at all likely" in fieldset and "10: extremely likely" in fieldset
    assert 'aria-describedby="recommend-ends recommend-hint"' in fieldset
    assert "Private: only the Cocréa team sees it, and only in totals." in fieldset
    assert chosen(page) == []  # nothing answered for the person


@pytest.mark.parametrize("answer", ["0", "9", "10"])
def test_the_answer_is_saved_with_a_new_rating(client, auth, ctx, delivered, answer):
    login_as(client, auth, "ada@example.com")
    response = rate(client, delivered["orders"]["ada"], score="4", recommend=answer)
    assert response.status_code == 302
    [rating] = ratings(ctx)
    assert (rating.score, rating.recommend) == (4, int(answer))


@pytest.mark.parametrize("sent", [None, ""], ids=["no field", "empty"])
def test_the_question_may_be_skipped(client, auth, ctx, delivered, sent):
    login_as(client, auth, "ada@example.com")
    response = rate(client, delivered["orders"]["ada"], score="5", recommend=sent)
    assert response.status_code == 302
    [rating] = ratings(ctx)
    assert (rating.score, rating.recommend) == (5, None)


def test_an_edit_shows_the_answer_and_changes_it_within_the_window(client, auth, ctx, delivered):
    login_as(client, auth, "ada@example.com")
    order_id = delivered["orders"]["ada"]
    assert rate(client, order_id, score="3", recommend="6").status_code == 302
    page = client.get(f"/reviews/orders/{order_id}").get_data(as_text=True)
    assert chosen(page) == ["6"]

    assert rate(client, order_id, score="3", recommend="9").status_code == 302
    [rating] = ratings(ctx)
    assert rating.recommend == 9
    assert chosen(client.get(f"/reviews/orders/{order_id}").get_data(as_text=True)) == ["9"]

    # The edit form is the whole rating: sent without an answer, the answer is withdrawn.
    assert rate(client, order_id, score="3", recommend="").status_code == 302
    [rating] = ratings(ctx)
    assert rating.recommend is None

    with ctx():
        stored = db.session.scalar(sa.select(Rating))
        stored.recommend = 9
        stored.created_at -= dt.timedelta(days=31)
        db.session.commit()
    late = rate(client, order_id, score="3", recommend="2", editing="1")
    assert late.status_code == 409
    [rating] = ratings(ctx)
    assert rating.recommend == 9


@pytest.mark.parametrize("answer", ["11", "-1", "x", "7.5"])
def test_an_answer_outside_0_to_10_is_refused_and_nothing_is_stored(
    client, auth, ctx, delivered, upload_dir, answer
):
    login_as(client, auth, "ada@example.com")
    before = sorted(files_under(upload_dir))
    response = rate(
        client,
        delivered["orders"]["ada"],
        score="4",
        review="Typed with care",
        photos=[(PNG, "a.png")],
        recommend=answer,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert RANGE_MESSAGE in page
    assert 'aria-describedby="recommend-ends recommend-hint recommend-error"' in page
    assert "Typed with care" in page  # the rest of the form is kept
    assert ratings(ctx) == []
    assert sorted(files_under(upload_dir)) == before  # no photo file left behind


def test_an_edit_with_an_answer_outside_0_to_10_keeps_the_rating_as_it_was(
    client, auth, ctx, delivered
):
    login_as(client, auth, "ada@example.com")
    order_id = delivered["orders"]["ada"]
    assert rate(client, order_id, score="2", review="First", recommend="4").status_code == 302
    refused = rate(client, order_id, score="5", review="Second", recommend="11")
    assert refused.status_code == 422 and RANGE_MESSAGE in refused.get_data(as_text=True)
    [rating] = ratings(ctx)
    assert (rating.score, rating.review, rating.recommend) == (2, "First", 4)


@pytest.mark.parametrize("answer", [11, -1, "9", True])
def test_the_service_refuses_what_is_not_a_whole_number_from_0_to_10(ctx, delivered, answer):
    with ctx():
        ada = db.session.get(User, delivered["users"]["ada"])
        with pytest.raises(services.ReviewError) as refused:
            services.rate(delivered["orders"]["ada"], ada, 4, "", recommend=answer)
        assert (str(refused.value), refused.value.status) == (RANGE_MESSAGE, 422)
        assert db.session.scalars(sa.select(Rating)).all() == []


def test_the_database_refuses_an_answer_above_10(ctx, delivered):
    with ctx():
        ada = db.session.get(User, delivered["users"]["ada"])
        rating, _removed = services.rate(delivered["orders"]["ada"], ada, 4, "", recommend=10)
        db.session.commit()
        # Whatever the code does: the check constraint holds the scale.
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.update(Rating).where(Rating.id == rating.id).values(recommend=11))
        db.session.rollback()
        assert db.session.scalar(sa.select(Rating.recommend)) == 10
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.update(Rating).values(recommend=-1))
        db.session.rollback()


def test_no_public_page_shows_the_answer(client, auth, ctx, delivered):
    login_as(client, auth, "ada@example.com")
    assert (
        rate(client, delivered["orders"]["ada"], score="4", review="Soft.", recommend="7")
    ).status_code == 302
    anonymous = client.application.test_client()
    for path in (
        f"/campaigns/{delivered['campaign']}",
        f"/designs/{delivered['design']}",
        f"/designs/by/{delivered['designer']}",
        f"/reviews/designs/{delivered['design']}",
    ):
        page = anonymous.get(path).get_data(as_text=True)
        assert "Soft." in page  # the review is public...
        # ...the answer is not, nor the question.
        assert "out of 10" not in page and "recommend Cocréa" not in page
        assert 'name="recommend"' not in page
