"""Pledging with a saved card: start a pledge, the card form, the server-side confirmation."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from marketplace.authz import verified_required
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.forms import PledgeForm
from marketplace.campaigns.models import Campaign, Pledge, PledgeState
from marketplace.extensions import db
from marketplace.forms import ButtonForm

from . import gateway, services

bp = Blueprint("payments", __name__)


@bp.post("/campaigns/<int:campaign_id>/pledge")
@verified_required
def start_pledge(campaign_id: int):
    form = PledgeForm()
    if not form.validate_on_submit():
        abort(422, description="Choose a variant and a quantity from 1 to 10.")
    try:
        pledge, created = campaigns.create_pledge(
            campaign_id,
            current_user,
            form.variant_id.data,
            form.quantity.data,
            form.idempotency_key.data,
        )
    except campaigns.CampaignError as exc:
        db.session.rollback()
        abort(exc.status, description=exc.message)
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
    if not ButtonForm().validate_on_submit():
        abort(400)
    setup_intent_id = request.form.get("setup_intent_id", "")
    was_pending = _own_pledge(pledge_id).state == PledgeState.PENDING_CARD
    try:
        services.confirm_card(pledge_id, current_user, setup_intent_id)
    except services.CardError as exc:
        db.session.rollback()
        abort(exc.status, description=exc.message)
    except gateway.GatewayError as exc:
        db.session.rollback()
        abort(502, description=str(exc))
    db.session.commit()
    if was_pending:
        flash(
            "Your pledge is in. Your card is saved, and charged only if the goal is reached.",
            "success",
        )
    else:
        flash("Card replaced.", "success")
    return redirect(url_for("pledges.mine"))
