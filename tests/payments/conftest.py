"""The browser's side of saving a card, for tests that cannot run a browser."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.campaigns.models import CampaignVariant
from marketplace.extensions import db
from payments import gateway

CARDS = {
    "visa": "4242424242424242",
    "declined_at_setup": "4000000000000002",
    "needs_authentication": "4000002500003155",
}


def variant_id(ctx, campaign_id: int, label: str) -> int:
    with ctx():
        return db.session.scalar(
            sa.select(CampaignVariant.id).where(
                CampaignVariant.campaign_id == campaign_id, CampaignVariant.label == label
            )
        )


def browser_confirms(ctx, setup_intent_id: str, card: str = "visa") -> str:
    """What Stripe.js does in the browser: create the card's PaymentMethod and confirm the
    SetupIntent with it, against the same localstripe. Returns the resulting status."""
    with ctx():
        return _confirm(setup_intent_id, card)


def _confirm(setup_intent_id: str, card: str) -> str:
    pm = gateway.client().v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": CARDS[card], "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    try:
        si = gateway.client().v1.setup_intents.confirm(
            setup_intent_id, params={"payment_method": pm.id}
        )
    except Exception as exc:  # noqa: BLE001 (a declined card is an error answer)
        return f"error: {exc}"
    return si.status
