"""Demo production: two campaigns charged for real through the settlement jobs (against
localstripe under ``make run``), with surveys answered and a production run each: one in
production, one delivered. So a newcomer sees every step of the pipeline."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app

from dev.demo.accounts import demo_backers, demo_operator
from dev.demo.campaigns import campaign_in_the_past, page_of, selected_design
from marketplace.accounts.models import User
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import Pledge
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.production import services as production
from marketplace.production.models import Order, ProductionRun
from payments import jobs

# (design title, product, goal, pledges, the run's last step)
STORIES = [
    ("Great wave", "Great wave tee", 8, 12, "deliver"),
    ("Lovelace notes", "Lovelace notes poster", 6, 8, "start"),
]
STEPS = ("order", "start", "ship", "deliver")


def seed_production() -> int:
    if not current_app.config.get("STRIPE_SECRET_KEY"):
        return 0  # charging needs a Stripe (localstripe under make run)
    if db.session.scalar(sa.select(ProductionRun.id).limit(1)):
        return 0
    operator = demo_operator()
    backers = demo_backers()
    now = utcnow().replace(microsecond=0)
    created = 0
    for title, product, goal, count, last_step in STORIES:
        design = selected_design(title)
        if design is None or not backers:
            continue
        start = now - dt.timedelta(days=45)
        terms = campaigns.CampaignTerms(
            product_name=product,
            unit_price_cents=3000,
            currency="EUR",
            goal_units=goal,
            variants=[(v.label, None) for v in design.variants],
            starts_at=start,
            deadline=start + dt.timedelta(days=21),
            production_cost_cents=2000,
            royalty_cents=450,
            platform_cents=550,
            **page_of(design, product, start + dt.timedelta(days=21)),
        )
        made = campaign_in_the_past(
            design,
            operator,
            terms,
            [(backers[n % len(backers)], 1 + n % 2) for n in range(count)],
            "demo-run-pledge",
            now,
        )
        pledge_ids = [pledge.id for pledge in made]
        campaign = made[0].campaign
        db.session.commit()
        # The settlement's own job, run here so that the story is complete at once.
        for pledge_id in pledge_ids:
            jobs.charge_pledge(pledge_id)
        for pledge_id in pledge_ids:
            backer = db.session.get(User, db.session.get(Pledge, pledge_id).backer_id)
            production.answer_survey(
                pledge_id,
                backer,
                {
                    "full_name": backer.display_name,
                    "address_line1": f"{10 + pledge_id} rue de la République",
                    "postal_code": "69002",
                    "city": "Lyon",
                    "country": "FR",
                },
                variant_confirmed=True,
            )
        run = production.launch_run(
            campaign.id,
            operator,
            manufacturer="Atelier Croix-Rousse",
            reference=f"DEMO-{campaign.id:04d}",
            expected_ship_date=(now + dt.timedelta(days=20)).date(),
        )
        for event in STEPS[: STEPS.index(last_step) + 1]:
            if event == "ship":
                orders = db.session.scalars(sa.select(Order).where(Order.run_id == run.id)).all()
                production.ship_orders(
                    run.id, operator, [(o.id, f"COLIS-{o.id:06d}") for o in orders]
                )
            production.move_run(run.id, operator, event)
        db.session.commit()
        created += 1
    return created
