"""Pledging with a saved card, fixing a failed payment, Stripe's webhook, and the operators'
settlement pages (per-campaign figures, attempts, refunds)."""

from __future__ import annotations

import contextlib

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.accounts.authz import verified_required
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.forms import PledgeForm
from marketplace.campaigns.models import Campaign, Pledge, PledgeState
from marketplace.kernel.extensions import csrf, db, limiter
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.web import posted

from . import cards, charging, dunning, gateway, ledger, services, webhooks
from .models import AttemptStatus

bp = Blueprint("payments", __name__)


@bp.post("/campaigns/<int:campaign_id>/pledge")
@limiter.limit(lambda: current_app.config["PLEDGE_LIMIT"], methods=["POST"])
@verified_required
def start_pledge(campaign_id: int):
    form = posted(PledgeForm, _("Choose a variant and a quantity from 1 to 10."))
    pledge, created = campaigns.create_pledge(
        campaign_id,
        current_user,
        form.variant_id.data,
        form.quantity.data,
        form.idempotency_key.data,
        form.shipping_zone.data or "domestic",
    )
    db.session.commit()
    return redirect(url_for("payments.card", pledge_id=pledge.id), 303)


def _own_pledge(pledge_id: int) -> Pledge:
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or pledge.backer_id != current_user.id:
        abort(404)
    return pledge


@contextlib.contextmanager
def _stripe_or_502():
    """Stripe unreachable, or refusing the call, ends the request: nothing of it is kept,
    and the backer reads Stripe's message. (A broken rule is the app's ServiceError.)"""
    try:
        yield
    except gateway.GatewayError as exc:
        db.session.rollback()
        abort(502, description=str(exc))


def _card_page(template: str, pledge: Pledge, campaign: Campaign, **context):
    """A page where the backer gives a card: Stripe's card element needs a SetupIntent,
    recorded before the page is shown, and the publishable key; the form's script gets its
    error sentences in the backer's language, and the local stand-in's test cards."""
    with _stripe_or_502():
        setup = services.open_card_setup(pledge, current_user)
    db.session.commit()
    return render_template(
        template,
        pledge=pledge,
        campaign=campaign,
        setup=setup,
        form=ButtonForm(formdata=None),
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        test_cards=cards.TEST_CARDS if cards.shows_test_cards(current_app.config) else (),
        card_errors=cards.error_sentences(),
        **context,
    )


@bp.get("/pledges/<int:pledge_id>/card")
@verified_required
def card(pledge_id: int):
    pledge = _own_pledge(pledge_id)
    campaign = db.session.get(Campaign, pledge.campaign_id)
    if dunning.can_fix(pledge, campaign):
        return redirect(url_for("payments.fix", pledge_id=pledge.id))
    if not pledge.is_changeable:
        flash(
            _("This pledge is %(state)s: its card can no longer change.", state=pledge.state.label),
            "info",
        )
        return redirect(url_for("pledges.mine"))
    return _card_page("payments/card.html", pledge, campaign)


@bp.post("/pledges/<int:pledge_id>/card")
@verified_required
def confirm(pledge_id: int):
    posted(ButtonForm)
    setup_intent_id = request.form.get("setup_intent_id", "")
    was_pending = _own_pledge(pledge_id).state == PledgeState.PENDING_CARD
    with _stripe_or_502():
        services.confirm_card(pledge_id, current_user, setup_intent_id)
    db.session.commit()
    if was_pending:
        flash(
            _("Your pledge is in. Your card is saved, and charged only if the goal is reached."),
            "success",
        )
    elif db.session.get(Pledge, pledge_id).state == PledgeState.ACTIVE:
        flash(_("Card replaced."), "success")
    else:
        flash(_("New card saved: we are charging it now. This page shows the result."), "success")
    return redirect(url_for("pledges.mine"))


@bp.get("/pledges/<int:pledge_id>/fix")
@verified_required
def fix(pledge_id: int):
    """Where the mail about a failed charge leads: authenticate, or use another card."""
    pledge = _own_pledge(pledge_id)
    campaign = db.session.get(Campaign, pledge.campaign_id)
    if not dunning.can_fix(pledge, campaign):
        flash(
            _("This pledge is %(state)s: there is nothing to fix.", state=pledge.state.label),
            "info",
        )
        return redirect(url_for("pledges.mine"))
    attempt = charging.latest_attempt(pledge.id)
    with _stripe_or_502():
        waiting = dunning.waiting_intent(pledge)
    return _card_page(
        "payments/fix.html",
        pledge,
        campaign,
        attempt=attempt,
        waiting=waiting,
        fix_by=charging.fix_deadline(campaign),
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
        abort(409, description=_("There is no payment waiting for your confirmation."))
    with _stripe_or_502():
        state = charging.refresh_attempt(attempt.id)
    db.session.commit()
    charging.finish_if_done(pledge.campaign_id)
    db.session.commit()
    if state == PledgeState.COLLECTED:
        flash(_("Payment confirmed: thank you! Your order is in."), "success")
    else:
        flash(_("The payment is still not confirmed. Try again, or use another card."), "warning")
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


@bp.get("/account/earnings")
@login_required
def earnings():
    """A designer's royalty account: balance per currency, every entry, payouts."""
    return render_template(
        "payments/earnings.html",
        balances=ledger.balances(current_user.id),
        entries=ledger.entries(current_user.id),
        describe=ledger.describe,
    )
