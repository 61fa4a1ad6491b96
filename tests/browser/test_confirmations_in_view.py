"""In Chromium, at a desktop and a phone's width: after scoring a design or reporting a comment,
the confirmation is shown beside what was done and is in view, not under the sticky header;
and an anchored heading (#comments) opens below the header."""

import datetime as dt

import pytest
import sqlalchemy as sa

from designs.models import Comment
from designs.services import REPORTS_TO_HIDE
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from tests.helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.live_db]

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 667}}


@pytest.fixture(params=sorted(VIEWPORTS))
def sized_page(browser, request):
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    try:
        yield pg
    finally:
        context.close()


def header_bottom(page) -> float:
    return page.evaluate("document.querySelector('.site-header').getBoundingClientRect().bottom")


def assert_in_view(page, locator):
    """The element is inside the viewport, below the sticky header, and is what a person
    sees at its centre (nothing drawn over it)."""
    box = locator.bounding_box()  # relative to the viewport
    viewport = page.viewport_size
    assert box["y"] >= header_bottom(page) - 0.5, (box, header_bottom(page))
    assert box["y"] + box["height"] <= viewport["height"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    on_top = locator.evaluate(
        """(el) => {
            const r = el.getBoundingClientRect();
            const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return el.contains(hit);
        }"""
    )
    assert on_top


@pytest.fixture
def discussed_design(ctx, make_user, make_design):
    """A design open for scoring, with a long thread of comments by Chloé; returns its id and
    the comments' ids, oldest first."""
    ada = make_user("ada@example.com", designer=True, name="Ada")
    make_user("ben@example.com", name="Ben")
    chloe = make_user("chloe@example.com", name="Chloé")
    design_id = make_design(ada, title="Moon over Lyon")
    with ctx():
        comments = [
            Comment(
                design_id=design_id,
                author_id=chloe,
                body=f"Comment {n}: " + "lovely " * 30,
                created_at=utcnow() - dt.timedelta(minutes=10 - n),
            )
            for n in range(1, 9)
        ]
        db.session.add_all(comments)
        db.session.commit()
        return design_id, [c.id for c in comments]


def test_the_confirmation_of_a_score_and_of_a_report_is_in_view(
    app, ctx, sized_page, live_server, discussed_design
):
    page = sized_page
    design_id, comment_ids = discussed_design
    login(page, live_server, "ben@example.com")
    page.goto(f"{live_server}/designs/{design_id}")

    scores = page.locator("#scores")
    scores.locator("label.score-option", has_text="4").click()
    scores.get_by_role("button", name="Save my score").click()
    page.wait_for_url(f"{live_server}/designs/{design_id}#scores")
    confirmation = scores.get_by_test_id("confirmation")
    assert confirmation.inner_text() == (
        "Your score is saved. You can change it until scoring closes."
    )
    assert_in_view(page, confirmation)
    assert page.get_by_text("Your score is saved.").count() == 1  # not at the top as well

    # Reporting the last comment, at the foot of the thread.
    last = page.locator(f"#comment-{comment_ids[-1]}")
    assert page.locator("article.comment").last.get_attribute("id") == f"comment-{comment_ids[-1]}"
    last.get_by_role("button", name="Report").click()
    page.wait_for_url(f"{live_server}/designs/{design_id}#comment-{comment_ids[-1]}")
    confirmation = last.get_by_test_id("confirmation")
    assert confirmation.inner_text() == "Thank you: our team will look at this comment."
    assert_in_view(page, confirmation)
    assert page.evaluate("window.scrollY") > 0  # the page did scroll down to the comment


def test_a_report_that_hides_the_comment_confirms_atop_the_comments(
    app, ctx, sized_page, live_server, discussed_design
):
    page = sized_page
    design_id, comment_ids = discussed_design
    reported = comment_ids[-1]
    with ctx():
        db.session.get(Comment, reported).report_count = REPORTS_TO_HIDE - 1
        db.session.commit()
    login(page, live_server, "ben@example.com")
    page.goto(f"{live_server}/designs/{design_id}")
    page.locator(f"#comment-{reported}").get_by_role("button", name="Report").click()
    page.wait_for_url(f"{live_server}/designs/{design_id}#comments")
    assert page.locator(f"#comment-{reported}").count() == 0  # hidden by the reports
    confirmation = page.locator("#comments").get_by_test_id("confirmation")
    assert confirmation.inner_text() == "Thank you: our team will look at this comment."
    assert_in_view(page, confirmation)
    with ctx():
        assert db.session.scalar(sa.select(Comment.hidden).where(Comment.id == reported))


def test_an_anchored_heading_opens_below_the_sticky_header(
    app, sized_page, live_server, discussed_design
):
    page = sized_page
    design_id, _comments = discussed_design
    page.goto(f"{live_server}/designs/{design_id}#comments")
    heading = page.locator("#comments").get_by_role("heading", name="Comments")
    assert page.evaluate("window.scrollY") > 0
    assert_in_view(page, heading)
