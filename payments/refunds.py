"""Refunds: an operator gives a collected pledge's money back, or a whole campaign's when its
production is cancelled. A pledge has at most one refund (a unique constraint), for exactly
what its successful charge collected, and the job that makes it at Stripe looks for an
earlier try of its own before creating one."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask_babel import gettext as _
from rq import Retry

from marketplace.accounts.models import User
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel import signals
from marketplace.kernel.audit import record_about
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db
from marketplace.kernel.locks import lock_row
from marketplace.kernel.mail import queue_mail
from marketplace.kernel.queues import enqueue_after_commit
from marketplace.kernel.urls import external_url

from . import gateway, ledger
from .models import REFUND_MACHINE, AttemptStatus, ChargeAttempt, Refund, RefundStatus


class RefundError(ServiceError):
    pass


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not 10 <= len(reason) <= 500:
        raise RefundError(_("Give a reason of 10 to 500 characters: the backer reads it."))
    return reason


def request_refund(pledge_id: int, operator: User, reason: str) -> Refund:
    reason = _check_reason(reason)
    pledge = lock_row(Pledge, pledge_id)
    if pledge is None:
        raise RefundError(_("No such pledge."), 404)
    if db.session.scalar(sa.select(Refund.id).where(Refund.pledge_id == pledge.id)):
        raise RefundError(_("This pledge is already refunded, or its refund is on its way."), 409)
    if pledge.state != PledgeState.COLLECTED:
        raise RefundError(
            _(
                "This pledge is %(state)s: only collected money can be refunded.",
                state=pledge.state.label,
            ),
            409,
        )
    attempt = db.session.scalar(
        sa.select(ChargeAttempt).where(
            ChargeAttempt.pledge_id == pledge.id, ChargeAttempt.status == AttemptStatus.SUCCEEDED
        )
    )
    refund = Refund(
        pledge_id=pledge.id,
        attempt_id=attempt.id,
        amount_cents=attempt.amount_cents,
        currency=attempt.currency,
        reason=reason,
        requested_by_id=operator.id,
        idempotency_key=f"refund-pledge-{pledge.id}-{secrets.token_hex(6)}",
    )
    db.session.add(refund)
    db.session.flush()
    record_about(
        "pledge.refund_requested",
        pledge,
        actor=operator,
        reason=reason,
        amount_cents=refund.amount_cents,
        campaign_id=pledge.campaign_id,
    )
    enqueue_after_commit(
        "settlement",
        "payments.jobs.execute_refund",
        refund.id,
        retry=Retry(max=5, interval=[5, 30, 120, 600, 1800]),
    )
    return refund


def execute(refund_id: int) -> str | None:
    pledge_id = db.session.scalar(sa.select(Refund.pledge_id).where(Refund.id == refund_id))
    if pledge_id is None:
        return None
    pledge = lock_row(Pledge, pledge_id)
    refund = db.session.scalar(
        sa.select(Refund).where(Refund.id == refund_id).execution_options(populate_existing=True)
    )
    if refund.status != RefundStatus.REQUESTED:
        return refund.status.value
    attempt = db.session.get(ChargeAttempt, refund.attempt_id)
    try:
        info = gateway.create_refund(
            attempt.payment_intent_id, refund.amount_cents, refund.idempotency_key
        )
    except gateway.OutcomeUnknown:
        raise  # the job is retried, and the retry looks for this refund first
    except gateway.GatewayError as exc:
        REFUND_MACHINE.apply(refund, "fail")
        refund.finished_at = utcnow()
        refund.failure_message = str(exc.__cause__ or exc)[:300]
        record_about("pledge.refund_failed", pledge, actor=None, reason=refund.failure_message)
        return refund.status.value
    refund.stripe_refund_id = info.id
    REFUND_MACHINE.apply(refund, "succeed")
    refund.finished_at = utcnow()
    campaigns.pledge_transition(
        pledge, "refund", None, reason=refund.reason, amount_cents=refund.amount_cents
    )
    signals.pledge_refunded.send(pledge, actor=None)
    campaign = db.session.get(Campaign, pledge.campaign_id)
    queue_mail(
        db.session.get(User, pledge.backer_id),
        "pledge_refunded",
        pledge=pledge,
        campaign=campaign,
        refund=refund,
        link=external_url("pledges.mine"),
    )
    return refund.status.value


def cancel_production(
    campaign_id: int, operator: User, reason: str, *, run_cancelled: bool = False
) -> Campaign:
    """Cancel a campaign whose money is collected: every collected pledge is refunded."""
    reason = _check_reason(reason)
    campaign = lock_row(Campaign, campaign_id)
    if campaign is None:
        raise RefundError(_("No such campaign."), 404)
    # A launched run moves its campaign on to in production, shipped, then delivered.
    has_run = campaign.state in (
        CampaignState.IN_PRODUCTION,
        CampaignState.SHIPPED,
        CampaignState.DELIVERED,
    )
    if has_run and not run_cancelled:
        raise RefundError(
            _("This campaign has a production run: cancel the run, which refunds everyone."),
            409,
        )
    if campaign.state not in (CampaignState.SETTLED, CampaignState.IN_PRODUCTION):
        raise RefundError(
            _(
                "This campaign is %(state)s: refunds of a whole campaign start once it is settled.",
                state=campaign.state.label,
            ),
            409,
        )
    campaign.cancel_reason = reason
    campaigns.transition(campaign, "cancel", operator, reason=reason)
    campaigns.mail_everyone(campaign, "campaign_cancelled")
    enqueue_after_commit(
        "settlement", "payments.jobs.refund_campaign_pledges", campaign.id, operator.id, reason
    )
    return campaign


def refund_next_batch(campaign_id: int, operator: User, reason: str, batch: int = 200) -> int:
    """Request the refund of up to ``batch`` collected pledges not refunded yet; returns how
    many. The job commits each batch, so a run that dies is finished by the next one."""
    ids = db.session.scalars(
        sa.select(Pledge.id)
        .outerjoin(Refund, Refund.pledge_id == Pledge.id)
        .where(
            Pledge.campaign_id == campaign_id,
            Pledge.state == PledgeState.COLLECTED,
            Refund.id.is_(None),
        )
        .order_by(Pledge.id)
        .limit(batch)
    ).all()
    for pledge_id in ids:
        request_refund(pledge_id, operator, reason)
    return len(ids)


def cancel_for_run(run, *, actor: User, campaign_id: int, reason: str) -> None:
    """Receives ``run_cancelled``: the campaign is cancelled, everyone refunded, and the
    run's royalty reversed."""
    cancel_production(campaign_id, actor, reason, run_cancelled=True)
    ledger.reverse_run(run.id, actor, reason)
