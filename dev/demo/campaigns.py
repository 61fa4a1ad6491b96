"""Demo campaigns: one live, one funded, one failed, on the demo's selected designs, made
through the services with the clock set back where the story needs it."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from designs.models import Design, DesignState
from dev.demo.accounts import demo_backers, demo_operator
from marketplace.campaigns import services
from marketplace.campaigns.models import Campaign, Pledge
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db

# (design title, product name, goal, days before now it started, length in days, units pledged)
STORIES = [
    ("Analytical engine", "Analytical engine poster", 30, 3, 20, 18),
    ("Paper cranes", "Paper cranes tee", 12, 25, 20, 15),
    ("Solar sails", "Solar sails hoodie", 40, 30, 21, 9),
]


def seed_campaigns() -> int:
    if db.session.scalar(sa.select(Campaign.id).limit(1)):
        return 0
    operator = demo_operator()
    backers = demo_backers()
    now = utcnow().replace(microsecond=0)
    created = 0
    for title, product, goal, started_days_ago, days, units in STORIES:
        design = selected_design(title)
        if design is None:
            continue
        start = now - dt.timedelta(days=started_days_ago)
        terms = services.CampaignTerms(
            product_name=product,
            unit_price_cents=2800,
            currency="EUR",
            goal_units=goal,
            variants=[(v.label, 40 if i == 0 else None) for i, v in enumerate(design.variants)],
            starts_at=start,
            deadline=start + dt.timedelta(days=days),
            production_cost_cents=1900,
            royalty_cents=400,
            platform_cents=500,
        )
        # One pledge per backer, as people pledge: with more units than backers, some take two.
        pledges = [
            (backer, len(range(n, units, len(backers)))) for n, backer in enumerate(backers[:units])
        ]
        campaign_in_the_past(design, operator, terms, pledges, "demo-pledge", now)
        created += 1
    return created


def selected_design(title: str) -> Design | None:
    """The demo design a campaign story is told on, once the designs' seeding selected it."""
    return db.session.scalar(
        sa.select(Design).where(Design.title == title, Design.state == DesignState.SELECTED)
    )


def pledge_with_saved_card(campaign, backer, variant, quantity: int, key: str) -> Pledge:
    """A pledge as if its backer had saved a card in the browser: the demo has no browser."""
    pledge = services.new_pledge(campaign, backer, variant, quantity, key)
    # Stripe's test PaymentMethod, known to localstripe and to Stripe's test mode.
    pledge.payment_method_id, pledge.card_summary = "pm_card_visa", "Visa •••• 4242"
    db.session.add(pledge)
    db.session.flush()
    services._reserve(variant.id, quantity)
    services.pledge_transition(pledge, "card_saved", backer)
    return pledge


def campaign_in_the_past(design, operator, terms, pledges, key: str, now) -> list[Pledge]:
    """Open a campaign as of ``terms.starts_at``, pledge ``(backer, quantity)`` on its
    variants in turn, and close it now if its deadline has passed (funded or failed)."""
    campaign = services.open_campaign(design.id, operator, terms, now=terms.starts_at)
    made = [
        pledge_with_saved_card(
            campaign,
            backer,
            campaign.variants[n % len(campaign.variants)],
            quantity,
            f"{key}-{campaign.id}-{n:04d}",
        )
        for n, (backer, quantity) in enumerate(pledges)
    ]
    db.session.expire(campaign)
    services.close_due(campaign.id, now=now)
    return made
