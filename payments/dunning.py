"""Dunning: what follows a failed card (Kickstarter's rule: the backer has CARD_FIX_DAYS after
the deadline to fix it). The backer saves a new card or authenticates the waiting charge; the
sweep of settling campaigns (``jobs.sweep_settlements``, run by ``flask cron``) reminds every
CARD_FIX_REMINDER_HOURS, retries once in the window's last day, drops what is still unpaid
after it, and hands attempts stuck in ``started`` (their job died or lost Stripe's answer)
and pledges whose job was lost back to a charge job. A sweep of its own
(``orphan_intents``) cancels at Stripe the PaymentIntents no attempt will confirm.

Nothing here charges a card itself: charges are enqueued as ``charging``'s jobs, and an
outcome found on the way (a waiting intent that went through after all) is recorded by
``charging.apply_outcome``. Functions flush and never commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.audit import record_about
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.locks import lock_row
from marketplace.kernel.queues import get_queue

from . import gateway
from .charging import (
    SettlementError,
    active_pledge_ids,
    apply_outcome,
    enqueue_charge,
    fix_deadline,
    latest_attempt,
    mail_backer,
)
from .models import ATTEMPT_MACHINE, AttemptStatus, ChargeAttempt


def auto_retry_at(campaign: Campaign) -> dt.datetime:
    """The automatic retry of failed cards, a day before the fix window ends."""
    return fix_deadline(campaign) - dt.timedelta(days=1)


# --- the backer fixes a failed card ----------------------------------------------------------


def can_fix(pledge: Pledge, campaign: Campaign, now: dt.datetime | None = None) -> bool:
    return (
        pledge.state in (PledgeState.ERRORED, PledgeState.ACTION_REQUIRED)
        and campaign.state == CampaignState.SETTLING
        and (now or utcnow()) < fix_deadline(campaign)
    )


def use_new_card(pledge: Pledge, actor: User, payment_method_id: str, card_summary: str) -> None:
    """A new card for a pledge whose charge failed: saved, and charged at once by a job."""
    campaign = db.session.get(Campaign, pledge.campaign_id)
    if not can_fix(pledge, campaign):
        raise SettlementError(
            _("This pledge is %(state)s: its card can no longer change.", state=pledge.state.label),
            409,
        )
    pledge.payment_method_id, pledge.card_summary = payment_method_id, card_summary
    record_about("pledge.card_replaced", pledge, actor=actor)
    enqueue_charge(pledge.id, "new_card")


def waiting_intent(pledge: Pledge) -> gateway.PaymentIntentInfo | None:
    """The intent the backer is asked to authenticate, as Stripe has it now."""
    attempt = latest_attempt(pledge.id)
    if attempt is None or attempt.status != AttemptStatus.REQUIRES_ACTION:
        return None
    return gateway.retrieve_payment_intent(attempt.payment_intent_id)


# --- the sweep: reconciling, reminding, retrying, dropping -----------------------------------


def reconcile_due(now: dt.datetime | None = None) -> list[int]:
    """Pledges whose attempt has been ``started`` for longer than any Stripe call lasts: the
    job that owned it died or lost its answer. Each is marked as looked after (so the next
    sweep waits again) and handed to a charge job, which resumes the attempt."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(seconds=current_app.config["SETTLEMENT_RECONCILE_SECONDS"])
    stale = db.session.scalars(
        sa.select(ChargeAttempt)
        .where(ChargeAttempt.status == AttemptStatus.STARTED, ChargeAttempt.updated_at < cutoff)
        .limit(1000)
    ).all()
    for attempt in stale:
        attempt.updated_at = now
        enqueue_charge(attempt.pledge_id, "reconcile")
    return [a.pledge_id for a in stale]


#: The statuses in which an intent could still be confirmed, and Stripe lets us cancel it.
_CANCELLABLE = ("requires_payment_method", "requires_confirmation", "requires_action")


def _may_still_be_confirmed(attempt: ChargeAttempt, payment_intent_id: str) -> bool:
    """Only an open attempt confirms, and only the intent it recorded; one that has recorded
    none yet may be about to record this very intent (its job is between the create and the
    commit), so that intent waits for a later sweep."""
    return attempt.status in (
        AttemptStatus.STARTED,
        AttemptStatus.REQUIRES_ACTION,
    ) and attempt.payment_intent_id in (None, payment_intent_id)


def orphan_intents(
    now: dt.datetime | None = None,
) -> Iterator[tuple[ChargeAttempt, gateway.PaymentIntentInfo]]:
    """The recent PaymentIntents that no attempt will ever confirm, with the attempt they
    were made for: the intent created by a job that died before recording it (the attempt's
    next run made another), and the intent of an attempt that has been settled, declined or
    given up. Intents without our metadata, or naming an attempt we do not have, are another
    system's and left alone. Reads only."""
    now = now or utcnow()
    since = now - dt.timedelta(hours=current_app.config["SETTLEMENT_ORPHAN_LOOKBACK_HOURS"])
    for page in gateway.payment_intents_created_since(since):
        waiting = [pi for pi in page if pi.status in _CANCELLABLE and pi.metadata.get("attempt")]
        if not waiting:
            continue
        keys = [pi.metadata["attempt"] for pi in waiting]
        attempts = {
            attempt.idempotency_key: attempt
            for attempt in db.session.scalars(
                sa.select(ChargeAttempt)
                .where(ChargeAttempt.idempotency_key.in_(keys))
                .execution_options(populate_existing=True)
            )
        }
        for pi in waiting:
            attempt = attempts.get(pi.metadata["attempt"])
            if attempt is None or pi.metadata.get("pledge_id") != str(attempt.pledge_id):
                continue
            if not _may_still_be_confirmed(attempt, pi.id):
                yield attempt, pi


