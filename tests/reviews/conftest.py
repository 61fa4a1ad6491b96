"""A delivered product and its backers, written straight to the database."""

from __future__ import annotations

import datetime as dt

import pytest

from marketplace.campaigns.models import Campaign, CampaignState, PledgeState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.production.models import Order, OrderState, ProductionRun, RunState
from tests.helpers import pledge_row


@pytest.fixture
def delivered(app, ctx, make_user, make_campaign):
    """A delivered campaign by "Dee Signer": ada's and ben's orders delivered 20 days ago,
    cy's still on its way. Returns the ids."""
    designer = make_user("designer@example.com", designer=True, name="Dee Signer")
    campaign_id = make_campaign(state=CampaignState.DELIVERED, designer_id=designer)
    operator = make_user("ops@example.com", operator=True)
    backers = {n: make_user(f"{n}@example.com", name=n.title()) for n in ("ada", "ben", "cy")}
    now = utcnow()
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        run = ProductionRun(
            campaign_id=campaign_id,
            state=RunState.DELIVERED,
            manufacturer="Atelier Lyon",
            reference="Q-1",
            expected_ship_date=(now - dt.timedelta(days=30)).date(),
            created_by_id=operator,
        )
        db.session.add(run)
        orders, pledges = {}, {}
        for name, backer_id in backers.items():
            pledge = pledge_row(
                campaign,
                campaign.variants[0],
                backer_id,
                1,
                state=PledgeState.COLLECTED,
                idempotency_key=f"key-{name}-000000000001",
            )
            db.session.add(pledge)
            db.session.flush()
            on_its_way = name == "cy"
            order = Order(
                run_id=run.id,
                pledge_id=pledge.id,
                state=OrderState.SHIPPED if on_its_way else OrderState.DELIVERED,
                shipped_at=now - dt.timedelta(days=25),
                delivered_at=None if on_its_way else now - dt.timedelta(days=20),
            )
            db.session.add(order)
            db.session.flush()
            orders[name], pledges[name] = order.id, pledge.id
        db.session.commit()
        design_id = campaign.design_id
    return {
        "campaign": campaign_id,
        "design": design_id,
        "designer": designer,
        "operator": operator,
        "users": backers,
        "orders": orders,
        "pledges": pledges,
    }
