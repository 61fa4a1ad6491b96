"""The money side of pledges: Stripe customers, saved cards, charge attempts, refunds and the
webhook events Stripe sends."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from flask_babel import gettext, lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.campaigns.models import Pledge
from marketplace.kernel.dbtypes import StateEnum, UTCDateTime, enum_column, utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.statemachine import StateMachine


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


class AttemptStatus(StateEnum):
    #: Recorded before Stripe is called; the PaymentIntent id is added as soon as it exists.
    STARTED = "started"
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"
    #: Given up by us (a new card replaced it) before it succeeded.
    CANCELED = "canceled"

    @property
    def label(self) -> str:
        # In the reader's language, read where it is shown.
        return str(_ATTEMPT_LABELS[self.value])


# In their own context: a charge attempt is "refusée" where a design is "refusé".
_ATTEMPT_LABELS = {
    "started": lazy_pgettext("charge attempt", "started"),
    "succeeded": lazy_pgettext("charge attempt", "succeeded"),
    "declined": lazy_pgettext("charge attempt", "declined"),
    "requires_action": lazy_pgettext("charge attempt", "requires action"),
    "canceled": lazy_pgettext("charge attempt", "canceled"),
}


#: An attempt's moves are audited through its pledge's (PLEDGE_MACHINE), so it has no log of
#: its own; the machine still refuses a move that makes no sense (a succeeded charge declined).
ATTEMPT_MACHINE = StateMachine.from_table(
    "charge_attempt",
    AttemptStatus,
    """
    started          succeed         succeeded
    started          decline         declined
    started          require_action  requires_action
    requires_action  succeed         succeeded
    requires_action  decline         declined
    requires_action  cancel          canceled
    """,
    attribute="status",
)


class ChargeAttempt(db.Model):
    """One try at charging a pledge: the settlement's own record of what it asked Stripe.

    It is written and committed before Stripe hears of it, and its PaymentIntent id is
    committed before that PaymentIntent is confirmed; a PaymentIntent is only ever confirmed
    from its attempt. So whatever dies in between, the attempt says where to look, and a
    second charge for one pledge can only come from a second attempt, which is only started
    once the previous one is known to have failed.
    """

    __tablename__ = "charge_attempts"
    __table_args__ = (
        sa.UniqueConstraint("pledge_id", "number"),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.Index("ix_charge_attempts_status_updated_at", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(sa.ForeignKey("pledges.id"), index=True)
    #: 1 for the settlement's charge, then one more per retry.
    number: Mapped[int]
    #: Why it was made: settlement, new_card, retry (the backer's), auto_retry.
    trigger: Mapped[str] = mapped_column(sa.String(20))
    #: Sent as Stripe's Idempotency-Key and kept in the PaymentIntent's metadata.
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    payment_method_id: Mapped[str] = mapped_column(sa.String(64))
    payment_intent_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    status: Mapped[AttemptStatus] = mapped_column(
        enum_column(AttemptStatus), default=AttemptStatus.STARTED
    )
    #: Stripe's decline code or error code, and its message, safe to show the backer.
    failure_code: Mapped[str | None] = mapped_column(sa.String(64))
    failure_message: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: When the backer was last asked to fix a failed attempt (mail every 48 h).
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    pledge: Mapped[Pledge] = relationship()

    @property
    def failure_text(self) -> str | None:
        """The failure message for the reader: Stripe's own words stay as Stripe wrote them
        (in English); our fallbacks, stored as their English text, are translated."""
        return gettext(self.failure_message) if self.failure_message else None


class RefundStatus(enum.StrEnum):
    REQUESTED = "requested"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return gettext(_REFUND_LABELS[self.value])


_REFUND_LABELS = {
    "requested": N_("requested"),
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
}


REFUND_MACHINE = StateMachine.from_table(
    "refund",
    RefundStatus,
    """
    requested  succeed  succeeded
    requested  fail     failed
    """,
    attribute="status",
)


class Refund(db.Model):
    """Giving back a collected pledge's money, in full.

    Unique per pledge: a pledge is refunded once, for what its succeeded attempt collected.
    """

    __tablename__ = "refunds"
    __table_args__ = (sa.CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(sa.ForeignKey("pledges.id"), unique=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("charge_attempts.id"))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    reason: Mapped[str] = mapped_column(sa.Text)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    stripe_refund_id: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    status: Mapped[RefundStatus] = mapped_column(
        enum_column(RefundStatus), default=RefundStatus.REQUESTED
    )
    failure_message: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    pledge: Mapped[Pledge] = relationship()


class WebhookEvent(db.Model):
    """A Stripe event as it arrived: stored once (unique event id), then processed by a job."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    type: Mapped[str] = mapped_column(sa.String(80))
    #: The object the event is about (a PaymentIntent id, say).
    object_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    payload: Mapped[dict] = mapped_column(sa.JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: What processing did, for operators: "pledge 12 collected", "ignored: unknown intent".
    result: Mapped[str | None] = mapped_column(sa.String(200))


class LedgerKind(enum.StrEnum):
    #: The designer's share of a run's net collected money (positive).
    ROYALTY = "royalty"
    #: Undoes (part of) an earlier entry, never edits it (negative for a royalty).
    REVERSAL = "reversal"
    #: Money paid out to the designer (negative).
    PAYOUT = "payout"

    @property
    def label(self) -> str:
        return gettext(_LEDGER_LABELS[self.value])


_LEDGER_LABELS = {
    "royalty": N_("royalty"),
    "reversal": N_("reversal"),
    "payout": N_("payout"),
}


class LedgerEntry(db.Model):
    """One line of a designer's royalty account, in minor units. Entries are only ever
    added: a mistake or a refund is corrected by a reversal entry pointing at the original,
    and the balance is the sum. A Stripe Connect transfer will be one more payout entry
    (its transfer id in ``payout_reference``)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        sa.CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        sa.CheckConstraint(
            "(kind = 'royalty' AND amount_cents > 0 AND run_id IS NOT NULL)"
            " OR (kind = 'reversal' AND reverses_id IS NOT NULL)"
            " OR (kind = 'payout' AND amount_cents < 0)",
            name="kind_shape",
        ),
        sa.Index("ix_ledger_entries_designer_id_id", "designer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    designer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    kind: Mapped[LedgerKind] = mapped_column(enum_column(LedgerKind))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(sa.String(3))
    campaign_id: Mapped[int | None] = mapped_column(sa.ForeignKey("campaigns.id"))
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("production_runs.id"), index=True)
    reverses_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_entries.id"))
    #: For payouts: the bank transfer's reference (later, a Stripe transfer id).
    payout_reference: Mapped[str | None] = mapped_column(sa.String(120))
    note: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


@sa.event.listens_for(LedgerEntry, "before_update")
@sa.event.listens_for(LedgerEntry, "before_delete")
def _ledger_is_append_only(_mapper, _connection, entry: LedgerEntry) -> None:
    raise ValueError(f"ledger entry {entry.id} is never changed: add a reversal instead")
