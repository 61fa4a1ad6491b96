"""Payments' test helpers: the browser's side of saving a card (for tests without a
browser), pledges with cards saved in localstripe, and Stripe behind a fault proxy."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from marketplace.campaigns.models import CampaignVariant
from marketplace.kernel.extensions import db
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


#: Cards whose trouble shows only when charged (localstripe's test numbers).
CHARGE_CARDS = {
    "visa": "4242424242424242",
    "declined_at_charge": "4000000000000341",
    "needs_authentication": "4000002500003155",
}


def saved_card(user_id: int, card: str = "visa") -> tuple[str, str]:
    """What a pledge's SetupIntent leaves behind: the backer's Customer and a card
    PaymentMethod attached to it. Call inside an app context."""
    from marketplace.accounts.models import User
    from payments.customers import customer_for

    customer_id = customer_for(db.session.get(User, user_id))
    pm = gateway.client().v1.payment_methods.create(
        params={
            "type": "card",
            "card": {
                "number": CHARGE_CARDS[card],
                "exp_month": 12,
                "exp_year": 2034,
                "cvc": "123",
            },
        }
    )
    gateway.client().v1.payment_methods.attach(pm.id, params={"customer": customer_id})
    return customer_id, pm.id


def add_pledges(ctx, campaign_id: int, specs) -> list[int]:
    """Active pledges with saved cards, as if backers had pledged: ``specs`` is a list of
    (backer id, variant label, quantity, card). Returns the pledge ids."""
    import secrets

    from marketplace.campaigns.models import Campaign, Pledge, PledgeState

    ids = []
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        for backer_id, label, quantity, card in specs:
            _, pm_id = saved_card(backer_id, card)
            variant = next(v for v in campaign.variants if v.label == label)
            variant.reserved_units += quantity
            pledge = Pledge(
                campaign_id=campaign_id,
                backer_id=backer_id,
                variant_id=variant.id,
                quantity=quantity,
                amount_cents=campaign.unit_price_cents * quantity,
                currency=campaign.currency,
                state=PledgeState.ACTIVE,
                idempotency_key=secrets.token_urlsafe(24),
                payment_method_id=pm_id,
                card_summary=f"Visa •••• {CHARGE_CARDS[card][-4:]}",
            )
            db.session.add(pledge)
            db.session.flush()
            ids.append(pledge.id)
        db.session.commit()
    return ids


def succeeded_intents() -> dict[str, list]:
    """Stripe's succeeded PaymentIntents, by the pledge id in their metadata."""
    found: dict[str, list] = {}
    for pi in gateway.client().v1.payment_intents.list(params={"limit": 100}).auto_paging_iter():
        if pi.status == "succeeded":
            found.setdefault(pi.metadata["pledge_id"], []).append(pi)
    return found


# --- Stripe behind a fault-injecting proxy ----------------------------------------------------


#: The client's read timeout behind the fault proxy: short, since every hang costs one.
FAULT_READ_TIMEOUT = 1.0


@pytest.fixture
def fault_proxy(app, stripe_server):
    """A :class:`~tests.payments.faultproxy.FaultProxy` in front of this test's localstripe,
    with the app's Stripe client pointed at it (and a short read timeout); all put back
    afterwards."""
    from tests.payments.faultproxy import FaultProxy

    proxy = FaultProxy(stripe_server, hang_seconds=FAULT_READ_TIMEOUT + 1).start()
    saved_config = {key: app.config[key] for key in ("STRIPE_API_BASE", "STRIPE_READ_TIMEOUT")}
    saved_client = app.extensions.pop("stripe_client", None)
    app.config.update(STRIPE_API_BASE=proxy.url, STRIPE_READ_TIMEOUT=FAULT_READ_TIMEOUT)
    try:
        yield proxy
    finally:
        app.config.update(saved_config)
        app.extensions.pop("stripe_client", None)
        if saved_client is not None:
            app.extensions["stripe_client"] = saved_client
        proxy.stop()
