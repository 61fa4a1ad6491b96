"""The operators' side of the money: settlement progress, closing a campaign now, refunds,
cancelling production, and designers' royalties and payouts."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from marketplace.accounts.authz import operator_required
from marketplace.accounts.models import User
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.extensions import db
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.web import committed, posted
from payments import charging, ledger, refunds, reports
from payments.forms import PayoutForm, RefundForm
from payments.models import ChargeAttempt, LedgerEntry, Refund

operator_bp = Blueprint("payments_operator", __name__, url_prefix="/operator/settlements")


def queue_counts() -> list[tuple[str, int, str]]:
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


def queue_items() -> list[dict]:
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
