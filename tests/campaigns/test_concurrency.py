"""Overselling is impossible whatever the concurrency, on PostgreSQL (CI sets TEST_DATABASE_URL)."""

import threading

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.campaigns import services
from marketplace.campaigns.models import Campaign, CampaignVariant, Pledge, PledgeState
from marketplace.kernel.extensions import db
from tests.helpers import Auth, csrf_token, needs_postgresql, pledge_row

pytestmark = [
    pytest.mark.live_db,
    needs_postgresql("row-level concurrency needs"),
]


def test_two_hundred_simultaneous_pledges_on_a_variant_limited_to_fifty(
    app, ctx, make_user, make_campaign, monkeypatch
):
    # One backer makes all of them: the per-account share is not what is tested here.
    monkeypatch.setitem(app.config, "LIMITED_UNITS_PER_ACCOUNT", 1000)
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


def test_fifty_pairs_swapping_variants_in_opposite_directions_at_once(
    app, ctx, make_user, make_campaign
):
    """Backer X moves from Red to Blue while backer Y moves from Blue to Red, at the same
    instant: each change gives back units of one variant and takes units of the other, so
    two changes taking the rows in opposite orders would deadlock (a 500). Each must either
    succeed or be refused with a clear 409, and the counts must stay exact."""
    pairs = 50
    campaign_id = make_campaign(variants=(("Red", 120), ("Blue", 120)), goal=10)
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        red, blue = sorted(campaign.variants, key=lambda v: v.label != "Red")
        movers = []  # (email, pledge id, variant to move to)
        for n in range(pairs):
            for start, goal, name in ((red, blue, "x"), (blue, red, "y")):
                email = f"swap-{name}{n}@example.com"
                backer = make_user(email)
                pledge = pledge_row(
                    campaign,
                    start,
                    backer,
                    1,
                    state=PledgeState.ACTIVE,
                    idempotency_key=f"swap-{name}-{n:04d}-pledge-key",
                    payment_method_id="pm_card_visa",
                    card_summary="Visa •••• 4242",
                )
                start.reserved_units += 1
                db.session.add(pledge)
                db.session.flush()
                movers.append((email, pledge.id, goal.id))
        db.session.commit()
        red_id, blue_id = red.id, blue.id

    clients = []
    for email, _pledge_id, _goal in movers:
        client = app.test_client()
        assert Auth(client).login(email).status_code == 302
        clients.append((client, csrf_token(client, "/pledges/")))

    statuses: list[int] = []
    errors: list[str] = []

    def move(index: int, barrier: threading.Barrier) -> None:
        client, token = clients[index]
        _email, pledge_id, goal = movers[index]
        barrier.wait(timeout=60)
        try:
            response = client.post(
                f"/pledges/{pledge_id}/change",
                data={"csrf_token": token, "variant_id": goal, "quantity": 1},
            )
        except Exception as exc:  # the test client re-raises what a server answers with a 500
            errors.append(repr(exc)[:300])
        else:
            statuses.append(response.status_code)

    for n in range(pairs):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=move, args=(2 * n + i, barrier)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)

    assert errors == []
    assert len(statuses) == 2 * pairs
    assert set(statuses) <= {302, 409}, sorted(set(statuses))
    with ctx():
        for variant_id in (red_id, blue_id):
            variant = db.session.get(CampaignVariant, variant_id)
            counted = db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(Pledge.quantity), 0)).where(
                    Pledge.variant_id == variant_id, Pledge.state == PledgeState.ACTIVE
                )
            )
            assert variant.reserved_units == counted <= variant.unit_limit
        moved = db.session.scalar(
            sa.select(sa.func.count()).where(
                Pledge.campaign_id == campaign_id,
                sa.or_(
                    sa.and_(Pledge.idempotency_key.like("swap-x-%"), Pledge.variant_id == blue_id),
                    sa.and_(Pledge.idempotency_key.like("swap-y-%"), Pledge.variant_id == red_id),
                ),
            )
        )
        assert moved == statuses.count(302)
