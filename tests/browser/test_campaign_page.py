"""In Chromium: an operator opens a campaign with everything backers decide on (story,
risks, FAQ, a picture, delivery month, shipping per zone), shown beside the designer's bio;
a backer on a 375 px phone reads it, reaches the pledge form from the sticky bar, picks a
shipping zone and sees it in the amount, on the card step and in My pledges."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from designs.models import DesignState
from marketplace.campaigns.models import Campaign, Pledge
from marketplace.kernel.extensions import db
from tests.helpers import login, logout, png_bytes, save_card

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


def below_header(page, locator) -> bool:
    """Not hidden under the sticky site header."""
    header = page.locator(".site-header").bounding_box()
    return locator.bounding_box()["y"] >= header["y"] + header["height"] - 1


def test_operator_opens_a_full_campaign_page_and_a_phone_backer_pledges_with_shipping(
    app, ctx, page, phone_page, live_server, make_user, make_design, stripe_server, tmp_path
):
    make_user("olivia@example.com", operator=True, name="Olivia")
    make_user("ben@example.com", name="Ben")
    design_id = make_design(state=DesignState.SELECTED)
    picture = tmp_path / "workshop.png"
    picture.write_bytes(png_bytes(300, 200, (30, 120, 90, 255)))

    login(page, live_server, "olivia@example.com")
    page.goto(f"{live_server}/operator/campaigns/new/{design_id}")
    page.get_by_label("Product name").fill("Lighthouse tee")
    page.get_by_label("Unit price").fill("25.00")
    page.get_by_label("Goal (units)").fill("10")
    page.get_by_label("Production cost per unit").fill("18.00")
    page.get_by_label("Designer royalty per unit").fill("3.50")
    page.get_by_label("Platform share per unit").fill("3.50")
    page.get_by_label("Story").fill(
        "## Made in Roubaix\n\nA **lighthouse**, printed in two colours.\n\n- Organic cotton"
    )
    page.get_by_label("Risks and challenges").fill("Blank stock may arrive two weeks late.")
    page.get_by_label("FAQ").fill("When am I charged?\nOnly if the goal is reached.")
    page.get_by_label("Estimated delivery").fill("2027-06")
    page.get_by_label("Shipping, domestic").fill("4.50")
    page.get_by_label("Shipping, European Union").fill("9.00")
    page.get_by_label("Shipping, rest of the world").fill("15.00")
    # An invalid amount first: the form comes back with everything typed, picture aside.
    page.get_by_label("Shipping, rest of the world").fill("fifteen")
    page.get_by_role("button", name="Open the campaign").click()
    expect(page.get_by_text("“fifteen” is not an amount")).to_be_visible()
    assert page.get_by_label("Story").input_value().startswith("## Made in Roubaix")
    page.get_by_label("Shipping, rest of the world").fill("15.00")
    page.get_by_label("Product images").set_input_files(str(picture))
    page.get_by_role("button", name="Open the campaign").click()
    expect(page.get_by_text("Campaign opened.")).to_be_visible()
    with ctx():
        campaign = db.session.scalar(sa.select(Campaign))
        campaign_id = campaign.id
        campaign.design.designer.bio = "Screen-printer in Lyon, drawing lighthouses since 2009."
        db.session.commit()
    logout(page)

    # Ben, on his phone.
    phone = phone_page
    login(phone, live_server, "ben@example.com")
    phone.goto(f"{live_server}/campaigns/{campaign_id}")
    # The mockup and the uploaded picture have loaded: real images, not broken links.
    slides = phone.locator(".gallery-slide img")
    assert slides.count() == 3  # mockup, the picture, the flat artwork
    assert slides.first.evaluate("img => img.complete && img.naturalWidth") > 0
    assert phone.get_by_test_id("money-raised").inner_text() == "€0.00 pledged of a €250.00 goal"
    facts = phone.get_by_test_id("campaign-facts")
    assert "June 2027" in facts.inner_text()
    assert "European Union: €9.00" in facts.inner_text()
    story = phone.locator("#story")
    expect(story.get_by_role("heading", name="Made in Roubaix")).to_be_visible()
    expect(story.locator("strong", has_text="lighthouse")).to_be_visible()
    assert phone.locator("#risks").get_by_text("Blank stock may arrive").count() == 1
    about = phone.locator("#designer")
    assert "drawing lighthouses since 2009" in about.get_by_test_id("designer-bio").inner_text()
    phone.get_by_text("When am I charged?").click()
    expect(phone.get_by_text("Only if the goal is reached.")).to_be_visible()

    # At the top of the page the form is far below; the bar is on screen, and takes him there.
    phone.evaluate("window.scrollTo(0, 0)")
    bar = phone.get_by_test_id("pledge-bar")
    assert bar.is_visible() and in_viewport(phone, bar)
    assert not in_viewport(phone, phone.get_by_role("button", name="Pledge and save my card"))
    bar.get_by_role("link", name="Pledge").click()
    phone.wait_for_function("location.hash === '#pledge'")
    phone.wait_for_timeout(600)  # the smooth scroll
    heading = phone.locator("#pledge h2")
    assert in_viewport(phone, heading) and below_header(phone, heading)
    # Still on screen further down, not covering the page's end.
    phone.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    assert in_viewport(phone, bar)

    phone.get_by_label("Quantity").fill("2")
    phone.get_by_label("Ship to").select_option(label="European Union: €9.00")
    phone.get_by_role("button", name="Pledge and save my card").click()
    phone.wait_for_url(f"{live_server}/pledges/*/card")
    assert phone.get_by_text("€59.00").first.is_visible()
    save_card(phone)
    phone.wait_for_url(live_server + "/pledges/")
    expect(phone.get_by_text("€50.00 + €9.00 shipping (European Union) = €59.00")).to_be_visible()
    with ctx():
        pledge = db.session.scalar(sa.select(Pledge))
        assert (pledge.amount_cents, pledge.shipping_cents, pledge.shipping_zone) == (
            5900,
            900,
            "eu",
        )

    # On a wide screen the form is beside the facts: no bar.
    page.goto(f"{live_server}/campaigns/{campaign_id}")
    assert not page.get_by_test_id("pledge-bar").is_visible()
