"""The thanks sent to the people who made a design happen: one row per person and event."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.kernel.dbtypes import UTCDateTime, utcnow
from marketplace.kernel.extensions import db

#: Someone scored a design that was then selected (subject: the design).
SCORED = "scored"
#: Someone's pledge was collected in a campaign that settled (subject: the campaign).
BACKED = "backed"
THANKS_EVENTS = (SCORED, BACKED)


class Thanks(db.Model):
    """A thank-you mail queued for one person about one event. The unique key is what makes a
    repeated event, or a job run twice (or two at once), send nothing more: the mail is queued
    only by the transaction whose insert won."""

    __tablename__ = "thanks"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "event", "subject_id"),
        sa.CheckConstraint("event IN ('scored', 'backed')", name="known_event"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(20))
    #: The design (``scored``) or campaign (``backed``) thanked for.
    subject_id: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
