"""Settlement against a real localstripe, run by real RQ burst workers: a funded campaign
charges each counted pledge exactly once, a failed one charges nobody, and failed cards
follow Kickstarter's rule (fix within the window, or the pledge is dropped)."""

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent, OutboxMail
from marketplace.kernel.queues import redis_connection
from payments import charging, gateway, jobs, refunds
from payments.models import AttemptStatus, ChargeAttempt
from tests.helpers import (
    add_pledges,
    authenticate,
    browser_confirms,
    csrf_token,
    saved_card,
    succeeded_intents,
)


@pytest.fixture
def backers(make_user):
    return [make_user(f"backer{i}@example.com", name=f"Backer {i}") for i in range(4)]


def close(ctx, campaign_id):
    with ctx():
        state = campaigns.close_now(campaign_id, None)
        db.session.commit()
        return state


def closed_with_one_pledge(ctx, make_campaign, spec):
    """A campaign of goal 1 with the one pledge ``spec`` (as add_pledges takes it), closed:
    (campaign id, pledge id)."""
    campaign_id = make_campaign(goal=1)
    (pledge_id,) = add_pledges(ctx, campaign_id, [spec])
    close(ctx, campaign_id)
    return campaign_id, pledge_id


def states(ctx, pledge_ids):
    with ctx():
        return [db.session.get(Pledge, pid).state for pid in pledge_ids]


def campaign_state(ctx, campaign_id):
    with ctx():
        return db.session.get(Campaign, campaign_id).state


def test_funded_campaign_charges_each_pledge_once_for_its_amount(
    ctx, make_campaign, backers, stripe_server, run_jobs
):
    campaign_id = make_campaign(goal=4, price=2500)
    pledge_ids = add_pledges(
        ctx,
        campaign_id,
        [(backers[0], "S", 1, "visa"), (backers[1], "M", 2, "visa"), (backers[2], "L", 3, "visa")],
    )
    with ctx():
        assert gateway.list_payment_intents() == []  # nothing before the deadline
    assert close(ctx, campaign_id) == CampaignState.FUNDED
    assert campaign_state(ctx, campaign_id) == CampaignState.SETTLING

    run_jobs(("settlement",))  # the fan-out enqueues the charges...
    run_jobs(("settlement",))  # ...which run (a burst worker picks them up in one go anyway)

    assert states(ctx, pledge_ids) == [PledgeState.COLLECTED] * 3
    assert campaign_state(ctx, campaign_id) == CampaignState.SETTLED
    with ctx():
        charged = succeeded_intents()
        assert {k: len(v) for k, v in charged.items()} == {str(p): 1 for p in pledge_ids}
        amounts = {
            k: (v[0].amount, v[0].currency, v[0].metadata["campaign_id"])
            for k, v in charged.items()
        }
        assert amounts == {
            str(pledge_ids[0]): (2500, "eur", str(campaign_id)),
            str(pledge_ids[1]): (5000, "eur", str(campaign_id)),
            str(pledge_ids[2]): (7500, "eur", str(campaign_id)),
        }
        # Each move is in the audit log, attempt by attempt.
        moves = db.session.scalars(
            sa.select(AuditEvent.action).where(
                AuditEvent.subject_type == "pledge", AuditEvent.subject_id == pledge_ids[0]
            )
        ).all()
        assert moves == ["pledge.charge", "pledge.succeed"]
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(OutboxMail.kind == "charge_succeeded")
            )
            == 3
        )
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(OutboxMail.kind == "campaign_settled")
            )
            == 1
        )


