"""Demo campaigns: one live, one funded, one failed, on the demo's selected designs, made
through the services with the clock set back where the story needs it."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app

from designs import images
from designs.models import Design, DesignState
from dev.demo.accounts import demo_backers, demo_operator
from marketplace.campaigns import services
from marketplace.campaigns.mockups import store_mockup
from marketplace.campaigns.models import SHIPPING_ZONES, Campaign, Pledge
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
            **page_of(design, product, start + dt.timedelta(days=days)),
        )
        # One pledge per backer, as people pledge: with more units than backers, some take two.
        pledges = [
            (backer, len(range(n, units, len(backers)))) for n, backer in enumerate(backers[:units])
        ]
        campaign_in_the_past(design, operator, terms, pledges, "demo-pledge", now)
        created += 1
    return created


def page_of(design: Design, product: str, deadline: dt.datetime) -> dict:
    """What a demo campaign's page tells backers, written as an operator would."""
    month = (deadline + dt.timedelta(days=45)).date().replace(day=1)
    return {
        "story": (
            f"## {design.title}, made to order\n\n{design.description}\n\n"
            f"The **{product}** is made only if enough of you pledge: at the deadline, "
            "cards are charged and the run goes to our partner workshop in Roubaix.\n\n"
            "- Printed with water-based inks\n- Packed without plastic\n"
            "- The designer earns a royalty on every unit"
        ),
        "risks": (
            "Our workshop needs four weeks from the order. A late delivery of blank stock "
            "could add two weeks: we would post an update the day we knew."
        ),
        "faqs": [
            ("When am I charged?", "Only if the goal is reached, on the deadline."),
            (
                "Can I change my size?",
                "Yes, until the deadline, in *My pledges*. After it, write to us.",
            ),
        ],
        "delivery_month": month,
        "ships_from": "FR",
        "shipping_cents": dict(zip(SHIPPING_ZONES, (450, 900, 1500), strict=True)),
    }


def demo_mockup(design: Design, product: str) -> list[services.ProductImage]:
    upload_dir = current_app.config["UPLOAD_DIR"]
    stored = store_mockup(
        images.artwork_path(upload_dir, design.artwork_key, "detail"), product, upload_dir
    )
    return [services.ProductImage(stored.key, stored.width, stored.height, is_mockup=True)]


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
    campaign = services.open_campaign(
        design.id, operator, terms, demo_mockup(design, terms.product_name), now=terms.starts_at
    )
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
