"""Settlement's background work on the ``settlement`` queue. Each job takes ids, commits
between the steps whose order makes a charge happen once (see ``charging``), and may run
twice, concurrently, or after a copy that died at any instruction."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from flask import current_app

from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, Pledge
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.jobs import committed

from . import charging, dunning, gateway, refunds, webhooks


def fan_out(campaign_id: int) -> int:
    return charging.fan_out(campaign_id)


class ChargesUnfinished(Exception):
    """Some pledges of a batch could not be charged this time (Stripe kept failing, the
    database went away): the job fails, and its retry, or the sweep, resumes them."""


def charge_batch(pledge_ids: list[int], trigger: str = "settlement") -> dict[str, int]:
    """Charge several pledges, ``charge_concurrency()`` at a time in flight at Stripe.

    Each pledge is charged in a thread of its own, inside an app context of its own, so with
    its own database session and transactions: the same steps, locks and commits as
    ``charge_pledge``, which is what makes a charge happen once. One pledge failing does
    not stop the others; the job then raises, so that its retry runs the batch again (the
    pledges already charged find nothing to do). Whether the campaign is settled is asked
    once, after the batch, rather than after every charge. Returns how many pledges ended
    in each state."""
    app = current_app._get_current_object()

    def charge(pledge_id: int) -> str | None:
        with app.app_context():
            return charge_pledge(pledge_id, trigger, finish=False)

    with ThreadPoolExecutor(
        max_workers=min(charging.charge_concurrency(), len(pledge_ids)) or 1,
        thread_name_prefix="charge",
    ) as pool:
        futures = [(pledge_id, pool.submit(charge, pledge_id)) for pledge_id in pledge_ids]
    states: dict[str, int] = {}
    unfinished = []
    for pledge_id, future in futures:
        try:
            state = future.result()
        except Exception:
            current_app.logger.exception("charging pledge %s failed", pledge_id)
            unfinished.append(pledge_id)
            continue
        states[state or "nothing to do"] = states.get(state or "nothing to do", 0) + 1
    campaign_ids = db.session.scalars(
        sa.select(Pledge.campaign_id).where(Pledge.id.in_(pledge_ids)).distinct()
    ).all()
    db.session.commit()
    for campaign_id in campaign_ids:
        charging.finish_if_done(campaign_id)
        db.session.commit()
    if unfinished:
        raise ChargesUnfinished(f"pledges {unfinished} are not charged yet")
    return states


def charge_pledge(pledge_id: int, trigger: str = "settlement", finish: bool = True) -> str | None:
    """Charge one pledge (or resume its unfinished attempt); returns the pledge's state.
    ``finish``: then mark the campaign settled if nothing is owed any more (a batch asks
    once for all its pledges instead)."""
    started = charging.open_attempt(pledge_id, trigger)
    db.session.commit()
    if started is None:
        return None
    attempt_id, fresh = started
    try:
        pledge = charging.charge_attempt(attempt_id, pledge_id, fresh)
    except gateway.OutcomeUnknown:
        # Stripe said it failed and has nothing for the attempt: its key was replaced, and
        # that is kept for the next try (the job's retry, or the sweep's).
        db.session.commit()
        raise
    if pledge is None:
        pledge = db.session.get(Pledge, pledge_id)
    # Read before the commit expires it.
    campaign_id, state = pledge.campaign_id, pledge.state
    db.session.commit()
    if finish:
        charging.finish_if_done(campaign_id)
        db.session.commit()
    return state.value


def refresh_attempt(attempt_id: int) -> str | None:
    state = committed(charging.refresh_attempt(attempt_id))
    return state.value if state else None


def sweep_settlements(now: dt.datetime | None = None) -> dict[str, int]:
    """Periodic (``flask cron``): resume charges whose job died, re-enqueue lost ones, remind
    backers whose card failed, retry before the window ends, drop what is unpaid after it,
    and mark settled what is done."""
    now = now or utcnow()
    done = {"reconciled": len(dunning.reconcile_due(now))}
    db.session.commit()
    for key in ("stranded", "reminded", "retried", "dropped", "settled"):
        done.setdefault(key, 0)
    for campaign_id in dunning.settling_campaign_ids():
        done["stranded"] += dunning.stranded_pledges(campaign_id)
        db.session.commit()
        campaign = db.session.get(Campaign, campaign_id)
        done["reminded"] += dunning.remind_due(campaign, now)
        done["retried"] += dunning.retry_due(campaign, now)
        db.session.commit()
        done["dropped"] += dunning.drop_unpaid(db.session.get(Campaign, campaign_id), now)
        db.session.commit()
        done["settled"] += charging.finish_if_done(campaign_id)
        db.session.commit()
    return done


def sweep_orphan_intents(now: dt.datetime | None = None) -> dict[str, int]:
    """Periodic (``flask cron``): cancel at Stripe the PaymentIntents no attempt will confirm
    (left by a job killed between creating one and recording it, or by a finished attempt).
    Less often than the settlement sweep: it pages through every recent intent."""
    cancelled = 0
    for attempt, intent in dunning.orphan_intents(now):
        cancelled += dunning.cancel_orphan_intent(attempt, intent)
        db.session.commit()  # the audit line of each cancellation done at Stripe
    db.session.commit()
    return {"cancelled": cancelled}


def process_webhook_event(event_row_id: int) -> str | None:
    return committed(webhooks.process(event_row_id))


def execute_refund(refund_id: int) -> str | None:
    return committed(refunds.execute(refund_id))


def refund_campaign_pledges(campaign_id: int, operator_id: int, reason: str) -> int:
    """Request every collected pledge's refund, a committed batch at a time."""
    operator = db.session.get(User, operator_id)
    count = 0
    while done := refunds.refund_next_batch(campaign_id, operator, reason):
        db.session.commit()
        count += done
    return count
