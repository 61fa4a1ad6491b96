"""A design in a campaign says where its campaign really is, on "My designs", on the public
cards and on its page: live, funded, failed, settled, in production, delivered, cancelled."""

import pytest

from designs.models import Design
from marketplace.campaigns.models import Campaign, CampaignState
from marketplace.kernel.extensions import db
from tests.helpers import login_as

#: campaign state -> (the design's badge, its "what happens next" sentence).
STAGES = {
    CampaignState.SCHEDULED: ("campaign coming soon", "Its pre-order campaign opens"),
    CampaignState.LIVE: ("campaign live", "Its pre-order campaign is open until"),
    CampaignState.FUNDED: ("campaign funded", "cards are being charged"),
    CampaignState.SETTLED: ("campaign settled", "production is being prepared"),
    CampaignState.IN_PRODUCTION: ("in production", "the products are being made"),
    CampaignState.SHIPPED: ("shipped to backers", "Its products have shipped"),
    CampaignState.DELIVERED: ("delivered to backers", "Its products were delivered"),
    CampaignState.FAILED: ("campaign failed", "Its campaign did not reach its goal"),
    CampaignState.CANCELLED: ("campaign cancelled", "Its campaign was cancelled: Supplier gone"),
}


@pytest.mark.parametrize("state", list(STAGES), ids=lambda s: s.value)
def test_a_design_in_a_campaign_says_where_the_campaign_is(
    client, auth, ctx, make_user, make_campaign, state
):
    designer = make_user("dee@example.com", designer=True, name="Dee Signer")
    campaign_id = make_campaign(state=state, designer_id=designer)
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        if state == CampaignState.CANCELLED:
            campaign.cancel_reason = "Supplier gone"
        db.session.commit()
        design_id, title = campaign.design_id, db.session.get(Design, campaign.design_id).title
    badge, sentence = STAGES[state]
    campaign_link = f'href="/campaigns/{campaign_id}"'

    login_as(client, auth, "dee@example.com")
    mine = client.get("/designs/mine").get_data(as_text=True)
    assert title in mine
    assert f'data-stage="{state.value}">{badge}</span>' in mine
    assert sentence in mine
    assert campaign_link in mine
    assert "Its pre-order campaign is open." not in mine

    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert f'data-stage="{state.value}">{badge}</span>' in page
    assert sentence in page and campaign_link in page

    # The public cards: the gallery and the designer's page.
    client.get("/account/logout")
    for url in ("/designs/?status=all", f"/designs/by/{designer}"):
        cards = client.get(url).get_data(as_text=True)
        assert title in cards, url
        assert f'data-stage="{state.value}">{badge}</span>' in cards, url
        assert ">in a campaign<" not in cards, url


def test_the_design_page_follows_its_campaign_at_once_for_visitors(
    client, ctx, make_campaign, app, monkeypatch
):
    """The design's page is cached for minutes for visitors: a campaign's move forgets it."""
    from marketplace.campaigns import services

    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 30)
    monkeypatch.setitem(app.config, "PAGE_CACHE_TAGGED_SECONDS", 300)

    campaign_id = make_campaign(state=CampaignState.LIVE)
    with ctx():
        design_id = db.session.get(Campaign, campaign_id).design_id
    assert "campaign live" in client.get(f"/designs/{design_id}").get_data(as_text=True)
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        services.transition(campaign, "fail", None)
        db.session.commit()
    assert "campaign failed" in client.get(f"/designs/{design_id}").get_data(as_text=True)


def test_in_french_a_failed_and_a_delivered_campaign_are_named_so(
    client, ctx, make_user, make_campaign
):
    designer = make_user("dee@example.com", designer=True, name="Dee Signer")
    make_campaign(state=CampaignState.FAILED, designer_id=designer)
    make_campaign(state=CampaignState.DELIVERED, designer_id=designer)
    page = client.get(
        f"/designs/by/{designer}", headers={"Accept-Language": "fr-FR,fr;q=0.9"}
    ).get_data(as_text=True)
    assert ">campagne en échec</span>" in page
    assert ">livré aux contributeurs·rices</span>" in page
