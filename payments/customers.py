"""One Stripe Customer per account, shared by the card set-ups and settlement."""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.kernel.extensions import db

from . import gateway
from .models import StripeCustomer


def customer_for(user: User) -> str:
    """The account's Stripe Customer, created at its first pledge.

    The user's row is locked first, so two first pledges at the same moment create one
    Customer between them.
    """
    db.session.execute(sa.select(User.id).where(User.id == user.id).with_for_update())
    existing = db.session.scalar(
        sa.select(StripeCustomer.customer_id).where(StripeCustomer.user_id == user.id)
    )
    if existing:
        return existing
    customer_id = gateway.create_customer(user.email, user.id)
    db.session.add(StripeCustomer(user_id=user.id, customer_id=customer_id))
    db.session.flush()
    return customer_id
