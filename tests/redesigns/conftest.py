"""A produced design with its ratings: what a redesign challenge starts from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from marketplace.campaigns.models import Campaign, CampaignState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.production.models import Order, ProductionRun
from marketplace.redesigns import services
from marketplace.reviews.models import Rating
from tests.helpers import made_campaign


@dataclass
class Produced:
    design_id: int
    campaign_id: int
    designer_id: int
    operator_id: int
    backer_ids: list[int]
    rating_ids: list[int]


@pytest.fixture
def make_produced(ctx, make_user, make_campaign):
    """A design whose campaign is in ``state`` (delivered by default), one delivered order
    per backer, and a rating of each of the first ``len(scores)`` orders."""
    counter = iter(range(1, 10_000))

    def make(
        scores=(2, 2, 3, 1, 2, 3, 2, 4, 2, 2),
        *,
        backers: int | None = None,
        state: CampaignState = CampaignState.DELIVERED,
        designer_id: int | None = None,
    ) -> Produced:
        n = next(counter)
        if designer_id is None:
            designer_id = make_user(f"maker{n}@example.com", designer=True, name=f"Maker {n}")
        operator_id = make_user(f"boss{n}@example.com", operator=True, name="Boss")
        backer_ids = [
            make_user(f"b{n}-{i}@example.com", name=f"Backer {i}")
            for i in range(backers if backers is not None else len(scores))
        ]
        made = state if state.value in ("in_production", "shipped") else CampaignState.DELIVERED
        campaign_id = make_campaign(state=made, designer_id=designer_id)
        made_campaign(ctx, campaign_id, backer_ids, operator_id, royalty_cents=100)
        with ctx():
            campaign = db.session.get(Campaign, campaign_id)
            # A campaign whose products were not made has its orders all the same: only its
            # state tells the rule apart.
            campaign.state = state
            orders = db.session.scalars(
                sa.select(Order)
                .join(ProductionRun, ProductionRun.id == Order.run_id)
                .where(ProductionRun.campaign_id == campaign_id)
                .order_by(Order.id)
            ).all()
            ratings = []
            for order, score in zip(orders, scores, strict=False):
                rating = Rating(
                    order_id=order.id,
                    user_id=order.pledge.backer_id,
                    campaign_id=campaign_id,
                    design_id=campaign.design_id,
                    score=score,
                    review=f"Score {score}: the print faded after two washes.",
                )
                db.session.add(rating)
                ratings.append(rating)
            db.session.commit()
            return Produced(
                campaign.design_id,
                campaign_id,
                designer_id,
                operator_id,
                backer_ids,
                [r.id for r in ratings],
            )

    return make


@pytest.fixture
def open_challenge(ctx):
    """Open a challenge through the service, committed; returns its id."""

    def open_(produced: Produced, days: int = 14, ratings: int = 2) -> int:
        from marketplace.accounts.models import User

        with ctx():
            challenge = services.open_challenge(
                produced.design_id,
                db.session.get(User, produced.operator_id),
                "The print fades: make it last, keep the colours.",
                utcnow() + dt.timedelta(days=days),
                produced.rating_ids[:ratings],
            )
            db.session.commit()
            return challenge.id

    return open_
