"""The money side of pledges: Stripe customers and the card set-ups that save cards."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.campaigns.models import Pledge  # noqa: F401 (the table the set-ups point at)
from marketplace.dbtypes import UTCDateTime, utcnow
from marketplace.extensions import db


class StripeCustomer(db.Model):
    """One Stripe Customer per account, created at its first pledge and reused."""

    __tablename__ = "stripe_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    customer_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CardSetup(db.Model):
    """A SetupIntent made for one pledge: saving its first card, or replacing it.

    Unique on the SetupIntent id, so one confirmed SetupIntent can never vouch for a second
    pledge, and ``used_at`` makes confirming it twice a no-op.
    """

    __tablename__ = "card_setups"

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(sa.ForeignKey("pledges.id"), index=True)
    setup_intent_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_secret: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
