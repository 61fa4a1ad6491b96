"""In Chromium, what a first-time visitor discovers: the home page's live sections and
figures, a search by a designer's name, and a search that found nothing widened in a click."""

import datetime as dt

import pytest

from designs.models import DesignState
from marketplace.campaigns.models import Campaign, CampaignState
from marketplace.kernel.extensions import db
from tests.helpers import made_campaign

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def _name(ctx, campaign_id: int, product: str, design: str) -> None:
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        campaign.product_name = product
        campaign.design.title = design
        db.session.commit()


def test_a_visitor_finds_live_content_and_designs_by_their_designer(
    ctx, page, live_server, make_user, make_design, make_campaign
):
    elodie = make_user("elodie@example.com", designer=True, name="Élodie Marchand")
    operator = make_user("olivia@example.com", operator=True, name="Olivia")
    ending = make_campaign(deadline_in=dt.timedelta(days=4))
    _name(ctx, ending, "Harbour tote", "Tote of the harbour")
    made = make_campaign(state=CampaignState.DELIVERED, designer_id=elodie)
    _name(ctx, made, "Lighthouse mug", "Lighthouse")
    backers = [make_user(f"backer{n}@example.com", name=f"Backer {n}") for n in range(3)]
    made_campaign(ctx, made, backers, operator, royalty_cents=4200)
    make_design(elodie, title="Harbour lights", closes_in=dt.timedelta(days=3))
    make_design(elodie, title="Old mill", state=DesignState.SHORTLISTED, rank_score=0.6)
    make_design(elodie, title="Secret sketch", state=DesignState.DRAFT)
    make_design(title="Someone else's piece")

    # The home page: what is on now, and the figures so far.
    page.goto(live_server + "/")
    figures = page.locator("#figures")
    assert figures.locator("[data-figure=produced] .stat-value").inner_text() == "1"
    assert figures.locator("[data-figure=produced] .stat-label").inner_text() == ("design produced")
    assert figures.locator("[data-figure=backers] .stat-value").inner_text() == "3"
    assert figures.locator("[data-figure=royalties] .stat-value").inner_text() == "€42.00"
    ending_soon = page.locator("#ending-soon")
    assert ending_soon.get_by_role("link", name="Harbour tote").first.is_visible()
    assert "3 days left" in ending_soon.inner_text()
    scoring = page.locator("#open-for-scoring")
    assert scoring.get_by_role("link", name="Harbour lights").first.is_visible()
    assert "Old mill" not in scoring.inner_text()
    produced = page.locator("#produced")
    assert produced.get_by_role("link", name="Lighthouse mug").first.is_visible()
    assert produced.locator(".badge").inner_text() == "delivered to backers"

    # The gallery's search finds the designer's public designs, whatever their stage, by
    # their name typed in lower case.
    page.get_by_role("navigation").get_by_role("link", name="Designs").first.click()
    page.wait_for_url(live_server + "/designs/")
    page.get_by_label("Search").fill("élodie")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**/designs/?q=*")
    cards = page.locator(".card-grid .design-card-title")
    assert sorted(cards.all_inner_texts()) == ["Harbour lights", "Lighthouse", "Old mill"]

    # A search narrowed to a stage where nothing matches offers to widen it, keeping the
    # search; the widened search finds the design.
    page.get_by_label("Search").fill("lights")
    page.get_by_label("Status").select_option(label="Scoring closed")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**status=closed*")
    no_match = page.locator("#no-match")
    assert no_match.get_by_role("heading").inner_text() == "No design matches “lights”"
    assert not page.locator(".card-grid").count()
    no_match.get_by_role("link", name="Every stage, not only “Scoring closed”").click()
    page.wait_for_url(lambda url: "q=lights" in url and "status=" not in url)
    assert page.locator(".card-grid .design-card-title").all_inner_texts() == ["Harbour lights"]
    assert page.get_by_label("Search").input_value() == "lights"
    assert page.get_by_label("Status").input_value() == "all"
