"""The one place that talks to Stripe, through the official library.

``STRIPE_API_BASE`` points it at localstripe in development and tests. Every call has a
timeout; retries and rate limiting come with settlement.
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from flask import current_app

#: Seconds to connect, seconds to read: a hung Stripe must not hang a worker.
TIMEOUT = (5, 30)


class GatewayError(Exception):
    """Stripe could not be reached or refused the call; the message is safe to show."""


def client() -> stripe.StripeClient:
    app = current_app._get_current_object()
    cached = app.extensions.get("stripe_client")
    if cached is None:
        cfg = app.config
        base = cfg["STRIPE_API_BASE"]
        cached = stripe.StripeClient(
            cfg["STRIPE_SECRET_KEY"],
            base_addresses={"api": base} if base else None,
            http_client=stripe.RequestsClient(timeout=TIMEOUT),
            max_network_retries=0,
        )
        app.extensions["stripe_client"] = cached
    return cached


def _call(what: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except stripe.StripeError as exc:
        current_app.logger.warning("stripe %s failed: %s", what, exc)
        raise GatewayError(
            "Our payment provider did not answer as expected. Nothing was charged; "
            "please try again."
        ) from exc


def create_customer(email: str, user_id: int) -> str:
    """A Stripe Customer for an account; returns its id."""
    customer = _call(
        "customer create",
        client().v1.customers.create,
        params={"email": email, "metadata": {"user_id": str(user_id)}},
    )
    return customer.id


def retrieve_customer_email(customer_id: str) -> str | None:
    return _call("customer retrieve", client().v1.customers.retrieve, customer_id).email


@dataclass(frozen=True)
class SetupIntentInfo:
    id: str
    client_secret: str
    status: str
    customer: str | None
    payment_method: str | None
    metadata: dict


def _info(si) -> SetupIntentInfo:
    return SetupIntentInfo(
        id=si.id,
        client_secret=si.client_secret,
        status=si.status,
        customer=si.customer,
        payment_method=si.payment_method,
        metadata=si.metadata.to_dict() if si.metadata else {},
    )


def create_setup_intent(customer_id: str, pledge_id: int) -> SetupIntentInfo:
    """A SetupIntent that saves a card for charges made later, with nobody present
    (``usage=off_session``): authentication happens now, in the backer's browser."""
    si = _call(
        "setup intent create",
        client().v1.setup_intents.create,
        params={
            "customer": customer_id,
            "usage": "off_session",
            "payment_method_types": ["card"],
            "metadata": {"pledge_id": str(pledge_id)},
        },
    )
    return _info(si)


def retrieve_setup_intent(setup_intent_id: str) -> SetupIntentInfo:
    return _info(
        _call("setup intent retrieve", client().v1.setup_intents.retrieve, setup_intent_id)
    )


def card_summary(payment_method_id: str) -> str:
    """'Visa •••• 4242', for the backer's pledge list."""
    pm = _call("payment method retrieve", client().v1.payment_methods.retrieve, payment_method_id)
    card = getattr(pm, "card", None)
    if not card:
        return "card"
    return f"{str(card.brand).title()} •••• {card.last4}"


def list_payment_intents(limit: int = 100) -> list:
    """For tests and operators' checks: the PaymentIntents Stripe knows of."""
    return list(
        _call("payment intent list", client().v1.payment_intents.list, params={"limit": limit}).data
    )