def test_shipping_is_charged_with_the_units_once_per_pledge(
    ctx, make_campaign, make_user, backers, stripe_server, run_jobs
):
    """Each zone's shipping is in the amount charged at the deadline (integer minor units),
    and refunding a pledge gives back the shipping too."""
    campaign_id = make_campaign(goal=3, price=2500, shipping=(450, 900, 1500))
    pledge_ids = add_pledges(
        ctx,
        campaign_id,
        [
            (backers[0], "S", 1, "visa", "domestic"),
            (backers[1], "M", 2, "visa", "eu"),
            (backers[2], "S", 1, "visa", "world"),
        ],
    )
    close(ctx, campaign_id)
    run_jobs(("settlement",))
    run_jobs(("settlement",))
    assert states(ctx, pledge_ids) == [PledgeState.COLLECTED] * 3
    with ctx():
        charged = {k: [pi.amount for pi in v] for k, v in succeeded_intents().items()}
        assert charged == {
            str(pledge_ids[0]): [2500 + 450],
            str(pledge_ids[1]): [5000 + 900],
            str(pledge_ids[2]): [2500 + 1500],
        }
        attempts = db.session.scalars(
            sa.select(ChargeAttempt.amount_cents).order_by(ChargeAttempt.pledge_id)
        ).all()
        assert attempts == [2950, 5900, 4000]
        operator = db.session.get(User, make_user("ops@example.com", operator=True))
        refund = refunds.request_refund(pledge_ids[1], operator, "Parcel lost in transit")
        db.session.commit()
        assert jobs.execute_refund(refund.id) == "succeeded"
        assert refund.amount_cents == 5900
        assert db.session.get(Pledge, pledge_ids[1]).state == PledgeState.REFUNDED


def test_pledges_without_a_card_are_cancelled_when_the_campaign_is_funded(
    ctx, make_campaign, backers, stripe_server, run_jobs
):
    campaign_id = make_campaign(goal=1)
    (paid,) = add_pledges(ctx, campaign_id, [(backers[0], "S", 1, "visa")])
    with ctx():
        incomplete, _ = campaigns.create_pledge(
            campaign_id, db.session.get(User, backers[1]), paid_variant(campaign_id), 1, "k" * 20
        )
        db.session.commit()
        incomplete = incomplete.id
    close(ctx, campaign_id)
    run_jobs(("settlement",))
    assert states(ctx, [paid, incomplete]) == [PledgeState.COLLECTED, PledgeState.CANCELLED]
    assert campaign_state(ctx, campaign_id) == CampaignState.SETTLED


def paid_variant(campaign_id):
    return db.session.get(Campaign, campaign_id).variants[0].id


def test_failed_campaign_charges_nobody(ctx, make_campaign, backers, stripe_server, run_jobs):
    campaign_id = make_campaign(goal=10)
    pledge_ids = add_pledges(ctx, campaign_id, [(backers[0], "S", 2, "visa")])
    assert close(ctx, campaign_id) == CampaignState.FAILED
    run_jobs()
    assert states(ctx, pledge_ids) == [PledgeState.CANCELLED]
    with ctx():
        assert gateway.list_payment_intents() == []
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ChargeAttempt)) == 0


def test_every_charge_job_enqueued_twice_still_charges_once(
    app, ctx, make_campaign, backers, stripe_server, run_jobs
):
    campaign_id = make_campaign(goal=2)
    pledge_ids = add_pledges(ctx, campaign_id, [(b, "M", 1, "visa") for b in backers])
    close(ctx, campaign_id)
    with ctx():
        for pledge_id in pledge_ids:
            charging.enqueue_charge(pledge_id, "settlement")
        db.session.commit()  # 4 charge jobs now, plus the fan-out's 4 to come
    run_jobs(("settlement",))
    run_jobs(("settlement",))
    assert states(ctx, pledge_ids) == [PledgeState.COLLECTED] * 4
    with ctx():
        assert {k: len(v) for k, v in succeeded_intents().items()} == {
            str(p): 1 for p in pledge_ids
        }
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ChargeAttempt)) == 4


def test_charge_resumed_after_dying_between_each_step_charges_once(
    ctx, make_campaign, backers, stripe_server
):
    """A job that died after any commit leaves an attempt the next run resumes."""
    _, pledge_id = closed_with_one_pledge(ctx, make_campaign, (backers[0], "S", 1, "visa"))
    with ctx():
        attempt_id = charging.begin_attempt(pledge_id, "settlement")
        db.session.commit()  # died here: attempt recorded, nothing at Stripe
        assert charging.begin_attempt(pledge_id, "settlement") == attempt_id
        charging.ensure_payment_intent(attempt_id)
        db.session.commit()  # died here: an unconfirmed intent
        pi_id = db.session.get(ChargeAttempt, attempt_id).payment_intent_id
        gateway.confirm_payment_intent(pi_id)  # died after Stripe charged, before recording
        db.session.rollback()
        assert jobs.charge_pledge(pledge_id, "reconcile") == "collected"
        attempt = db.session.get(ChargeAttempt, attempt_id)
        assert (attempt.status, attempt.payment_intent_id) == (AttemptStatus.SUCCEEDED, pi_id)
        assert {k: len(v) for k, v in succeeded_intents().items()} == {str(pledge_id): 1}


