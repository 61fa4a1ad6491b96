"""Settlement with several charges in flight per worker: a batch job charges its pledges
through a pool of threads, each with its own database session, and still charges each
pledge once, under the rate limit shared by every worker, whatever Stripe answers.

The fault proxy in front of localstripe slows every request down, as real Stripe does
(hundreds of milliseconds, not loopback's few), so that charges really overlap, and counts
what arrives when."""

import pytest
import sqlalchemy as sa

from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import CampaignState, Pledge, PledgeState
from marketplace.kernel.extensions import db
from payments import charging
from tests.helpers import add_pledges, needs_postgresql
from tests.payments.faultproxy import CREATE, LIST, Fault
from tests.payments.test_faults import assert_charged_once, settle

pytestmark = [pytest.mark.live_db, needs_postgresql("threads with a session each need")]


@pytest.fixture
def funded(app, ctx, make_user, make_campaign, monkeypatch):
    """A funded campaign of 24 pledges, in batches of 12 charged 6 at a time."""
    monkeypatch.setitem(app.config, "SETTLEMENT_BATCH", 12)
    monkeypatch.setitem(app.config, "SETTLEMENT_CONCURRENCY", 6)
    campaign_id = make_campaign(goal=24, price=2500, shipping=(450, 900, 1500))
    backers = [make_user(f"backer{i}@example.com") for i in range(24)]
    zones = ("domestic", "eu", "world")
    pledge_ids = add_pledges(
        ctx, campaign_id, [(b, "M", 1 + i % 2, "visa", zones[i % 3]) for i, b in enumerate(backers)]
    )

    def close():
        with ctx():
            assert campaigns.close_now(campaign_id, None) == CampaignState.FUNDED
            db.session.commit()

    return campaign_id, pledge_ids, close


def rate_limit(app, monkeypatch, per_second: int) -> None:
    monkeypatch.setitem(app.config, "STRIPE_RATE_LIMIT", per_second)
    app.extensions.pop("stripe_limiter", None)  # built from the setting on first use


def test_a_batch_keeps_several_charges_in_flight_and_charges_each_once(
    app, ctx, fault_proxy, run_jobs, funded
):
    campaign_id, pledge_ids, close = funded
    fault_proxy.delay_before = 0.15
    close()

    run_jobs(("settlement",))  # the fan-out: two batch jobs of 12
    with ctx():
        assert charging.charge_concurrency() == 6
    run_jobs(("settlement",))  # the batches, in this one worker process

    # One worker, one job at a time, and yet several requests at Stripe at once.
    assert fault_proxy.max_in_flight >= 4, fault_proxy.max_in_flight
    assert_charged_once(ctx, campaign_id, pledge_ids)


def test_the_shared_rate_limit_holds_with_charges_in_flight_and_429s_are_absorbed(
    app, ctx, fault_proxy, run_jobs, funded, monkeypatch
):
    """Counted where the requests arrive: in no second do more reach "Stripe" than the
    limit, although six threads are ready to send; and a burst of 429s is waited out with
    jittered backoff, every pledge charged once in the end."""
    campaign_id, pledge_ids, close = funded
    rate_limit(app, monkeypatch, 8)
    fault_proxy.script(CREATE, Fault.RATE_LIMITED, 6)
    fault_proxy.arrivals.clear()  # the cards saved for the pledges were not settlement's
    close()

    settle(app, ctx, run_jobs, pledge_ids)

    assert fault_proxy.count(CREATE, Fault.RATE_LIMITED) == 6
    assert fault_proxy.busiest_second() <= 8, fault_proxy.busiest_second()
    assert_charged_once(ctx, campaign_id, pledge_ids)


def test_a_pledge_that_fails_does_not_hold_back_the_rest_of_its_batch(
    app, ctx, fault_proxy, run_jobs, funded, monkeypatch
):
    """Stripe keeps failing for one charge: the other pledges of its batch are charged at
    once, the job fails (its retry or the sweep resumes the one left), and in the end each
    pledge is charged once."""
    monkeypatch.setitem(app.config, "STRIPE_MAX_ATTEMPTS", 1)  # one try: a 500 gives up
    campaign_id, pledge_ids, close = funded
    fault_proxy.script(CREATE, Fault.ERROR, 1)
    close()

    run_jobs(("settlement",))
    run_jobs(("settlement",))
    with ctx():
        states = db.session.scalars(sa.select(Pledge.state).where(Pledge.id.in_(pledge_ids))).all()
    assert states.count(PledgeState.COLLECTED) == len(pledge_ids) - 1
    assert states.count(PledgeState.CHARGING) == 1

    settle(app, ctx, run_jobs, pledge_ids)
    assert_charged_once(ctx, campaign_id, pledge_ids)


def test_every_kind_of_fault_with_charges_in_flight_charges_each_pledge_once(
    app, ctx, fault_proxy, run_jobs, funded, monkeypatch
):
    """The fault tests' random mix (429, Stripe's 500 before and after it acted, timeouts
    before and after, answers dropped, the 500 replayed under its key) while a worker keeps
    six charges in flight, with a second job enqueued for every pledge besides its batch."""
    monkeypatch.setitem(app.config, "STRIPE_MAX_ATTEMPTS", 2)
    campaign_id, pledge_ids, close = funded
    close()
    with ctx():
        for pledge_id in pledge_ids:
            charging.enqueue_charge(pledge_id, "settlement")
        db.session.commit()
    fault_proxy.randomly((CREATE, LIST), {fault: 0.08 for fault in Fault}, seed=11)
    # Slow enough that the batch's threads overlap at Stripe whatever else the machine does
    # (without it, a loaded machine once saw only two in flight).
    fault_proxy.delay_before = 0.15

    settle(app, ctx, run_jobs, pledge_ids, rounds=15)

    fault_proxy.clear()
    assert fault_proxy.count() >= 10, fault_proxy.injected
    assert sum(fault_proxy.count(CREATE, f) for f in Fault if f.forwards) >= 1
    assert fault_proxy.max_in_flight >= 3, fault_proxy.max_in_flight
    assert_charged_once(ctx, campaign_id, pledge_ids)
