"""Accounts, the audit log and the mail outbox: the core every other package builds on."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .dbtypes import UTCDateTime, enum_column, utcnow
from .extensions import db


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-cased, so uniqueness ignores case.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(60))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    is_operator: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    #: Version of the designer licence the account accepted; None means not a designer.
    designer_terms_version: Mapped[str | None] = mapped_column(sa.String(20))
    designer_terms_accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: Part of the login session id: bumping it (password reset) logs out every session.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_designer(self) -> bool:
        return self.designer_terms_version is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


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

    actor: Mapped[User | None] = relationship()


class MailStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


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