def test_an_attempt_is_never_confirmed_under_another_pledge(
    ctx, make_campaign, backers, stripe_server
):
    """The charge job passes its pledge id along; a mismatched pair is refused before any
    Stripe call, so a mix-up can never charge one pledge's intent for another."""
    campaign_id = make_campaign(goal=2)
    first, second = add_pledges(
        ctx, campaign_id, [(backers[0], "S", 1, "visa"), (backers[1], "S", 1, "visa")]
    )
    close(ctx, campaign_id)
    with ctx():
        attempt_id = charging.begin_attempt(first, "settlement")
        db.session.commit()
        with pytest.raises(charging.SettlementError, match="not an attempt of pledge"):
            charging.ensure_payment_intent(attempt_id, second)
        db.session.rollback()
        assert db.session.get(ChargeAttempt, attempt_id).payment_intent_id is None
        assert charging.ensure_payment_intent(attempt_id, first)
        db.session.commit()
        with pytest.raises(charging.SettlementError, match="not an attempt of pledge"):
            charging.confirm_attempt(attempt_id, second)
        db.session.rollback()
        assert db.session.get(ChargeAttempt, attempt_id).status == AttemptStatus.STARTED
        assert succeeded_intents() == {}


def test_reconciler_settles_a_charge_left_in_charging(
    app, ctx, make_campaign, backers, stripe_server, run_jobs
):
    """The worker died after Stripe charged, and Redis lost every job: the sweep finds the
    attempt once it is older than any Stripe call, and asks Stripe what happened."""
    campaign_id, pledge_id = closed_with_one_pledge(
        ctx, make_campaign, (backers[0], "S", 1, "visa")
    )
    with ctx():
        attempt_id = charging.begin_attempt(pledge_id, "settlement")
        charging.ensure_payment_intent(attempt_id)
        db.session.commit()
        gateway.confirm_payment_intent(db.session.get(ChargeAttempt, attempt_id).payment_intent_id)
        started = db.session.get(ChargeAttempt, attempt_id).updated_at
    redis_connection(app).flushdb()

    wait = dt.timedelta(seconds=app.config["SETTLEMENT_RECONCILE_SECONDS"])
    with ctx():
        assert jobs.sweep_settlements(now=started + wait / 2)["reconciled"] == 0
        assert jobs.sweep_settlements(now=started + wait * 2)["reconciled"] == 1
    run_jobs(("settlement",))
    assert states(ctx, [pledge_id]) == [PledgeState.COLLECTED]
    assert campaign_state(ctx, campaign_id) == CampaignState.SETTLED
    with ctx():
        assert {k: len(v) for k, v in succeeded_intents().items()} == {str(pledge_id): 1}


def periodic_sweeps(app, run_jobs) -> None:
    """One round of ``flask cron``: every periodic sweep enqueued, and the settlement queue
    run (the charges and the sweeps of settlement)."""
    from marketplace.cli import make_cron

    make_cron(app).enqueue_jobs()
    run_jobs(("settlement",))


def intent_status(ctx, payment_intent_id: str) -> str:
    with ctx():
        return gateway.retrieve_payment_intent(payment_intent_id).status


def test_an_attempt_resumed_after_its_job_died_charges_the_intent_it_had_made(
    app, ctx, make_campaign, backers, stripe_server, run_jobs
):
    """The work-horse was killed after Stripe made the attempt's intent and before its id
    was committed (an intent made unconfirmed, as the two-step protocol of earlier releases
    did): the resumed attempt finds that very intent among the customer's, by the attempt
    in its metadata, and charges it; nothing is left over for the orphan sweep, and the
    backer is charged once."""
    _, pledge_id = closed_with_one_pledge(ctx, make_campaign, (backers[0], "S", 1, "visa"))
    redis_connection(app).flushdb()  # only the steps below run (no fan-out)
    with ctx():
        attempt_id = charging.begin_attempt(pledge_id, "settlement")
        db.session.commit()
        assert charging.ensure_payment_intent(attempt_id)
        made = db.session.get(ChargeAttempt, attempt_id).payment_intent_id
        db.session.rollback()  # killed here, before the commit
        assert db.session.get(ChargeAttempt, attempt_id).payment_intent_id is None

    # As far as anyone can tell, the attempt's job may be about to record it: left alone.
    periodic_sweeps(app, run_jobs)
    assert intent_status(ctx, made) == "requires_confirmation"

    with ctx():  # the reconciler's charge job resumes the attempt
        assert jobs.charge_pledge(pledge_id, "reconcile") == "collected"
        assert db.session.get(ChargeAttempt, attempt_id).payment_intent_id == made
    assert intent_status(ctx, made) == "succeeded"
    periodic_sweeps(app, run_jobs)
    with ctx():
        assert {k: [pi.id for pi in v] for k, v in succeeded_intents().items()} == {
            str(pledge_id): [made]
        }
        assert [pi.id for pi in gateway.list_payment_intents()] == [made]
        assert not db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "pledge.orphan_intent_cancelled")
        ).all()


