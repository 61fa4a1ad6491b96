"""In Chromium, a contributor's public profile: a visitor follows a commenter's name from a
design's page to their profile, and reads what they did and the badges they earned, with the
rule behind each; the person finds it from their account page."""

import datetime as dt
import secrets

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from designs.models import Comment, Design, DesignState, Vote
from marketplace.campaigns.models import Campaign, CampaignState, PledgeState
from marketplace.kernel.extensions import db
from tests.helpers import login, pledge_row

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def test_a_visitor_meets_a_scout_and_early_backer_on_their_profile(
    page, live_server, ctx, make_user, make_design, make_campaign
):
    zoe = make_user("zoe@example.com", name="Zoé Martin")
    picked = make_design(state=DesignState.SELECTED, title="Picked early", votes=((zoe, 5, True),))
    talked = make_design(title="Talked about")
    settled = make_campaign(state=CampaignState.SETTLED)
    with ctx():
        design = db.session.get(Design, picked)
        vote = db.session.scalar(sa.select(Vote).where(Vote.design_id == picked))
        vote.updated_at = design.voting_opens_at + dt.timedelta(hours=3)
        campaign = db.session.get(Campaign, settled)
        db.session.add(
            pledge_row(
                campaign,
                campaign.variants[0],
                zoe,
                1,
                state=PledgeState.COLLECTED,
                idempotency_key=secrets.token_urlsafe(24),
            )
        )
        db.session.add(Comment(design_id=talked, author_id=zoe, body="Love the colours"))
        db.session.commit()
        product = campaign.product_name

    page.goto(f"{live_server}/designs/{talked}")
    page.get_by_role("link", name="Zoé Martin").click()
    page.wait_for_url(f"{live_server}/people/{zoe}")
    expect(page.get_by_role("heading", name="Zoé Martin", exact=True)).to_be_visible()
    expect(page.get_by_test_id("badge-scout")).to_be_visible()
    expect(page.get_by_test_id("badge-early_backer")).to_be_visible()
    expect(page.get_by_test_id("rule-scout")).to_contain_text("within the first 48 hours")
    expect(page.get_by_test_id("rule-early_backer")).to_contain_text("first 10 percent")
    scouting = page.locator("#scouting")
    expect(scouting.get_by_role("link", name="Picked early")).to_be_visible()
    expect(page.locator("#backed").get_by_role("link", name=product)).to_be_visible()

    # Zoé herself finds it from her account page.
    login(page, live_server, "zoe@example.com")
    page.goto(live_server + "/account/")
    page.get_by_role("link", name="See your public profile").click()
    page.wait_for_url(f"{live_server}/people/{zoe}")
    expect(page.get_by_test_id("badge-scout")).to_be_visible()
