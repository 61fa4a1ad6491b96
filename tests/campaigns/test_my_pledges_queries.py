"""The "My pledges" page runs a fixed number of statements, whatever the backer's pledges,
orders, surveys and ratings: one for the pledges, one for their orders and surveys, one for
their ratings."""

from __future__ import annotations

import datetime as dt
import secrets

from marketplace.campaigns.models import Campaign, CampaignState, PledgeState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.production.models import Order, OrderState, ProductionRun, RunState, Survey
from marketplace.reviews.models import Rating
from tests.helpers import count_queries, login_as, pledge_row

#: The page's statements in all, the user loader's included.
LIMIT = 4

ANSWERED = {
    "full_name": "Bea Backer",
    "address_line1": "12 rue de la Paix",
    "postal_code": "69001",
    "city": "Lyon",
    "country": "FR",
}


def _pledge(
    ctx,
    campaign_id,
    backer_id,
    state,
    *,
    order=None,
    survey=None,
    rated=False,
    zone="domestic",
    variant=0,
):
    """A pledge of ``backer_id`` on the campaign, with its order (an OrderState) in the
    campaign's run, its survey ("asked" or "answered") and a rating of its order."""
    now = utcnow()
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        pledge = pledge_row(
            campaign,
            campaign.variants[variant],
            backer_id,
            2,
            zone,
            state=state,
            idempotency_key=secrets.token_urlsafe(24),
            card_summary="Visa •••• 4242",
        )
        db.session.add(pledge)
        db.session.flush()
        if survey is not None:
            db.session.add(
                Survey(
                    pledge_id=pledge.id,
                    campaign_id=campaign.id,
                    backer_id=backer_id,
                    **(ANSWERED | {"answered_at": now} if survey == "answered" else {}),
                )
            )
        if order is not None:
            run = db.session.scalar(
                db.select(ProductionRun).where(ProductionRun.campaign_id == campaign.id)
            )
            if run is None:
                run = ProductionRun(
                    campaign_id=campaign.id,
                    state=RunState(campaign.state.value),
                    manufacturer="Atelier Lyon",
                    reference=f"Q-{campaign.id}",
                    expected_ship_date=(now + dt.timedelta(days=30)).date(),
                    created_by_id=campaign.created_by_id,
                )
                db.session.add(run)
                db.session.flush()
            shipped = order in (OrderState.SHIPPED, OrderState.DELIVERED)
            placed = Order(
                run_id=run.id,
                pledge_id=pledge.id,
                state=order,
                tracking_ref="TRK-1" if shipped else None,
                shipped_at=now - dt.timedelta(days=5) if shipped else None,
                delivered_at=now - dt.timedelta(days=2) if order == OrderState.DELIVERED else None,
            )
            db.session.add(placed)
            db.session.flush()
            if rated:
                db.session.add(
                    Rating(
                        order_id=placed.id,
                        user_id=backer_id,
                        campaign_id=campaign.id,
                        design_id=campaign.design_id,
                        score=4,
                    )
                )
        db.session.commit()


def test_my_pledges_runs_the_same_few_statements_whatever_the_pledges(
    app, client, auth, ctx, make_user, make_campaign
):
    make_user("nobody@example.com", name="No Pledge")
    bea = make_user("bea@example.com", name="Bea Backer")
    # The first pledge is one that production and reviews both answer about (an order, a
    # survey, a rating), so that the two counts compare the same statements.
    delivered = make_campaign(state=CampaignState.DELIVERED)
    delivered_and_rated = {"order": OrderState.DELIVERED, "survey": "answered", "rated": True}
    _pledge(ctx, delivered, bea, PledgeState.COLLECTED, **delivered_and_rated)

    login_as(client, auth, "nobody@example.com")
    with count_queries(app) as empty:
        assert "No pledges yet" in client.get("/pledges/").get_data(as_text=True)
    login_as(client, auth, "bea@example.com")
    with count_queries(app) as few:
        assert client.get("/pledges/").status_code == 200

    live = make_campaign(shipping=(0, 900, 1500))
    _pledge(ctx, live, bea, PledgeState.ACTIVE)
    _pledge(ctx, live, bea, PledgeState.PENDING_CARD, zone="eu", variant=1)
    _pledge(ctx, make_campaign(), bea, PledgeState.ACTIVE, zone="world")
    settling = make_campaign(state=CampaignState.SETTLING)
    _pledge(ctx, settling, bea, PledgeState.ERRORED)
    _pledge(ctx, settling, bea, PledgeState.COLLECTED, survey="asked")
    making = make_campaign(state=CampaignState.IN_PRODUCTION)
    _pledge(ctx, making, bea, PledgeState.COLLECTED, order=OrderState.PENDING, survey="answered")
    _pledge(ctx, making, bea, PledgeState.COLLECTED, order=OrderState.PENDING, survey="asked")
    shipped = make_campaign(state=CampaignState.SHIPPED)
    _pledge(ctx, shipped, bea, PledgeState.COLLECTED, order=OrderState.SHIPPED, survey="answered")
    _pledge(ctx, delivered, bea, PledgeState.COLLECTED, **delivered_and_rated)
    _pledge(ctx, delivered, bea, PledgeState.COLLECTED, order=OrderState.DELIVERED)
    cancelled = make_campaign(state=CampaignState.CANCELLED)
    _pledge(ctx, cancelled, bea, PledgeState.REFUNDED, order=OrderState.CANCELLED)
    _pledge(ctx, make_campaign(state=CampaignState.SETTLED), bea, PledgeState.REFUNDED)
    _pledge(ctx, make_campaign(state=CampaignState.FAILED), bea, PledgeState.CANCELLED)
    _pledge(ctx, make_campaign(state=CampaignState.SETTLED), bea, PledgeState.DROPPED)

    with count_queries(app) as many:
        page = client.get("/pledges/").get_data(as_text=True)
    # Every kind of line is there, so that every one is counted.
    for text in (
        "Change or cancel",
        "Add your card",
        "Fix the payment",
        "Give your address",
        "Ships to Bea Backer, Lyon (FR).",
        "Order: production run",
        "tracking TRK-1",
        "Delivered on",
        "Your rating: 4/5",
        "Rate this product",
        "Order cancelled.",
        "Refunded.",
        "Cancelled: nothing was charged.",
        "Dropped:",
    ):
        assert text in page, text

    shown = "\n".join(many)
    assert len(few) == len(many) <= LIMIT, shown
    # The survey banner is not shown here (the page lists each survey waiting, beside its
    # pledge): nothing on surveys but production's one statement.
    assert not [s for s in empty if "surveys" in s], "\n".join(empty)