def test_the_sweep_cancels_only_intents_no_attempt_will_confirm(
    app, ctx, make_campaign, backers, stripe_server, run_jobs
):
    """A declined charge's intent can no longer be confirmed by anyone; one waiting for the
    backer to authenticate, and intents that are not ours, are left as they are."""
    campaign_id = make_campaign(goal=1)
    declined, needs_auth = add_pledges(
        ctx,
        campaign_id,
        [(backers[0], "S", 1, "declined_at_charge"), (backers[1], "S", 1, "needs_authentication")],
    )
    close(ctx, campaign_id)
    run_jobs()
    assert states(ctx, [declined, needs_auth]) == [
        PledgeState.ERRORED,
        PledgeState.ACTION_REQUIRED,
    ]
    with ctx():
        intent_of = {
            pledge_id: db.session.scalar(
                sa.select(ChargeAttempt.payment_intent_id).where(
                    ChargeAttempt.pledge_id == pledge_id
                )
            )
            for pledge_id in (declined, needs_auth)
        }
        customer_id, pm_id = saved_card(backers[2])
        foreign = [
            gateway.client()
            .v1.payment_intents.create(
                params={
                    "amount": 500,
                    "currency": "eur",
                    "customer": customer_id,
                    "payment_method": pm_id,
                    "metadata": metadata,
                }
            )
            .id
            for metadata in ({}, {"attempt": "pledge-1-attempt-1-elsewhere", "pledge_id": "1"})
        ]
    assert intent_status(ctx, intent_of[declined]) == "requires_payment_method"

    periodic_sweeps(app, run_jobs)
    assert intent_status(ctx, intent_of[declined]) == "canceled"
    assert intent_status(ctx, intent_of[needs_auth]) == "requires_action"
    assert [intent_status(ctx, pi) for pi in foreign] == ["requires_confirmation"] * 2
    assert states(ctx, [declined, needs_auth]) == [
        PledgeState.ERRORED,  # the backer can still fix the card: a new attempt, a new intent
        PledgeState.ACTION_REQUIRED,
    ]

    authenticate(ctx, intent_of[needs_auth])
    with ctx():
        attempt_id = db.session.scalar(
            sa.select(ChargeAttempt.id).where(ChargeAttempt.pledge_id == needs_auth)
        )
        assert jobs.refresh_attempt(attempt_id) == "collected"


def test_the_orphan_sweep_looks_back_only_so_far(
    app, ctx, make_campaign, backers, stripe_server, run_jobs
):
    """It pages through the intents created in the look-back window, not every one ever."""
    _, pledge_id = closed_with_one_pledge(
        ctx, make_campaign, (backers[0], "S", 1, "declined_at_charge")
    )
    run_jobs()
    with ctx():
        intent = db.session.scalar(
            sa.select(ChargeAttempt.payment_intent_id).where(ChargeAttempt.pledge_id == pledge_id)
        )
        hours = app.config["SETTLEMENT_ORPHAN_LOOKBACK_HOURS"]
        assert jobs.sweep_orphan_intents(now=utcnow() + dt.timedelta(hours=hours + 1)) == {
            "cancelled": 0
        }
        assert gateway.retrieve_payment_intent(intent).status == "requires_payment_method"
        assert jobs.sweep_orphan_intents(now=utcnow() + dt.timedelta(hours=hours - 1)) == {
            "cancelled": 1
        }
        assert gateway.retrieve_payment_intent(intent).status == "canceled"


