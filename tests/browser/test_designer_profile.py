"""In Chromium, a designer's public profile: from the account page they upload a picture and
write a bio and a link (a link that is no web address is refused beside it, with what was
typed kept), and a visitor then meets them on the designer's page, above the designs on
shelves named for where each is and the products made from them."""

import pytest
from PIL import Image
from playwright.sync_api import expect

from designs.models import DesignState
from marketplace.campaigns.models import CampaignState
from tests.helpers import login

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def test_a_designer_fills_in_their_profile_and_a_visitor_meets_it(
    browser, page, live_server, tmp_path, make_user, make_design, make_campaign
):
    dee = make_user("dee@example.com", designer=True, name="Dee Signer")
    make_design(dee, title="Morning birds", state=DesignState.VOTING)
    make_design(dee, title="Secret draft", state=DesignState.DRAFT)
    live = make_campaign(state=CampaignState.LIVE, designer_id=dee)
    delivered = make_campaign(state=CampaignState.DELIVERED, designer_id=dee)
    picture = tmp_path / "me.png"
    Image.new("RGB", (640, 480), (40, 120, 200)).save(picture)

    # From the account page's designer section to the profile form.
    login(page, live_server, "dee@example.com")
    page.goto(live_server + "/account/")
    assert page.get_by_test_id("avatar-initials").inner_text() == "DS"
    page.get_by_role("link", name="Edit my profile").click()
    page.wait_for_url(live_server + "/designs/profile")

    page.get_by_label("Profile picture").set_input_files(str(picture))
    page.get_by_label("About you").fill("I draw birds at dawn.\nAnd cities at night.")
    page.get_by_label("Link", exact=True).fill("javascript:alert(1)")
    page.get_by_role("button", name="Save profile").click()

    # Refused beside the link, nothing lost of what was typed (but the file, which no browser
    # lets a page fill in again).
    error = page.locator("#link1-error")
    assert "starting with https://" in error.inner_text()
    assert page.get_by_label("About you").input_value() == (
        "I draw birds at dawn.\nAnd cities at night."
    )
    assert page.get_by_label("Link", exact=True).input_value() == "javascript:alert(1)"
    page.get_by_label("Profile picture").set_input_files(str(picture))
    page.get_by_label("Link", exact=True).fill("https://dee.example.com/studio")
    page.get_by_role("button", name="Save profile").click()
    page.wait_for_url(f"{live_server}/designs/by/{dee}")
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    assert page.get_by_role("link", name="My designs").first.is_visible()

    # A visitor, not logged in, reads the profile.
    visitor = browser.new_context()
    try:
        public = visitor.new_page()
        public.goto(f"{live_server}/designs/by/{dee}")
        expect(public.get_by_role("heading", name="Dee Signer")).to_be_visible()
        avatar = public.get_by_test_id("avatar")
        assert avatar.is_visible()
        assert avatar.evaluate("img => img.complete && img.naturalWidth") == 256
        bio = public.get_by_test_id("designer-bio")
        assert bio.inner_text() == "I draw birds at dawn.\nAnd cities at night."
        link = public.get_by_role("link", name="dee.example.com/studio")
        assert link.get_attribute("href") == "https://dee.example.com/studio"
        assert link.get_attribute("rel") == "nofollow ugc noopener"

        # The designs by where they are: the made product first, with its campaign.
        produced = public.locator("#produced")
        assert produced.get_by_role("heading", level=2).inner_text() == "Produced (1)"
        assert "delivered to backers" in produced.inner_text()
        assert produced.get_by_role("link", name="See the campaign").get_attribute("href") == (
            f"/campaigns/{delivered}"
        )
        campaigns = public.locator("#shelf-campaign")
        assert campaigns.get_by_role("heading", level=2).inner_text() == "Pre-order campaigns (1)"
        assert "campaign live" in campaigns.inner_text()
        scoring = public.locator("#shelf-voting")
        assert scoring.get_by_role("heading", level=2).inner_text() == "Open for scoring (1)"
        assert "Morning birds" in scoring.inner_text()
        assert not public.get_by_text("Secret draft").count()
        assert not public.get_by_role("link", name="Edit my profile").count()

        campaigns.get_by_role("link", name="See the campaign").click()
        public.wait_for_url(f"{live_server}/campaigns/{live}")
    finally:
        visitor.close()
