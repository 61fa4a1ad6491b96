"""Charging a funded campaign's pledges at Stripe, exactly once: starting the settlement,
fanning out batch jobs of pledges, the attempt recorded before Stripe hears of it, the
charge, the outcome applied to the pledge, and the campaign marked settled when nothing is
owed. What follows a failed card (reminders, the retry, the drop) is ``dunning``'s, which
calls down into this module; the fix window's end (``fix_deadline``) lives here because a new
attempt and the backers' mails depend on it.

How "exactly once" holds, whatever dies when:

1. ``begin_attempt`` moves the pledge to ``charging`` and writes a :class:`ChargeAttempt`
   with its idempotency key, committed before Stripe hears of it.
2. ``charge_attempt`` charges the card in one request (the PaymentIntent created and
   confirmed at once) under the attempt's key: the same request sent again, by a retry or a
   resumed job, gives back the same intent, never a second charge. When the outcome is not
   known (a timeout, a lost answer, a 5xx), or the attempt was begun by a job that died, the
   attempt's intent is first looked for at Stripe, by the attempt named in its metadata; the
   key is replaced only once Stripe answered an error and holds no intent for it.

An attempt that already has an intent (one made unconfirmed by the two-step protocol of
earlier releases, or one found) goes on with it: ``confirm_attempt`` confirms that very
intent, which succeeds at most once.

Each step locks the pledge's row first and re-reads where the attempt stands, so two copies
of a job (or a job and the reconciler, or a webhook) take turns and the second finds the
work done. A new attempt starts only once the previous one is known to have failed or has
been cancelled at Stripe. Functions flush and never commit; the jobs commit between steps.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator

import sqlalchemy as sa
from flask import current_app

from marketplace.accounts.models import User
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel import signals
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.locks import lock_row
from marketplace.kernel.mail import queue_mail
from marketplace.kernel.queues import enqueue_after_commit, get_queue
from marketplace.kernel.urls import external_url

from . import gateway, queries
from .customers import customer_for
from .models import ATTEMPT_MACHINE, AttemptStatus, ChargeAttempt, StripeCustomer

#: Pledges still owing money: the campaign is settled when none is left.
OPEN_STATES = (
    PledgeState.ACTIVE,
    PledgeState.CHARGING,
    PledgeState.ERRORED,
    PledgeState.ACTION_REQUIRED,
)
#: Which trigger may start a new attempt from which pledge state.
_MAY_START = {
    PledgeState.ACTIVE: {"settlement"},
    PledgeState.ERRORED: {"new_card", "auto_retry"},
    PledgeState.ACTION_REQUIRED: {"new_card"},
}
CHARGE_JOB = "payments.jobs.charge_pledge"
BATCH_JOB = "payments.jobs.charge_batch"


class SettlementError(ServiceError):
    pass


def fix_deadline(campaign: Campaign) -> dt.datetime:
    """Until when a backer whose charge failed can fix the card."""
    closed = campaign.closed_at or campaign.deadline
    return closed + dt.timedelta(days=current_app.config["CARD_FIX_DAYS"])


def enqueue_charge(pledge_id: int, trigger: str) -> None:
    from rq import Retry

    enqueue_after_commit(
        "settlement",
        CHARGE_JOB,
        pledge_id,
        trigger,
        retry=Retry(max=3, interval=[5, 30, 120]),
        # A charge resumed or fixed by a backer goes before a big campaign's backlog.
        at_front=trigger != "settlement",
    )


# --- starting ---------------------------------------------------------------------------------


def start_settlement(campaign: Campaign) -> None:
    """Called in the transaction that marks a campaign funded: it moves on to settling, and
    the fan-out job starts once that is committed."""
    campaigns.transition(campaign, "settle", None)
    enqueue_after_commit("settlement", "payments.jobs.fan_out", campaign.id)


def active_pledge_ids(campaign_id: int, batch: int = 500) -> Iterator[list[int]]:
    """The ids of pledges not charged yet, a batch at a time (memory stays flat)."""
    last_id = 0
    while True:
        ids = db.session.scalars(
            sa.select(Pledge.id)
            .where(
                Pledge.campaign_id == campaign_id,
                Pledge.state == PledgeState.ACTIVE,
                Pledge.id > last_id,
            )
            .order_by(Pledge.id)
            .limit(batch)
        ).all()
        if not ids:
            return
        yield list(ids)
        last_id = ids[-1]


def fan_out(campaign_id: int) -> int:
    """The charges of every pledge not charged yet, in jobs of SETTLEMENT_BATCH pledges
    (``charge_batch``), enqueued in pipelined groups."""
    from rq import Queue, Retry

    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.state != CampaignState.SETTLING:
        return 0
    queue = get_queue("settlement")
    size = max(1, current_app.config["SETTLEMENT_BATCH"])
    count = 0
    for ids in active_pledge_ids(campaign_id):
        queue.enqueue_many(
            [
                Queue.prepare_data(
                    BATCH_JOB,
                    (ids[start : start + size], "settlement"),
                    retry=Retry(max=3, interval=[5, 30, 120]),
                )
                for start in range(0, len(ids), size)
            ]
        )
        count += len(ids)
    return count


def charge_concurrency() -> int:
    """How many charges a job keeps in flight: SQLite takes one writer at a time, and a
    charge holds its pledge's row (the write lock there) across its Stripe call, so more
    threads would only queue on that lock. A session bound to one connection (the caller's
    own transaction, as the tests' isolation binds it) has only that one for every thread."""
    if db.engine.dialect.name == "sqlite" or isinstance(db.session.get_bind(), sa.Connection):
        return 1
    return max(1, current_app.config["SETTLEMENT_CONCURRENCY"])


# --- one charge -------------------------------------------------------------------------------


def _lock(pledge_id: int) -> Pledge | None:
    return lock_row(Pledge, pledge_id)


def _open_attempt(pledge_id: int) -> ChargeAttempt | None:
    return db.session.scalar(
        sa.select(ChargeAttempt)
        .where(ChargeAttempt.pledge_id == pledge_id, ChargeAttempt.status == AttemptStatus.STARTED)
        .execution_options(populate_existing=True)
    )


def latest_attempt(pledge_id: int) -> ChargeAttempt | None:
    return db.session.scalar(
        sa.select(ChargeAttempt)
        .where(ChargeAttempt.pledge_id == pledge_id)
        .order_by(ChargeAttempt.number.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )


def begin_attempt(pledge_id: int, trigger: str, now: dt.datetime | None = None) -> int | None:
    """The attempt to work on: the pledge's unfinished one, or a new one if ``trigger`` may
    start one from the pledge's state. None when there is nothing to charge."""
    started = open_attempt(pledge_id, trigger, now)
    return started[0] if started else None


def open_attempt(
    pledge_id: int, trigger: str, now: dt.datetime | None = None
) -> tuple[int, bool] | None:
    """``begin_attempt``, saying also whether the attempt is new: (attempt id, fresh). Only
    an attempt begun before this one (by a job that died, say) may have reached Stripe."""
    now = now or utcnow()
    pledge = _lock(pledge_id)
    if pledge is None:
        return None
    if pledge.state == PledgeState.CHARGING:
        attempt = _open_attempt(pledge.id)
        if attempt is not None:
            return attempt.id, False
    elif trigger not in _MAY_START.get(pledge.state, ()):
        return None
    campaign = db.session.get(Campaign, pledge.campaign_id)
    if campaign.state != CampaignState.SETTLING:
        return None
    previous = latest_attempt(pledge.id)
    if trigger != "settlement" and now >= fix_deadline(campaign):
        return None
    if trigger == "auto_retry" and _auto_retried(pledge.id):
        return None  # once per pledge
    if previous is not None and previous.status == AttemptStatus.REQUIRES_ACTION:
        # The backer chose a new card over authenticating: withdraw the waiting intent so it
        # can never succeed as well. If it already has, that is the pledge's charge.
        info = gateway.cancel_payment_intent(previous.payment_intent_id)
        if info.status == "succeeded":
            apply_outcome(pledge, previous, info)
            return None
        ATTEMPT_MACHINE.apply(previous, "cancel")
        previous.finished_at = now
    number = (previous.number if previous else 0) + 1
    attempt = ChargeAttempt(
        pledge_id=pledge.id,
        number=number,
        trigger=trigger,
        idempotency_key=_attempt_key(pledge.id, number),
        amount_cents=pledge.amount_cents,
        currency=pledge.currency,
        payment_method_id=pledge.payment_method_id,
    )
    db.session.add(attempt)
    campaigns.pledge_transition(pledge, "charge", None, attempt=number, trigger=trigger)
    db.session.flush()
    return attempt.id, True


def _auto_retried(pledge_id: int) -> bool:
    return bool(
        db.session.scalar(
            sa.select(ChargeAttempt.id)
            .where(ChargeAttempt.pledge_id == pledge_id, ChargeAttempt.trigger == "auto_retry")
            .limit(1)
        )
    )


def _locked_attempt(
    attempt_id: int, pledge_id: int | None = None
) -> tuple[Pledge, ChargeAttempt] | None:
    """The attempt and its pledge, the pledge locked first. A caller that knows the pledge
    (the charge job) saves the lookup."""
    if pledge_id is None:
        pledge_id = db.session.scalar(
            sa.select(ChargeAttempt.pledge_id).where(ChargeAttempt.id == attempt_id)
        )
        if pledge_id is None:
            return None
    pledge = _lock(pledge_id)
    attempt = db.session.scalar(
        sa.select(ChargeAttempt)
        .where(ChargeAttempt.id == attempt_id)
        .execution_options(populate_existing=True)
    )
    if pledge is None or attempt is None or attempt.pledge_id != pledge_id:
        raise SettlementError(f"attempt {attempt_id} is not an attempt of pledge {pledge_id}")
    return pledge, attempt


def charge_attempt(attempt_id: int, pledge_id: int, fresh: bool) -> Pledge | None:
    """Charge the card for the attempt in one Stripe request, and record what Stripe says.

    The request's idempotency key is the attempt's own (committed before the call), so the
    same request sent again gives back the same PaymentIntent, never a second charge. An
    attempt that is not ``fresh`` may have reached Stripe already (its job died, or lost
    the answer): its intent is looked for first, among the customer's, by the attempt named
    in its metadata. So is the intent of a request whose outcome is unknown. Only when
    Stripe answered an error and has no intent for the attempt is the key replaced (Stripe
    would answer that error again to the same key): nothing was charged under it, and
    nothing still running there could be.

    An attempt that already has an intent (made by the earlier two-step protocol, or found)
    goes on with it. Returns the pledge, or None when there was nothing to charge."""
    pledge, attempt = _locked_attempt(attempt_id, pledge_id)
    if attempt.status != AttemptStatus.STARTED:
        return None
    if attempt.payment_intent_id:
        return confirm_attempt(attempt_id, pledge_id)
    customer_id = _customer_id(pledge)
    if not fresh and _found(pledge, attempt, customer_id):
        return pledge
    try:
        info = gateway.charge_off_session(
            **_charge_terms(pledge, attempt, customer_id),
            idempotency_key=attempt.idempotency_key,
        )
    except gateway.Refused as exc:
        # The declined intent is kept on the attempt, for the record and for the fix page;
        # Stripe names it in the error, localstripe does not.
        intent_id = exc.payment_intent_id
        if intent_id is None:
            found = gateway.find_attempt_intent(
                customer_id, attempt.idempotency_key, _since(attempt)
            )
            intent_id = found.id if found else None
        attempt.payment_intent_id = intent_id
        _decline(pledge, attempt, exc)
        return pledge
    except gateway.OutcomeUnknown as exc:
        if _found(pledge, attempt, customer_id):
            return pledge
        if exc.answered:
            attempt.idempotency_key = _attempt_key(pledge.id, attempt.number)
        raise
    attempt.payment_intent_id = info.id
    apply_outcome(pledge, attempt, info)
    return pledge


def _found(pledge: Pledge, attempt: ChargeAttempt, customer_id: str) -> bool:
    """Look for the attempt's intent at Stripe; when there is one, record it and what it
    says (confirming it if it never was, as an intent of the two-step protocol may be)."""
    info = gateway.find_attempt_intent(customer_id, attempt.idempotency_key, _since(attempt))
    if info is None:
        return False
    attempt.payment_intent_id = info.id
    if info.status == "requires_confirmation":
        info = gateway.confirm_payment_intent(info.id)
    apply_outcome(pledge, attempt, info)
    return True


def _charge_terms(pledge: Pledge, attempt: ChargeAttempt, customer_id: str) -> dict:
    """What Stripe is asked to charge for an attempt: its card, amount and currency, and the
    metadata tying the intent to the attempt (what ``find_attempt_intent`` and the orphan
    sweep match on)."""
    return {
        "customer_id": customer_id,
        "payment_method_id": attempt.payment_method_id,
        "amount_cents": attempt.amount_cents,
        "currency": attempt.currency,
        "metadata": {
            "pledge_id": str(pledge.id),
            "campaign_id": str(pledge.campaign_id),
            "attempt": attempt.idempotency_key,
        },
    }


def _since(attempt: ChargeAttempt) -> dt.datetime:
    """Where to start looking for an attempt's intent: a little before the attempt began,
    for the difference between our clock and Stripe's."""
    return attempt.created_at - dt.timedelta(minutes=5)


def _customer_id(pledge: Pledge) -> str:
    # Every pledge with a card has a Customer from its SetupIntent; demo pledges made
    # without one get theirs here.
    return db.session.scalar(
        sa.select(StripeCustomer.customer_id).where(StripeCustomer.user_id == pledge.backer_id)
    ) or customer_for(db.session.get(User, pledge.backer_id))


def _attempt_key(pledge_id: int, number: int) -> str:
    return f"pledge-{pledge_id}-attempt-{number}-{secrets.token_hex(6)}"


def ensure_payment_intent(attempt_id: int, pledge_id: int | None = None) -> bool:
    """Give the attempt its (unconfirmed) PaymentIntent. True when there is one to confirm."""
    pledge, attempt = _locked_attempt(attempt_id, pledge_id)
    if attempt.status != AttemptStatus.STARTED:
        return False
    if attempt.payment_intent_id:
        return True
    customer_id = _customer_id(pledge)
    try:
        info = gateway.create_payment_intent(
            **_charge_terms(pledge, attempt, customer_id),
            # Fresh for each run of this step, shared by the gateway's retries within it:
            # Stripe keeps a key's first answer for a day, a 500 included, and replaying
            # that would keep this attempt from ever getting its intent. A second unconfirmed
            # intent charges nobody; only the one recorded below is ever confirmed.
            idempotency_key=f"{attempt.idempotency_key}-create-{secrets.token_hex(4)}",
        )
    except gateway.Refused as exc:
        # Refused for good (the saved card is gone, say): a failed card like any other,
        # which the backer can fix within the window. Other errors leave the attempt as it
        # is, for the job's retry or the reconciler.
        _decline(pledge, attempt, exc)
        return False
    attempt.payment_intent_id = info.id
    return True


def confirm_attempt(attempt_id: int, pledge_id: int | None = None) -> Pledge | None:
    """Charge the card through the attempt's intent and record what Stripe says. Returns the
    pledge (None when there was nothing to confirm): the session holds clean objects weakly,
    so a caller that reads it afterwards would otherwise load it again."""
    pledge, attempt = _locked_attempt(attempt_id, pledge_id)
    if attempt.status != AttemptStatus.STARTED or not attempt.payment_intent_id:
        return None
    try:
        info = gateway.confirm_payment_intent(attempt.payment_intent_id)
    except gateway.Refused as exc:
        # Stripe will not confirm it and nothing was charged: withdraw it, so that it can
        # never go through later, and let the backer fix the card.
        info = gateway.cancel_payment_intent(attempt.payment_intent_id)
        if info.status != "succeeded":
            _decline(pledge, attempt, exc)
            return pledge
    apply_outcome(pledge, attempt, info)
    return pledge


def _decline(pledge: Pledge, attempt: ChargeAttempt, refusal: gateway.Refused) -> None:
    ATTEMPT_MACHINE.apply(attempt, "decline")
    attempt.finished_at = utcnow()
    attempt.failure_code = (refusal.code or "refused")[:64]
    attempt.failure_message = refusal.message[:300]
    attempt.reminded_at = attempt.finished_at
    campaigns.pledge_transition(
        pledge, "fail", None, attempt=attempt.number, code=attempt.failure_code
    )
    mail_backer(pledge, "charge_failed", attempt=attempt)


def refresh_attempt(attempt_id: int) -> PledgeState | None:
    """Ask Stripe where the attempt's intent stands and record it (after the backer
    authenticated, or a webhook arrived): nothing is confirmed from here."""
    locked = _locked_attempt(attempt_id)
    if locked is None:
        return None
    pledge, attempt = locked
    if attempt.status not in (AttemptStatus.STARTED, AttemptStatus.REQUIRES_ACTION):
        return pledge.state
    if not attempt.payment_intent_id:
        return pledge.state
    apply_outcome(pledge, attempt, gateway.retrieve_payment_intent(attempt.payment_intent_id))
    return pledge.state


def apply_outcome(pledge: Pledge, attempt: ChargeAttempt, info: gateway.PaymentIntentInfo) -> None:
    """Move the attempt and the pledge (through PLEDGE_MACHINE) to what Stripe says. An
    outcome already recorded, or one that is not final yet, changes nothing."""
    if attempt.status not in (AttemptStatus.STARTED, AttemptStatus.REQUIRES_ACTION):
        return
    now = utcnow()
    if info.status == "succeeded":
        ATTEMPT_MACHINE.apply(attempt, "succeed")
        attempt.finished_at = now
        campaigns.pledge_transition(
            pledge,
            "succeed",
            None,
            attempt=attempt.number,
            payment_intent=info.id,
            amount_cents=info.amount_received,
        )
        signals.pledge_collected.send(pledge)
        mail_backer(
            pledge,
            "charge_succeeded",
            attempt=attempt,
            survey_link=external_url("production.survey", pledge_id=pledge.id),
        )
    elif info.status == "requires_action" and attempt.status == AttemptStatus.STARTED:
        ATTEMPT_MACHINE.apply(attempt, "require_action")
        attempt.reminded_at = now
        campaigns.pledge_transition(pledge, "require_action", None, attempt=attempt.number)
        mail_backer(pledge, "charge_action_required", attempt=attempt)
    elif info.status in ("requires_payment_method", "canceled"):
        ATTEMPT_MACHINE.apply(attempt, "decline")
        attempt.finished_at = now
        attempt.failure_code = (info.error_code or info.status)[:64]
        attempt.failure_message = (info.error_message or N_("The charge did not go through."))[:300]
        attempt.reminded_at = now
        campaigns.pledge_transition(
            pledge, "fail", None, attempt=attempt.number, code=attempt.failure_code
        )
        mail_backer(pledge, "charge_failed", attempt=attempt)
    # "processing", "requires_confirmation", "requires_capture": not final; the reconciler
    # looks again later.


def mail_backer(pledge: Pledge, kind: str, **context) -> None:
    """A mail to the pledge's backer about its charge, with the fix window's end and link."""
    campaign = db.session.get(Campaign, pledge.campaign_id)
    queue_mail(
        db.session.get(User, pledge.backer_id),
        kind,
        pledge=pledge,
        campaign=campaign,
        fix_by=fix_deadline(campaign),
        link=external_url("payments.fix", pledge_id=pledge.id),
        **context,
    )


def finish_if_done(campaign_id: int) -> bool:
    """Settled once no pledge owes money any more (collected, dropped or cancelled)."""

    def still_open() -> bool:
        return bool(
            db.session.scalar(
                sa.select(Pledge.id)
                .where(Pledge.campaign_id == campaign_id, Pledge.state.in_(OPEN_STATES))
                .limit(1)
            )
        )

    # Every charge job asks; only the last ones need the campaign's lock to decide.
    if still_open():
        return False
    campaign = lock_row(Campaign, campaign_id)
    if campaign is None or campaign.state != CampaignState.SETTLING or still_open():
        return False
    totals = queries.summary(campaign_id)
    figures = {
        "collected_cents": totals.amount(PledgeState.COLLECTED),
        "collected_pledges": totals.count(PledgeState.COLLECTED),
        "dropped_pledges": totals.count(PledgeState.DROPPED),
    }
    campaigns.transition(campaign, "settled", None, **figures)
    signals.campaign_settled.send(campaign)
    queue_mail(
        campaign.design.designer,
        "campaign_settled",
        campaign=campaign,
        link=external_url("campaigns.show", campaign_id=campaign.id),
        **figures,
    )
    return True
