"""Pledging with a saved card, fixing a failed payment, Stripe's webhook, and the operators'
settlement pages (per-campaign figures, attempts, refunds)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from marketplace.accounts.authz import operator_required, verified_required
from marketplace.accounts.models import User
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.forms import PledgeForm
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.extensions import csrf, db
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.web import committed, posted

from . import charging, dunning, gateway, ledger, refunds, reports, services, webhooks
from .forms import PayoutForm, RefundForm
from .models import AttemptStatus, ChargeAttempt, LedgerEntry, Refund

bp = Blueprint("payments", __name__)
operator_bp = Blueprint("payments_operator", __name__, url_prefix="/operator/settlements")


@bp.post("/campaigns/<int:campaign_id>/pledge")
@verified_required
def start_pledge(campaign_id: int):
    form = posted(PledgeForm, "Choose a variant and a quantity from 1 to 10.")
    pledge, created = campaigns.create_pledge(
        campaign_id,
        current_user,
        form.variant_id.data,
        form.quantity.data,
        form.idempotency_key.data,
    )
    db.session.commit()
    return redirect(url_for("payments.card", pledge_id=pledge.id), 303)


def _own_pledge(pledge_id: int) -> Pledge:
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or pledge.backer_id != current_user.id:
        abort(404)
    return pledge


@bp.get("/pledges/<int:pledge_id>/card")
@verified_required
def card(pledge_id: int):
    pledge = _own_pledge(pledge_id)
    campaign = db.session.get(Campaign, pledge.campaign_id)
    if dunning.can_fix(pledge, campaign):
        return redirect(url_for("payments.fix", pledge_id=pledge.id))
    if not campaign.is_open_for_pledges or pledge.state not in (
        PledgeState.PENDING_CARD,
        PledgeState.ACTIVE,
    ):
        flash(f"This pledge is {pledge.state.label}: its card can no longer change.", "info")
        return redirect(url_for("pledges.mine"))
    try:
        setup = services.open_card_setup(pledge, current_user)
    except (services.CardError, gateway.GatewayError) as exc:
        db.session.rollback()
        abort(getattr(exc, "status", 502), description=getattr(exc, "message", str(exc)))
    db.session.commit()
    return render_template(
        "payments/card.html",
        pledge=pledge,
        campaign=campaign,
        setup=setup,
        form=ButtonForm(formdata=None),
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
    )


@bp.post("/pledges/<int:pledge_id>/card")
@verified_required
def confirm(pledge_id: int):
    posted(ButtonForm)
    setup_intent_id = request.form.get("setup_intent_id", "")
    was_pending = _own_pledge(pledge_id).state == PledgeState.PENDING_CARD
    try:
        services.confirm_card(pledge_id, current_user, setup_intent_id)
    except gateway.GatewayError as exc:
        db.session.rollback()
        abort(502, description=str(exc))
    db.session.commit()
    if was_pending:
        flash(
            "Your pledge is in. Your card is saved, and charged only if the goal is reached.",
            "success",
        )
    elif db.session.get(Pledge, pledge_id).state == PledgeState.ACTIVE:
        flash("Card replaced.", "success")
    else:
        flash("New card saved: we are charging it now. This page shows the result.", "success")
    return redirect(url_for("pledges.mine"))


@bp.get("/pledges/<int:pledge_id>/fix")
@verified_required
def fix(pledge_id: int):
    """Where the mail about a failed charge leads: authenticate, or use another card."""
    pledge = _own_pledge(pledge_id)
    campaign = db.session.get(Campaign, pledge.campaign_id)
    if not dunning.can_fix(pledge, campaign):
        flash(f"This pledge is {pledge.state.label}: there is nothing to fix.", "info")
        return redirect(url_for("pledges.mine"))
    attempt = charging.latest_attempt(pledge.id)
    try:
        waiting = dunning.waiting_intent(pledge)
        setup = services.open_card_setup(pledge, current_user)
    except (services.CardError, gateway.GatewayError) as exc:
        db.session.rollback()
        abort(getattr(exc, "status", 502), description=getattr(exc, "message", str(exc)))
    db.session.commit()
    return render_template(
        "payments/fix.html",
        pledge=pledge,
        campaign=campaign,
        attempt=attempt,
        waiting=waiting,
        setup=setup,
        fix_by=charging.fix_deadline(campaign),
        form=ButtonForm(formdata=None),
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
    )


@bp.post("/pledges/<int:pledge_id>/authenticated")
@verified_required
def authenticated(pledge_id: int):
    """The browser says the backer authenticated the payment; Stripe is asked whether so."""
    posted(ButtonForm)
    pledge = _own_pledge(pledge_id)
    attempt = charging.latest_attempt(pledge.id)
    if attempt is None or attempt.status not in (
        AttemptStatus.REQUIRES_ACTION,
        AttemptStatus.SUCCEEDED,
    ):
        abort(409, description="There is no payment waiting for your confirmation.")
    try:
        state = charging.refresh_attempt(attempt.id)
    except gateway.GatewayError as exc:
        db.session.rollback()
        abort(502, description=str(exc))
    db.session.commit()
    charging.finish_if_done(pledge.campaign_id)
    db.session.commit()
    if state == PledgeState.COLLECTED:
        flash("Payment confirmed: thank you! Your order is in.", "success")
    else:
        flash("The payment is still not confirmed. Try again, or use another card.", "warning")
    return redirect(url_for("pledges.mine"))


@bp.post("/webhooks/stripe")
@csrf.exempt
def stripe_webhook():
    """Stripe's signed events (warehouse's pattern): 400 before anything is stored unless
    the signature over the raw body checks out; each event stored once and processed by a
    job after commit."""
    try:
        event = gateway.construct_event(
            request.get_data(cache=False), request.headers.get("Stripe-Signature")
        )
    except ValueError:
        abort(400, description="Invalid payload or signature.")
    stored = webhooks.store(event)
    db.session.commit()
    return {"received": True, "duplicate": stored is None}, 200


# --- operators --------------------------------------------------------------------------------


def operator_queue_counts() -> list[tuple[str, int, str]]:
    settling = db.session.scalar(
        sa.select(sa.func.count()).where(Campaign.state == CampaignState.SETTLING)
    )
    failing = db.session.scalar(
        sa.select(sa.func.count()).where(
            Pledge.state.in_((PledgeState.ERRORED, PledgeState.ACTION_REQUIRED))
        )
    )
    link = url_for("payments_operator.index")
    return [
        ("settlements in progress", settling, link),
        ("pledges whose payment failed", failing, link),
    ]


@operator_bp.get("/")
@operator_required
def index():
    rows = db.session.scalars(
        sa.select(Campaign)
        .where(
            Campaign.state.in_(
                (
                    CampaignState.LIVE,
                    CampaignState.FUNDED,
                    CampaignState.SETTLING,
                    CampaignState.SETTLED,
                    CampaignState.IN_PRODUCTION,
                    CampaignState.SHIPPED,
                )
            )
        )
        .order_by(Campaign.deadline.desc())
        .limit(200)
    ).all()
    return render_template(
        "operator/settlements.html",
        campaigns=rows,
        summaries=reports.summaries([c.id for c in rows]),
        PledgeState=PledgeState,
    )


@operator_bp.get("/<int:campaign_id>")
@operator_required
def campaign(campaign_id: int):
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    page = max(request.args.get("page", 1, type=int), 1)
    state = request.args.get("state", "")
    query = (
        sa.select(Pledge)
        .where(Pledge.campaign_id == campaign.id)
        .options(joinedload(Pledge.backer), joinedload(Pledge.variant))
        .order_by(Pledge.id)
    )
    if state in PledgeState.__members__.values():
        query = query.where(Pledge.state == state)
    pledges = db.session.scalars(query.limit(51).offset((page - 1) * 50)).all()
    ids = [p.id for p in pledges[:50]]
    attempts: dict[int, list[ChargeAttempt]] = {}
    for attempt in db.session.scalars(
        sa.select(ChargeAttempt)
        .where(ChargeAttempt.pledge_id.in_(ids))
        .order_by(ChargeAttempt.number)
    ):
        attempts.setdefault(attempt.pledge_id, []).append(attempt)
    refund_rows = {
        r.pledge_id: r
        for r in db.session.scalars(sa.select(Refund).where(Refund.pledge_id.in_(ids)))
    }
    return render_template(
        "operator/settlement.html",
        campaign=campaign,
        summary=reports.summary(campaign.id),
        forecast=reports.forecast(campaign) if campaign.state == CampaignState.LIVE else None,
        fix_by=charging.fix_deadline(campaign) if campaign.closed_at else None,
        pledges=pledges[:50],
        has_next=len(pledges) > 50,
        page=page,
        state=state,
        attempts=attempts,
        refunds=refund_rows,
        refund_form=RefundForm(formdata=None),
        button=ButtonForm(formdata=None),
        states=list(PledgeState),
    )


@operator_bp.post("/<int:campaign_id>/close")
@operator_required
def close_now(campaign_id: int):
    posted(ButtonForm)
    state = campaigns.close_now(campaign_id, current_user)
    return committed(
        url_for("payments_operator.campaign", campaign_id=campaign_id),
        f"Campaign closed: {state.label}.",
        "success",
    )


@operator_bp.post("/pledges/<int:pledge_id>/refund")
@operator_required
def refund_pledge(pledge_id: int):
    form = posted(RefundForm, "Give the backer a reason of at least 10 characters.")
    refund = refunds.request_refund(pledge_id, current_user, form.reason.data)
    campaign_id = db.session.get(Pledge, pledge_id).campaign_id
    return committed(
        url_for("payments_operator.campaign", campaign_id=campaign_id),
        f"Refund of pledge {pledge_id} requested ({refund.amount_cents / 100:.2f}).",
        "info",
    )


@operator_bp.post("/<int:campaign_id>/cancel-production")
@operator_required
def cancel_production(campaign_id: int):
    form = posted(RefundForm, "Give backers a public reason of at least 10 characters.")
    refunds.cancel_production(campaign_id, current_user, form.reason.data)
    return committed(
        url_for("payments_operator.campaign", campaign_id=campaign_id),
        "Production cancelled: every collected pledge is being refunded.",
        "info",
    )


# --- royalties --------------------------------------------------------------------------------

royalties_bp = Blueprint("royalties", __name__)


@royalties_bp.get("/account/earnings")
@login_required
def earnings():
    """A designer's royalty account: balance per currency, every entry, payouts."""
    return render_template(
        "payments/earnings.html",
        balances=ledger.balances(current_user.id),
        entries=ledger.entries(current_user.id),
    )


