"""Settlement through a Stripe that fails the way Stripe does: 429s, 5xx before or after
acting, answers that never come (timeouts before or after acting, connections dropped after
acting), on each of the calls a charge makes. Whatever happens, each pledge ends collected
by exactly one succeeded PaymentIntent, the one its attempt recorded.

The faults come from :mod:`tests.payments.faultproxy`, over real HTTP. A job that gives up
is resumed the way production resumes it: the sweep finds its attempt stuck in ``started``
and enqueues the charge again (RQ's own delayed retries need the scheduler, which the
in-process burst worker does not run).
"""

import datetime as dt

import pytest
import sqlalchemy as sa

from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from payments import charging, jobs
from payments.models import AttemptStatus, ChargeAttempt
from tests.helpers import add_pledges, succeeded_intents
from tests.payments.faultproxy import CREATE, LIST, Fault


def close(ctx, campaign_id: int) -> None:
    with ctx():
        assert campaigns.close_now(campaign_id, None) == CampaignState.FUNDED
        db.session.commit()


def unfinished(ctx, pledge_ids) -> int:
    with ctx():
        return db.session.scalar(
            sa.select(sa.func.count()).where(
                Pledge.id.in_(pledge_ids),
                Pledge.state.in_((PledgeState.ACTIVE, PledgeState.CHARGING)),
            )
        )


def settle(app, ctx, run_jobs, pledge_ids, rounds: int = 10) -> int:
    """Run the settlement queue, then sweep and run it again while charges are unfinished;
    returns how many attempts the sweeps had to resume."""
    run_jobs(("settlement",))
    # Each sweep looks further ahead than the last by more than the reconcile delay: an
    # attempt the previous sweep resumed (its clock set to that sweep's time) is due again.
    step = dt.timedelta(seconds=app.config["SETTLEMENT_RECONCILE_SECONDS"] + 1)
    later = utcnow()
    resumed = 0
    for _ in range(rounds):
        if not unfinished(ctx, pledge_ids):
            break
        later = max(later, utcnow()) + step
        with ctx():
            resumed += jobs.sweep_settlements(now=later)["reconciled"]
        run_jobs(("settlement",))
    return resumed


def assert_charged_once(ctx, campaign_id: int, pledge_ids) -> None:
    with ctx():
        states = [db.session.get(Pledge, pid).state for pid in pledge_ids]
        assert states == [PledgeState.COLLECTED] * len(pledge_ids)
        assert db.session.get(Campaign, campaign_id).state == CampaignState.SETTLED
        charged = succeeded_intents()
        assert {k: len(v) for k, v in charged.items()} == {str(p): 1 for p in pledge_ids}
        # Our records name the very intents Stripe charged, and no attempt was started
        # twice for one pledge.
        attempts = db.session.scalars(
            sa.select(ChargeAttempt).where(ChargeAttempt.pledge_id.in_(pledge_ids))
        ).all()
        assert sorted(
            (str(a.pledge_id), a.number, a.status, a.payment_intent_id) for a in attempts
        ) == sorted(
            (pid, 1, AttemptStatus.SUCCEEDED, intents[0].id) for pid, intents in charged.items()
        )
        for pledge_id in pledge_ids:
            pledge = db.session.get(Pledge, pledge_id)
            assert charged[str(pledge_id)][0].amount == pledge.amount_cents


@pytest.mark.parametrize("fault", list(Fault), ids=[f.value for f in Fault])
@pytest.mark.parametrize("route", [CREATE, LIST], ids=lambda r: r.name)
def test_each_fault_on_each_call_still_charges_each_pledge_once(
    app, ctx, make_user, make_campaign, fault_proxy, run_jobs, monkeypatch, route, fault
):
    """A charge is one request (the intent created and confirmed at once); when its outcome
    is unknown, the attempt's intent is looked for in the customer's list before anything
    is sent again."""
    # Two tries per call instead of four: the same retry path, with half the hangs to wait.
    monkeypatch.setitem(app.config, "STRIPE_MAX_ATTEMPTS", 2)
    campaign_id = make_campaign(goal=3)
    backers = [make_user(f"backer{i}@example.com") for i in range(3)]
    pledge_ids = add_pledges(ctx, campaign_id, [(b, "M", 1, "visa") for b in backers])
    tries = app.config["STRIPE_MAX_ATTEMPTS"]
    if route is LIST:
        # Every charge goes through at Stripe but answers 500, on each try (Stripe answers a
        # key's first result again): each is settled by looking its intent up.
        fault_proxy.script(CREATE, Fault.ERROR_AFTER, tries * len(pledge_ids))
    # One more than a call's tries: the first pledge's call gives up, the second pledge's
    # call succeeds on its retry.
    times = tries + 1
    fault_proxy.script(route, fault, times)
    close(ctx, campaign_id)

    resumed = settle(app, ctx, run_jobs, pledge_ids)

    assert fault_proxy.count(route, fault) == times
    if route is LIST or not fault.forwards:
        # The call that gave up left its attempt to the sweep, which resumed it.
        assert resumed >= 1
    else:
        # Stripe charged although the answer was lost: the lookup found the intent at once.
        assert fault_proxy.forwarded["list"] >= 1
    # One charging request per pledge reached Stripe, or the same one again under its key.
    assert fault_proxy.forwarded["confirm"] == 0
    assert_charged_once(ctx, campaign_id, pledge_ids)


