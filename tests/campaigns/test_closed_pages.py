"""A campaign's page, "My pledges" and backers' mail follow the campaign's state: once it
stops taking pledges, nothing says the backer can still change or cancel."""

import datetime as dt
import secrets

import pytest
from flask import render_template

from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from tests.helpers import login_as, pledge_row

LIVE_COPY = "Until then you can change or cancel your pledge"
LIVE_LINK = "Change or cancel in My pledges"

#: campaign state -> (what its page says of it, the backer's pledge state).
OUTCOMES = {
    CampaignState.FUNDED: ("Funded: the goal was reached", PledgeState.CHARGING),
    CampaignState.SETTLING: ("Funded: the goal was reached", PledgeState.COLLECTED),
    CampaignState.SETTLED: (
        "Funded and paid: production is being prepared.",
        PledgeState.COLLECTED,
    ),
    CampaignState.IN_PRODUCTION: ("Funded: the products are being made.", PledgeState.COLLECTED),
    CampaignState.SHIPPED: ("Every order has shipped", PledgeState.COLLECTED),
    CampaignState.DELIVERED: (
        "Delivered: every backer has received their order.",
        PledgeState.COLLECTED,
    ),
    CampaignState.FAILED: ("The goal was not reached: nobody was charged.", PledgeState.CANCELLED),
    CampaignState.CANCELLED: ("Cancelled: Supplier gone.", PledgeState.CANCELLED),
}

#: campaign state -> what "My pledges" says of a paid pledge.
PAID = {
    CampaignState.SETTLING: "Paid. Your order goes into production with the others.",
    CampaignState.SETTLED: "Paid. Your order goes into production with the others.",
    CampaignState.IN_PRODUCTION: "Paid. Your order is being made with the others.",
    CampaignState.SHIPPED: "Paid. Your order has shipped.",
    CampaignState.DELIVERED: "Paid and delivered.",
}


def _backed(ctx, make_user, make_campaign, state, pledge_state):
    backer = make_user("bea@example.com", name="Bea Backer")
    campaign_id = make_campaign(state=state)
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        if state == CampaignState.CANCELLED:
            campaign.cancel_reason = "Supplier gone"
        variant = campaign.variants[0]
        db.session.add(
            pledge_row(
                campaign,
                variant,
                backer,
                2,
                state=pledge_state,
                idempotency_key=secrets.token_urlsafe(24),
                card_summary="Visa •••• 4242",
            )
        )
        db.session.commit()
    return campaign_id


def test_a_live_campaign_says_pledges_can_change(client, auth, ctx, make_user, make_campaign):
    campaign_id = _backed(ctx, make_user, make_campaign, CampaignState.LIVE, PledgeState.ACTIVE)
    login_as(client, auth, "bea@example.com")
    page = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert LIVE_COPY in page and LIVE_LINK in page


@pytest.mark.parametrize("state", list(OUTCOMES), ids=lambda s: s.value)
def test_a_closed_campaign_page_tells_its_outcome_and_no_live_copy(
    client, auth, ctx, make_user, make_campaign, state
):
    outcome, pledge_state = OUTCOMES[state]
    campaign_id = _backed(ctx, make_user, make_campaign, state, pledge_state)
    login_as(client, auth, "bea@example.com")
    page = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert outcome in page
    assert LIVE_COPY not in page
    assert LIVE_LINK not in page
    assert "Follow them in My pledges" in page
    if state == CampaignState.DELIVERED:
        assert '<span class="badge badge-success">delivered</span>' in page


def test_a_live_campaign_past_its_deadline_takes_no_more_changes(
    client, auth, ctx, make_user, make_campaign
):
    """The close job may run a little late: meanwhile the page does not promise changes."""
    campaign_id = _backed(ctx, make_user, make_campaign, CampaignState.LIVE, PledgeState.ACTIVE)
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        campaign.starts_at = utcnow() - dt.timedelta(days=3)
        campaign.deadline = utcnow() - dt.timedelta(minutes=1)
        db.session.commit()
    login_as(client, auth, "bea@example.com")
    page = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "The deadline has passed" in page
    assert LIVE_COPY not in page and LIVE_LINK not in page


@pytest.mark.parametrize("state", list(PAID), ids=lambda s: s.value)
def test_my_pledges_says_where_a_paid_order_is(client, auth, ctx, make_user, make_campaign, state):
    campaign_id = _backed(ctx, make_user, make_campaign, state, PledgeState.COLLECTED)
    login_as(client, auth, "bea@example.com")
    page = client.get("/pledges/").get_data(as_text=True)
    assert f'href="/campaigns/{campaign_id}"' in page
    assert PAID[state] in page
    if state not in (CampaignState.SETTLING, CampaignState.SETTLED):
        assert "goes into production" not in page


def test_the_pledge_mail_offers_changes_only_while_the_campaign_takes_pledges(
    app, ctx, make_user, make_campaign
):
    for state, offered in ((CampaignState.LIVE, True), (CampaignState.FAILED, False)):
        campaign_id = make_campaign(state=state)
        with app.test_request_context():
            campaign = db.session.get(Campaign, campaign_id)
            pledge = Pledge(
                campaign=campaign,
                variant=campaign.variants[0],
                quantity=1,
                amount_cents=campaign.unit_price_cents,
                currency="EUR",
                card_summary="Visa •••• 4242",
            )
            text = render_template(
                "mail/pledge_confirmed.txt",
                user=None,
                pledge=pledge,
                campaign=campaign,
                link="http://x/pledges/",
            )
            db.session.rollback()
        assert ("change or cancel your pledge" in text) is offered, state
        assert ("Follow your pledge in My pledges" in text) is not offered, state


def test_in_french_a_delivered_campaign_and_order_say_so(
    client, auth, ctx, make_user, make_campaign
):
    campaign_id = _backed(
        ctx, make_user, make_campaign, CampaignState.DELIVERED, PledgeState.COLLECTED
    )
    with ctx():
        db.session.scalar(db.select(User).where(User.email == "bea@example.com")).locale = "fr"
        db.session.commit()
    login_as(client, auth, "bea@example.com")
    page = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Livrée\u00a0: chaque contributeur·rice a reçu sa commande." in page
    assert "Les suivre dans Mes contributions" in page
    assert "Payée et livrée." in client.get("/pledges/").get_data(as_text=True)
