"""In Chromium, the listening loop: a delivered order is rated with a photo, which puts its
design under the bar; the operator opens a redesign challenge from the suggestion; the
original designer submits a redesign; it is approved, scored by one of the original's raters
who follows the invitation mail, selected, and opens a campaign that links the original."""

import datetime as dt

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect

from designs.models import Design, DesignState
from marketplace.campaigns.models import Campaign
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.production.models import Order
from tests.helpers import login, logout, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.live_db]

WHAT_CHANGED = "Screen printed instead of transfer, so the colours survive the wash."


def test_a_badly_rated_product_is_redesigned_and_opens_a_new_campaign(
    app, ctx, browser, page, live_server, tmp_path, make_produced, mailbox, run_jobs, monkeypatch
):
    # One vote is enough to shortlist the redesign here (the rule is tested elsewhere).
    monkeypatch.setitem(app.config, "SHORTLIST_MIN_VOTES", 1)
    monkeypatch.setitem(app.config, "SHORTLIST_MIN_RANK", 0.0)
    # Ten delivered orders, nine rated 2 already: the tenth rating decides the suggestion.
    produced = make_produced(scores=(2,) * 9, backers=10)
    with ctx():
        for order in db.session.scalars(sa.select(Order)):
            order.delivered_at = utcnow() - dt.timedelta(days=15)
        original = db.session.get(Design, produced.design_id)
        original.title = "Faded sunset"
        db.session.commit()
        rater = db.session.get(type(original.designer), produced.backer_ids[-1]).email
        designer = original.designer.email
        operator = db.session.get(type(original.designer), produced.operator_id).email
    photo = tmp_path / "faded.jpg"
    Image.new("RGB", (800, 600), (200, 190, 180)).save(photo)
    artwork = tmp_path / "lasting.png"
    artwork.write_bytes(png_bytes(800, 800, (230, 90, 30, 255)))

    # The tenth backer rates it 1 with a photo: 10 ratings averaging 1.9.
    login(page, live_server, rater)
    page.goto(live_server + "/pledges/")
    page.get_by_role("link", name="Rate this product").click()
    page.locator("label.score-option", has_text="1 star").click()  # the visible "1 ★"
    page.get_by_label("Your review (optional)").fill("The colours faded after two washes.")
    page.get_by_label("Photos (optional)").set_input_files(str(photo))
    page.get_by_role("button", name="Save my rating").click()
    expect(page.get_by_text("Thank you: your rating is saved.")).to_be_visible()
    logout(page)

    # The console suggests it; the operator opens the challenge.
    login(page, live_server, operator)
    page.get_by_role("link", name="to redesign").click()
    suggestion = page.locator(f"#suggestion-{produced.design_id}")
    expect(suggestion.get_by_text("Average 1.90 of 10 ratings")).to_be_visible()
    suggestion.get_by_text("Open a challenge…").click()
    suggestion.get_by_label("Brief (public)").fill(
        "Buyers love the drawing, but the print fades: keep the sunset, make it last."
    )
    suggestion.get_by_label("1/5 · The colours faded after two washes.").check()
    suggestion.get_by_role("button", name="Open the challenge").click()
    expect(
        page.get_by_text("Redesign challenge opened; its designer is told first.")
    ).to_be_visible()
    expect(page.get_by_text("The colours faded after two washes.")).to_be_visible()
    logout(page)

    # The original designer, told by mail, submits a redesign from "My designs".
    # Mail leaves through the outbox, a real RQ worker and SMTP.
    run_jobs(("mail",))
    mailbox.wait_for(designer, "A redesign challenge opens")
    login(page, live_server, designer)
    page.goto(live_server + "/designs/mine")
    page.locator("[data-testid=my-redesign-challenges]").get_by_role(
        "link", name="Submit a redesign"
    ).click()
    expect(page.get_by_test_id("redesign-of")).to_be_visible()
    page.get_by_label("Title").fill("Lasting sunset")
    page.get_by_label("What your redesign changes").fill(WHAT_CHANGED)
    page.get_by_label("Product").select_option(label="T-shirt")
    page.get_by_label("Variants you propose").fill("S, M, L")
    page.get_by_label("Artwork").set_input_files(str(artwork))
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Submitted!")).to_be_visible()
    logout(page)

    # Approved: the original's raters and backers are invited to score it.
    login(page, live_server, operator)
    page.goto(live_server + "/operator/designs/review")
    page.get_by_role("button", name="Approve “Lasting sunset”").click()
    logout(page)
    with ctx():
        redesign_id = db.session.scalar(
            sa.select(Design.id).where(Design.redesign_of_id == produced.design_id)
        )

    run_jobs(("mail",))
    invitation = mailbox.wait_for(rater, "Score a redesign of")
    login(page, live_server, rater)
    page.goto(mailbox.link(invitation))
    expect(page.get_by_text(WHAT_CHANGED)).to_be_visible()
    page.locator("label.score-option", has_text="5").click()
    page.get_by_role("button", name="Save my score").click()
    expect(page.get_by_text("Your score is saved.")).to_be_visible()
    logout(page)

    # Scoring closed early, then selected: the challenge's outcome, and a campaign.
    login(page, live_server, operator)
    page.goto(live_server + "/operator/designs/review")
    page.locator(f"#scoring-{redesign_id}").get_by_text("Close scoring now…").click()
    page.locator(f"#scoring-{redesign_id}").get_by_role("textbox").fill(
        "The challenge's brief asked for a quick answer."
    )
    page.get_by_role("button", name="Close scoring of “Lasting sunset” now").click()
    with ctx():
        assert db.session.get(Design, redesign_id).state == DesignState.SHORTLISTED
    page.goto(live_server + "/operator/designs/shortlist")
    page.get_by_label("Select it for a campaign (final)").check()
    page.get_by_role("button", name="Select “Lasting sunset”").click()
    page.goto(f"{live_server}/operator/campaigns/new/{redesign_id}")
    page.get_by_label("Product name").fill("Lasting sunset tee")
    page.get_by_label("Unit price").fill("25.00")
    page.get_by_label("Goal (units)").fill("3")
    page.get_by_label("Production cost per unit").fill("18.00")
    page.get_by_label("Designer royalty per unit").fill("3.50")
    page.get_by_label("Platform share per unit").fill("3.50")
    page.get_by_label("Story").fill("The sunset again, screen-printed to last.")
    page.get_by_label("Risks and challenges").fill("Screen printing takes a week longer.")
    page.get_by_role("button", name="Open the campaign").click()
    expect(page.get_by_text("Campaign opened.")).to_be_visible()
    logout(page)

    with ctx():
        campaign_id = db.session.scalar(
            sa.select(Campaign.id).where(Campaign.design_id == redesign_id)
        )
    visitor = browser.new_context()
    try:
        public = visitor.new_page()
        public.goto(f"{live_server}/campaigns/{campaign_id}")
        block = public.get_by_test_id("redesign-of")
        expect(block.get_by_role("link", name="“Faded sunset”")).to_be_visible()
        expect(block.get_by_text(WHAT_CHANGED)).to_be_visible()
        block.get_by_role("link", name="“Faded sunset”").click()
        expect(public.get_by_text("Redesign challenge: a redesign was selected")).to_be_visible()
        expect(
            public.get_by_test_id("redesign-challenge").get_by_role("link", name="“Lasting sunset”")
        ).to_be_visible()
    finally:
        visitor.close()