def test_random_faults_with_every_charge_enqueued_twice_charge_each_pledge_once(
    app, ctx, make_user, make_campaign, fault_proxy, run_jobs, monkeypatch
):
    # With two tries per call, calls often give up and their jobs are resumed later.
    monkeypatch.setitem(app.config, "STRIPE_MAX_ATTEMPTS", 2)
    campaign_id = make_campaign(goal=20)
    backers = [make_user(f"backer{i}@example.com") for i in range(20)]
    pledge_ids = add_pledges(
        ctx, campaign_id, [(b, ("S", "M")[i % 2], 1 + i % 2, "visa") for i, b in enumerate(backers)]
    )
    close(ctx, campaign_id)
    with ctx():
        for pledge_id in pledge_ids:
            charging.enqueue_charge(pledge_id, "settlement")
        db.session.commit()  # a second job per pledge, besides the fan-out's
    fault_proxy.randomly((CREATE, LIST), {fault: 0.08 for fault in Fault}, seed=3)

    settle(app, ctx, run_jobs, pledge_ids, rounds=15)

    fault_proxy.clear()
    assert fault_proxy.count() >= 10, fault_proxy.injected
    # Among them, charges Stripe made without our hearing of it.
    assert sum(fault_proxy.count(CREATE, f) for f in Fault if f.forwards) >= 1
    assert_charged_once(ctx, campaign_id, pledge_ids)


def test_a_card_gone_at_stripe_is_declined_rather_than_retried_for_ever(
    app, ctx, make_user, make_campaign, stripe_server, run_jobs
):
    """The backer's saved card no longer exists at Stripe (deleted since the pledge), so
    creating the intent is refused. That is a failed card like any other: the backer gets
    the fix window, the other pledges are collected, and the campaign still settles."""
    campaign_id = make_campaign(goal=1)
    kept, gone = add_pledges(
        ctx,
        campaign_id,
        [
            (make_user("kept@example.com"), "S", 1, "visa"),
            (make_user("gone@example.com"), "S", 1, "visa"),
        ],
    )
    with ctx():
        db.session.get(Pledge, gone).payment_method_id = "pm_deleted_since_the_pledge"
        db.session.commit()
    close(ctx, campaign_id)

    settle(app, ctx, run_jobs, [kept, gone])

    with ctx():
        assert db.session.get(Pledge, gone).state == PledgeState.ERRORED
        fix_days = dt.timedelta(days=app.config["CARD_FIX_DAYS"], minutes=1)
        jobs.sweep_settlements(now=db.session.get(Campaign, campaign_id).closed_at + fix_days)
        assert [db.session.get(Pledge, p).state for p in (kept, gone)] == [
            PledgeState.COLLECTED,
            PledgeState.DROPPED,
        ]
        assert db.session.get(Campaign, campaign_id).state == CampaignState.SETTLED
        assert {k: len(v) for k, v in succeeded_intents().items()} == {str(kept): 1}


@pytest.mark.parametrize(
    ("fault", "replaced"),
    [(Fault.ERROR, True), (Fault.RATE_LIMITED, True), (Fault.HANG, False)],
    ids=["stripe-500", "429", "timeout"],
)
def test_the_key_is_replaced_only_when_stripe_answered_and_holds_nothing(
    app, ctx, make_user, make_campaign, fault_proxy, run_jobs, monkeypatch, fault, replaced
):
    """Stripe answers the same error again to the same key, so after its own 500 (or a 429)
    with no intent found for the attempt, the next try needs a new key. After a timeout the
    request may still be running there: the same key goes again, so that it cannot charge
    twice. Either way the attempt stays the same one, and the pledge is charged once."""
    monkeypatch.setitem(app.config, "STRIPE_MAX_ATTEMPTS", 1)
    campaign_id = make_campaign(goal=1)
    (pledge_id,) = add_pledges(ctx, campaign_id, [(make_user("ada@example.com"), "M", 1, "visa")])
    fault_proxy.script(CREATE, fault, 1)
    close(ctx, campaign_id)
    run_jobs(("settlement",))
    run_jobs(("settlement",))
    with ctx():
        attempt = db.session.scalar(sa.select(ChargeAttempt))
        assert (attempt.status, db.session.get(Pledge, pledge_id).state) == (
            AttemptStatus.STARTED,
            PledgeState.CHARGING,
        )

    settle(app, ctx, run_jobs, [pledge_id])

    # The charging requests: the failed one, then the one that went through.
    charging_keys = [k for k in fault_proxy.keys if k.startswith(f"pledge-{pledge_id}-")]
    assert len(charging_keys) == 2
    assert (charging_keys[0] != charging_keys[1]) is replaced
    assert fault_proxy.forwarded["list"] >= 1  # looked for before anything was sent again
    assert_charged_once(ctx, campaign_id, [pledge_id])
