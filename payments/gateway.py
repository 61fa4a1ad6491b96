"""The one place that talks to Stripe, through the official library.

``STRIPE_API_BASE`` points it at localstripe in development and tests. Every call has a
timeout; retries and rate limiting are the settlement's business and come with it.
"""

from __future__ import annotations

import stripe
from flask import current_app

#: Seconds to connect, seconds to read: a hung Stripe must not hang a worker.
TIMEOUT = (5, 30)


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


def create_customer(email: str, user_id: int) -> str:
    """A Stripe Customer for an account; returns its id."""
    customer = client().v1.customers.create(
        params={"email": email, "metadata": {"user_id": str(user_id)}}
    )
    return customer.id


def retrieve_customer_email(customer_id: str) -> str | None:
    return client().v1.customers.retrieve(customer_id).email