def cancel_orphan_intent(attempt: ChargeAttempt, pi: gateway.PaymentIntentInfo) -> bool:
    """Cancel one of ``orphan_intents`` at Stripe, so that nobody can ever charge it, and
    say so in its pledge's audit log. No attempt or pledge changes state: their outcome is
    recorded already. True when it was cancelled."""
    info = gateway.cancel_payment_intent(pi.id)
    if info.status == "succeeded":
        # Charged although no attempt confirmed it (a browser holding its client secret,
        # say): nothing here can undo that; an operator must refund it.
        current_app.logger.error(
            "PaymentIntent %s of pledge %s succeeded outside its attempt", pi.id, attempt.pledge_id
        )
        record_about(
            "pledge.stray_charge_found",
            ("pledge", attempt.pledge_id),
            actor=None,
            payment_intent=pi.id,
            attempt=attempt.number,
            amount_cents=info.amount_received,
        )
        return False
    record_about(
        "pledge.orphan_intent_cancelled",
        ("pledge", attempt.pledge_id),
        actor=None,
        reason="No charge attempt will ever confirm it",
        payment_intent=pi.id,
        attempt=attempt.number,
        status=pi.status,
    )
    return info.status == "canceled"


def stranded_pledges(campaign_id: int) -> int:
    """Re-enqueue the charges of pledges never charged, when the settlement queue is empty:
    their jobs were lost (Redis restarted, or the fan-out died half-way)."""
    if get_queue("settlement").count:
        return 0
    count = 0
    for ids in active_pledge_ids(campaign_id):
        for pledge_id in ids:
            enqueue_charge(pledge_id, "settlement")
        count += len(ids)
    return count


def remind_due(campaign: Campaign, now: dt.datetime) -> int:
    every = dt.timedelta(hours=current_app.config["CARD_FIX_REMINDER_HOURS"])
    attempts = db.session.scalars(
        sa.select(ChargeAttempt)
        .join(Pledge, Pledge.id == ChargeAttempt.pledge_id)
        .where(
            Pledge.campaign_id == campaign.id,
            Pledge.state.in_((PledgeState.ERRORED, PledgeState.ACTION_REQUIRED)),
            ChargeAttempt.status.in_((AttemptStatus.DECLINED, AttemptStatus.REQUIRES_ACTION)),
            ChargeAttempt.reminded_at <= now - every,
        )
    ).all()
    reminded = 0
    for attempt in attempts:
        pledge = db.session.get(Pledge, attempt.pledge_id)
        if latest_attempt(pledge.id).id != attempt.id:
            continue
        attempt.reminded_at = now
        mail_backer(pledge, "charge_reminder", attempt=attempt)
        reminded += 1
    return reminded


def retry_due(campaign: Campaign, now: dt.datetime) -> int:
    """The automatic retry, once per pledge, in the last day of the window."""
    if not auto_retry_at(campaign) <= now < fix_deadline(campaign):
        return 0
    ids = db.session.scalars(
        sa.select(Pledge.id).where(
            Pledge.campaign_id == campaign.id,
            Pledge.state == PledgeState.ERRORED,
            ~sa.exists().where(
                ChargeAttempt.pledge_id == Pledge.id, ChargeAttempt.trigger == "auto_retry"
            ),
        )
    ).all()
    for pledge_id in ids:
        enqueue_charge(pledge_id, "auto_retry")
    return len(ids)


def drop_unpaid(campaign: Campaign, now: dt.datetime) -> int:
    """After the window, what is still unpaid is dropped (and its units released)."""
    if now < fix_deadline(campaign):
        return 0
    ids = db.session.scalars(
        sa.select(Pledge.id).where(
            Pledge.campaign_id == campaign.id,
            Pledge.state.in_((PledgeState.ERRORED, PledgeState.ACTION_REQUIRED)),
        )
    ).all()
    dropped = 0
    for pledge_id in ids:
        pledge = lock_row(Pledge, pledge_id)
        attempt = latest_attempt(pledge_id)
        if pledge.state == PledgeState.ACTION_REQUIRED:
            info = gateway.cancel_payment_intent(attempt.payment_intent_id)
            if info.status == "succeeded":
                apply_outcome(pledge, attempt, info)
                continue
            ATTEMPT_MACHINE.apply(attempt, "cancel")
            attempt.finished_at = now
        elif pledge.state != PledgeState.ERRORED:
            continue
        campaigns.pledge_transition(
            pledge,
            "drop",
            None,
            reason=f"Still unpaid {current_app.config['CARD_FIX_DAYS']} days after the deadline",
        )
        campaigns.release_units(pledge)
        mail_backer(pledge, "pledge_dropped")
        dropped += 1
    return dropped


def settling_campaign_ids() -> list[int]:
    return list(
        db.session.scalars(
            sa.select(Campaign.id).where(Campaign.state == CampaignState.SETTLING)
        ).all()
    )
