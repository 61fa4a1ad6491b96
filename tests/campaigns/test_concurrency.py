"""Overselling is impossible whatever the concurrency, on PostgreSQL (CI sets TEST_DATABASE_URL)."""

import threading

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.campaigns import services
from marketplace.campaigns.models import CampaignVariant, Pledge, PledgeState
from marketplace.kernel.extensions import db
from tests.helpers import needs_postgresql

pytestmark = [
    pytest.mark.live_db,
    needs_postgresql("row-level concurrency needs"),
]


def test_two_hundred_simultaneous_pledges_on_a_variant_limited_to_fifty(
    app, ctx, make_user, make_campaign
):
    campaign_id = make_campaign(variants=(("Limited", 50),), goal=50)
    backer = make_user("crowd@example.com")
    with ctx():
        variant_id = db.session.scalar(
            sa.select(CampaignVariant.id).where(CampaignVariant.campaign_id == campaign_id)
        )
        pledges = [
            Pledge(
                campaign_id=campaign_id,
                backer_id=backer,
                variant_id=variant_id,
                quantity=1,
                amount_cents=2500,
                currency="EUR",
                idempotency_key=f"crowd-pledge-number-{n:04d}",
            )
            for n in range(200)
        ]
        db.session.add_all(pledges)
        db.session.commit()
        pledge_ids = [p.id for p in pledges]

    outcomes: list[str] = []
    barrier = threading.Barrier(len(pledge_ids))

    def activate(pledge_id: int) -> None:
        # Start together, then each takes a pooled connection: the pool (not the test)
        # decides how many run at the same instant, as in production.
        barrier.wait(timeout=60)
        with app.app_context():
            pledge = db.session.get(Pledge, pledge_id)
            user = db.session.get(User, backer)
            try:
                services.activate_pledge(pledge, user, "pm_card_visa", "Visa •••• 4242")
                db.session.commit()
                outcomes.append("active")
            except services.SoldOut:
                db.session.rollback()
                outcomes.append("sold out")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=activate, args=(pid,)) for pid in pledge_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)

    assert sorted(set(outcomes)) == ["active", "sold out"]
    assert outcomes.count("active") == 50 and len(outcomes) == 200
    with ctx():
        active = db.session.scalar(
            sa.select(sa.func.count()).where(
                Pledge.campaign_id == campaign_id, Pledge.state == PledgeState.ACTIVE
            )
        )
        assert active == 50
        assert db.session.get(CampaignVariant, variant_id).reserved_units == 50