def test_charges_lost_with_redis_are_enqueued_again(
    app, ctx, make_campaign, backers, stripe_server, run_jobs
):
    campaign_id = make_campaign(goal=1)
    pledge_ids = add_pledges(ctx, campaign_id, [(b, "S", 1, "visa") for b in backers[:3]])
    close(ctx, campaign_id)
    with ctx():
        assert jobs.fan_out(campaign_id) == 3  # three charges enqueued...
    redis_connection(app).flushdb()  # ...and Redis restarted without them (and the fan-out)
    assert states(ctx, pledge_ids) == [PledgeState.ACTIVE] * 3
    with ctx():
        assert jobs.sweep_settlements()["stranded"] == 3
    run_jobs(("settlement",))
    assert states(ctx, pledge_ids) == [PledgeState.COLLECTED] * 3


def test_declined_card_is_fixed_with_a_new_card_and_collected(
    app, client, auth, ctx, make_campaign, backers, stripe_server, run_jobs, mailbox
):
    campaign_id, pledge_id = closed_with_one_pledge(
        ctx, make_campaign, (backers[0], "S", 2, "declined_at_charge")
    )
    run_jobs()
    assert states(ctx, [pledge_id]) == [PledgeState.ERRORED]
    assert campaign_state(ctx, campaign_id) == CampaignState.SETTLING
    mail = mailbox.wait_for("backer0@example.com", "did not go through")
    assert f"/pledges/{pledge_id}/fix" in mailbox.body(mail)

    auth.login("backer0@example.com")
    page = client.get(f"/pledges/{pledge_id}/fix").get_data(as_text=True)
    assert "did not go through" in page and "Your card was declined" in page
    secret = re.search(r'id="card-form"[^>]*data-client-secret="([^"]+)"', page, re.S).group(1)
    setup_intent_id = secret.split("_secret_")[0]
    assert browser_confirms(ctx, setup_intent_id) == "succeeded"
    token = csrf_token(client, f"/pledges/{pledge_id}/fix")
    resp = client.post(
        f"/pledges/{pledge_id}/card", data={"csrf_token": token, "setup_intent_id": setup_intent_id}
    )
    assert resp.status_code == 302
    run_jobs(("settlement",))  # "charged at once": the new card's job
    assert states(ctx, [pledge_id]) == [PledgeState.COLLECTED]
    assert campaign_state(ctx, campaign_id) == CampaignState.SETTLED
    with ctx():
        attempts = db.session.scalars(
            sa.select(ChargeAttempt)
            .where(ChargeAttempt.pledge_id == pledge_id)
            .order_by(ChargeAttempt.number)
        ).all()
        assert [(a.trigger, a.status) for a in attempts] == [
            ("settlement", AttemptStatus.DECLINED),
            ("new_card", AttemptStatus.SUCCEEDED),
        ]
        assert attempts[0].failure_code == "card_declined"
        assert {k: len(v) for k, v in succeeded_intents().items()} == {str(pledge_id): 1}


def test_authentication_card_goes_action_required_then_collected(
    app, client, auth, ctx, make_campaign, backers, stripe_server, run_jobs, mailbox
):
    campaign_id, pledge_id = closed_with_one_pledge(
        ctx, make_campaign, (backers[1], "M", 1, "needs_authentication")
    )
    run_jobs()
    assert states(ctx, [pledge_id]) == [PledgeState.ACTION_REQUIRED]
    mailbox.wait_for("backer1@example.com", "confirm your payment")

    auth.login("backer1@example.com")
    page = client.get(f"/pledges/{pledge_id}/fix").get_data(as_text=True)
    assert 'id="authenticate-form"' in page
    with ctx():
        attempt = db.session.scalar(
            sa.select(ChargeAttempt).where(ChargeAttempt.pledge_id == pledge_id)
        )
    assert attempt.payment_intent_id in page  # its client secret, for confirmCardPayment
    authenticate(ctx, attempt.payment_intent_id)
    token = csrf_token(client, f"/pledges/{pledge_id}/fix")
    resp = client.post(f"/pledges/{pledge_id}/authenticated", data={"csrf_token": token})
    assert resp.status_code == 302
    assert states(ctx, [pledge_id]) == [PledgeState.COLLECTED]
    assert campaign_state(ctx, campaign_id) == CampaignState.SETTLED
    with ctx():
        assert {k: len(v) for k, v in succeeded_intents().items()} == {str(pledge_id): 1}