@royalties_bp.get("/operator/royalties/")
@operator_required
def royalties():
    rows = db.session.execute(
        sa.select(
            LedgerEntry.designer_id,
            LedgerEntry.currency,
            sa.func.sum(LedgerEntry.amount_cents),
            sa.func.count(),
        )
        .group_by(LedgerEntry.designer_id, LedgerEntry.currency)
        .order_by(LedgerEntry.designer_id)
    ).all()
    designers = {
        u.id: u
        for u in db.session.scalars(sa.select(User).where(User.id.in_({r[0] for r in rows})))
    }
    return render_template(
        "operator/royalties.html",
        rows=rows,
        designers=designers,
        form=PayoutForm(formdata=None),
    )


@royalties_bp.post("/operator/royalties/<int:designer_id>/payout")
@operator_required
def payout(designer_id: int):
    form = posted(PayoutForm, "Give an amount, a currency and the transfer's reference.")
    amount = campaigns.parse_money(form.amount.data)
    ledger.record_payout(
        designer_id, current_user, amount, form.currency.data.upper(), form.reference.data
    )
    return committed(
        url_for("royalties.royalties"), "Payout recorded in the designer's ledger.", "success"
    )


def operator_queue_items() -> list[dict]:
    """Settlements under way, with their failed payments."""
    items = []
    settling = db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.state == CampaignState.SETTLING)
        .order_by(Campaign.closed_at)
    ).all()
    all_totals = reports.summaries([c.id for c in settling])
    for campaign in settling:
        totals = all_totals[campaign.id]
        failed = totals.count(PledgeState.ERRORED) + totals.count(PledgeState.ACTION_REQUIRED)
        items.append(
            {
                "queue": "Settlements in progress",
                "title": (
                    f"{campaign.product_name}: {totals.count(PledgeState.COLLECTED)} paid, "
                    f"{failed} failed, {totals.count(PledgeState.CHARGING)} charging"
                ),
                "link": url_for("payments_operator.campaign", campaign_id=campaign.id),
                "since": campaign.closed_at,
            }
        )
    return items
