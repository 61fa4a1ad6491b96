"""In Chromium: a backer whose order was delivered rates it with a photo from "My pledges",
and the rating shows on the campaign page, the design page and the designer's profile."""

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def test_a_delivered_backer_rates_with_a_photo_and_everyone_sees_it(
    browser, page, live_server, tmp_path, delivered, upload_dir
):
    photo = tmp_path / "on-me.jpg"
    Image.new("RGB", (800, 600), (180, 40, 90)).save(photo)

    login(page, live_server, "ada@example.com")
    page.goto(live_server + "/pledges/")
    page.get_by_role("link", name="Rate this product").click()
    page.wait_for_url(f"{live_server}/reviews/orders/{delivered['orders']['ada']}")
    expect(page.get_by_role("heading", name="Rate Test tee")).to_be_visible()

    # No score chosen: refused, what was typed kept.
    page.get_by_label("Your review (optional)").fill("Soft, and the print held in the wash.")
    page.get_by_role("button", name="Save my rating").click()
    expect(page.get_by_text("Choose a score from 1 to 5 stars.")).to_be_visible()
    review = page.get_by_label("Your review (optional)")
    assert review.input_value() == "Soft, and the print held in the wash."

    page.locator("label.score-option", has_text="4 stars").click()  # the visible "4 ★"
    page.get_by_label("Photos (optional)").set_input_files(str(photo))
    page.get_by_role("button", name="Save my rating").click()
    page.wait_for_url(live_server + "/pledges/")
    expect(page.get_by_text("Thank you: your rating is saved.")).to_be_visible()
    expect(page.get_by_text("Your rating: 4/5")).to_be_visible()
    expect(page.get_by_role("link", name="edit")).to_be_visible()

    visitor = browser.new_context()
    try:
        public = visitor.new_page()
        for path in (
            f"/campaigns/{delivered['campaign']}",
            f"/designs/{delivered['design']}",
            f"/designs/by/{delivered['designer']}",
        ):
            public.goto(live_server + path)
            ratings = public.locator("#ratings")
            expect(ratings.get_by_text("4.0 out of 5, 1 rating")).to_be_visible()
            expect(ratings.get_by_text("Soft, and the print held in the wash.")).to_be_visible()
            expect(ratings.get_by_text("Ada", exact=True)).to_be_visible()
            picture = ratings.get_by_role("img", name="Photo 1 by Ada")
            expect(picture).to_be_visible()
            assert picture.evaluate("img => img.complete && img.naturalWidth") > 0
    finally:
        visitor.close()


def test_a_phone_backer_answers_would_you_recommend_on_one_row_and_sees_it_on_edit(
    phone_page, live_server, delivered
):
    page = phone_page
    login(page, live_server, "ben@example.com")
    page.goto(f"{live_server}/reviews/orders/{delivered['orders']['ben']}")
    question = page.get_by_role(
        "group", name="How likely are you to recommend Cocréa to a friend? (optional)"
    )
    expect(question).to_be_visible()
    expect(question.get_by_text("0: not at all likely")).to_be_visible()
    expect(question.get_by_text("10: extremely likely")).to_be_visible()
    expect(question.get_by_text("only the Cocréa team sees it")).to_be_visible()

    # On a 375 px screen the page does not scroll sideways, and the eleven cells share one
    # row, each wide enough to tap (WCAG's 24 px target).
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    cells = [question.locator("label.score-option").nth(n) for n in range(11)]
    assert [c.locator("input").get_attribute("value") for c in cells] == [str(n) for n in range(11)]
    boxes = [cell.bounding_box() for cell in cells]
    assert len({round(b["y"]) for b in boxes}) == 1
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= 375 for b in boxes)
    assert min(b["width"] for b in boxes) >= 24 and min(b["height"] for b in boxes) >= 24

    page.locator("label.score-option", has_text="4 stars").click()
    cells[9].click()
    assert question.get_by_role("radio", name="9 out of 10").is_checked()
    page.get_by_role("button", name="Save my rating").click()
    page.wait_for_url(live_server + "/pledges/")
    expect(page.get_by_text("Thank you: your rating is saved.")).to_be_visible()

    page.get_by_role("link", name="edit").click()
    expect(question.get_by_role("radio", name="9 out of 10")).to_be_checked()
    assert not question.get_by_role("radio", name="10 out of 10").is_checked()

    # On a 320 px phone one row would make the cells too small to tap: they take two rows.
    page.set_viewport_size({"width": 320, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    boxes = [cell.bounding_box() for cell in cells]
    assert len({round(b["y"]) for b in boxes}) == 2
    assert min(b["width"] for b in boxes) >= 24
