"""The kernel's tables: the audit log, the mail outbox and the mail people turned off.

Each names accounts by id only (a foreign key to ``users``), so every package can log and
mail here without the kernel importing the accounts package.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .dbtypes import UTCDateTime, enum_column, utcnow
from .extensions import db
from .statemachine import StateMachine


class AuditEvent(db.Model):
    """One line of the audit log: who did what to which record, and why.

    Rows are only ever inserted. Subjects are named by type and id rather than by foreign key
    so that every package can log here without the core knowing its tables.
    """

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    #: None for the system itself (scheduled jobs, webhooks).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    subject_type: Mapped[str] = mapped_column(sa.String(40))
    subject_id: Mapped[int | None]
    from_state: Mapped[str | None] = mapped_column(sa.String(30))
    to_state: Mapped[str | None] = mapped_column(sa.String(30))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)

    actor: Mapped[User | None] = relationship("User")  # noqa: F821


class MailStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


MAIL_MACHINE = StateMachine.from_table(
    "mail",
    MailStatus,
    """
    pending  claim    sending
    sending  sent     sent
    # release: the SMTP server failed (tried again later), or the sender died (swept back)
    sending  release  pending
    sending  fail     failed
    """,
    attribute="status",
)


class OutboxMail(db.Model):
    """A mail rendered in the transaction of the change that causes it, sent after commit.

    A rolled-back change takes its mail with it; a committed one keeps it until a worker has
    handed it to the SMTP server.
    """

    __tablename__ = "outbox_mails"
    __table_args__ = (sa.Index("ix_outbox_mails_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    to_address: Mapped[str] = mapped_column(sa.String(254))
    #: The account it was written for, if any, so a person's mail can be listed.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    #: Which template produced it ("verify_email", "password_reset"...), for tests and support.
    kind: Mapped[str] = mapped_column(sa.String(60))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body_text: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[MailStatus] = mapped_column(enum_column(MailStatus), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    #: When a worker claimed it; a claim older than the sweep horizon is a dead worker's.
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    #: The signed link that turns this mail's topic off (the List-Unsubscribe header); None
    #: for essential mail and mail to a bare address, which nobody can turn off.
    unsubscribe_url: Mapped[str | None] = mapped_column(sa.Text)


class MailOptOut(db.Model):
    """A topic of optional mail (``mail.TOPICS``) that an account turned off: no row, the
    mail is sent. Essential mail has no topic, so it cannot be turned off here."""

    __tablename__ = "mail_opt_outs"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
