"""The money side of pledging: a Stripe Customer per account, and cards saved through
SetupIntents that the server checks with Stripe itself. Nothing here charges anyone.

Functions flush and never commit; Stripe calls happen before the caller's commit, and every
object they create is recorded (customer, SetupIntent) so that a retry reuses it.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from marketplace.accounts.models import User
from marketplace.campaigns import services as campaigns
from marketplace.campaigns.models import Pledge, PledgeState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.errors import ServiceError
from marketplace.kernel.extensions import db

from . import dunning, gateway
from .charging import SettlementError
from .customers import customer_for
from .models import CardSetup, StripeCustomer


class CardError(ServiceError):
    """The card could not be saved."""


def open_card_setup(pledge: Pledge, user: User) -> CardSetup:
    """The SetupIntent the card form confirms: the pledge's unused one, or a new one."""
    if pledge.backer_id != user.id:
        raise CardError(_("No such pledge."), 404)
    if not pledge.is_changeable and not dunning.can_fix(pledge, pledge.campaign):
        raise CardError(
            _("This pledge is %(state)s: its card can no longer change.", state=pledge.state.label),
            409,
        )
    unused = db.session.scalar(
        sa.select(CardSetup)
        .where(CardSetup.pledge_id == pledge.id, CardSetup.used_at.is_(None))
        .order_by(CardSetup.id.desc())
    )
    if unused is not None:
        return unused
    info = gateway.create_setup_intent(customer_for(user), pledge.id)
    setup = CardSetup(
        pledge_id=pledge.id, setup_intent_id=info.id, client_secret=info.client_secret
    )
    db.session.add(setup)
    db.session.flush()
    return setup


def confirm_card(pledge_id: int, user: User, setup_intent_id: str) -> Pledge:
    """Activate a pledge (or replace its card) once Stripe says its SetupIntent succeeded.

    The browser only says which SetupIntent it confirmed; everything that matters is asked
    of Stripe: the SetupIntent must be one we made for this very pledge, belong to this
    account's Customer, have succeeded, and not have been used already.
    """
    pledge = campaigns.lock_pledge(pledge_id)
    if pledge is None or pledge.backer_id != user.id:
        raise CardError(_("No such pledge."), 404)
    setup = db.session.scalar(
        sa.select(CardSetup).where(CardSetup.setup_intent_id == setup_intent_id).with_for_update()
    )
    if setup is None or setup.pledge_id != pledge.id:
        raise CardError(_("This card confirmation does not belong to this pledge."), 422)
    if setup.used_at is not None:
        if pledge.state in (PledgeState.ACTIVE, PledgeState.CHARGING, PledgeState.COLLECTED):
            return pledge  # the same confirmation posted twice
        raise CardError(_("This card confirmation was already used."), 409)
    customer_id = db.session.scalar(
        sa.select(StripeCustomer.customer_id).where(StripeCustomer.user_id == user.id)
    )
    info = gateway.retrieve_setup_intent(setup.setup_intent_id)
    if info.customer != customer_id or info.metadata.get("pledge_id") != str(pledge.id):
        raise CardError(_("This card confirmation does not belong to your account."), 422)
    if info.status != "succeeded" or not info.payment_method:
        raise CardError(
            _(
                "Your card is not saved yet: finish the confirmation (or authentication) in "
                "the card form, or try another card."
            ),
            422,
        )
    setup.used_at = utcnow()
    summary = gateway.card_summary(info.payment_method)
    try:
        if pledge.state in (PledgeState.ERRORED, PledgeState.ACTION_REQUIRED):
            dunning.use_new_card(pledge, user, info.payment_method, summary)
        else:
            campaigns.activate_pledge(pledge, user, info.payment_method, summary)
    except (campaigns.CampaignError, SettlementError) as exc:
        raise CardError(exc.message, exc.status) from exc
    return pledge