def test_unpaid_pledges_are_reminded_retried_then_dropped(
    app, ctx, make_campaign, backers, stripe_server, run_jobs, mailbox
):
    campaign_id = make_campaign(goal=1, variants=(("S", None), ("M", None), ("L", 5)))
    declined, needs_auth, paid = add_pledges(
        ctx,
        campaign_id,
        [
            (backers[0], "L", 2, "declined_at_charge"),
            (backers[1], "L", 1, "needs_authentication"),
            (backers[2], "S", 1, "visa"),
        ],
    )
    close(ctx, campaign_id)
    run_jobs()
    assert states(ctx, [declined, needs_auth, paid]) == [
        PledgeState.ERRORED,
        PledgeState.ACTION_REQUIRED,
        PledgeState.COLLECTED,
    ]
    with ctx():
        closed = db.session.get(Campaign, campaign_id).closed_at

    def sweep(after: dt.timedelta):
        with ctx():
            return jobs.sweep_settlements(now=closed + after)

    assert sweep(dt.timedelta(hours=47))["reminded"] == 0
    assert sweep(dt.timedelta(hours=49))["reminded"] == 2
    assert sweep(dt.timedelta(hours=60))["reminded"] == 0  # every 48 h, not every sweep
    run_jobs(("mail",))
    mailbox.wait_for("backer0@example.com", "Reminder")

    # A day before the end, the declined card is tried once more (it fails again).
    assert sweep(dt.timedelta(days=6, hours=1))["retried"] == 1
    run_jobs(("settlement",))
    with ctx():
        numbers = db.session.scalars(
            sa.select(ChargeAttempt.trigger)
            .where(ChargeAttempt.pledge_id == declined)
            .order_by(ChargeAttempt.number)
        ).all()
    assert numbers == ["settlement", "auto_retry"]
    assert sweep(dt.timedelta(days=6, hours=2))["retried"] == 0  # once per pledge
    with ctx():
        assert (
            db.session.scalar(sa.select(sa.func.count()).where(ChargeAttempt.pledge_id == declined))
            == 2
        )

    assert campaign_state(ctx, campaign_id) == CampaignState.SETTLING
    done = sweep(dt.timedelta(days=7, minutes=1))
    assert done["dropped"] == 2 and done["settled"] == 1
    assert states(ctx, [declined, needs_auth, paid]) == [
        PledgeState.DROPPED,
        PledgeState.DROPPED,
        PledgeState.COLLECTED,
    ]
    assert campaign_state(ctx, campaign_id) == CampaignState.SETTLED
    with ctx():
        large = next(v for v in db.session.get(Campaign, campaign_id).variants if v.label == "L")
        assert large.reserved_units == 0  # the dropped units are back
        # The intent waiting for authentication can no longer succeed.
        waiting = db.session.scalars(
            sa.select(ChargeAttempt).where(ChargeAttempt.pledge_id == needs_auth)
        ).one()
        assert gateway.retrieve_payment_intent(waiting.payment_intent_id).status == "canceled"
        assert {k: len(v) for k, v in succeeded_intents().items()} == {str(paid): 1}
    run_jobs(("mail",))
    mailbox.wait_for("backer0@example.com", "dropped")


def test_a_fix_after_the_window_is_refused(
    app, client, auth, ctx, make_campaign, backers, stripe_server, run_jobs
):
    campaign_id, pledge_id = closed_with_one_pledge(
        ctx, make_campaign, (backers[0], "S", 1, "declined_at_charge")
    )
    run_jobs()
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        campaign.closed_at = utcnow() - dt.timedelta(days=8)
        db.session.commit()
    auth.login("backer0@example.com")
    resp = client.get(f"/pledges/{pledge_id}/fix")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/pledges/")
    with ctx():
        assert charging.begin_attempt(pledge_id, "new_card") is None


def test_cli_closes_a_campaign_now(app, ctx, make_campaign, backers, stripe_server):
    campaign_id = make_campaign(goal=1)
    add_pledges(ctx, campaign_id, [(backers[0], "S", 1, "visa")])
    result = app.test_cli_runner().invoke(args=["campaigns", "close", str(campaign_id)])
    assert result.exit_code == 0, result.output
    assert f"campaign {campaign_id}: funded" in result.output
    assert campaign_state(ctx, campaign_id) == CampaignState.SETTLING
    again = app.test_cli_runner().invoke(args=["campaigns", "close", str(campaign_id)])
    assert again.exit_code == 1 and "not live" in again.output
