"""Redesign challenges (Decathlon's practice: a product its buyers rate badly is redone with
the community), the reviews each draws on, and the invitations to score a redesign."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from designs.models import Design
from marketplace.accounts.models import User
from marketplace.kernel.dbtypes import StateEnum, UTCDateTime, enum_column, utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.statemachine import StateMachine
from marketplace.reviews.models import Rating


class ChallengeState(StateEnum):
    OPEN = "open"
    #: Submissions are over; no redesign has been selected (yet: its entries may still be
    #: in scoring). The outcome so far is "none".
    CLOSED = "closed"
    #: One of its redesigns was selected for a campaign: that is the outcome.
    REDESIGNED = "redesigned"

    @property
    def label(self) -> str:
        return _CHALLENGE_LABELS[self.value]


_CHALLENGE_LABELS = {
    "open": N_("open for redesigns"),
    "closed": N_("closed to redesigns"),
    "redesigned": N_("redesigned"),
}

CHALLENGE_MACHINE = StateMachine.from_table(
    "redesign_challenge",
    ChallengeState,
    """
    open    close  closed
    open    adopt  redesigned
    closed  adopt  redesigned
    """,
)


class RedesignChallenge(db.Model):
    __tablename__ = "redesign_challenges"
    __audit_type__ = "redesign_challenge"
    __table_args__ = (
        # One open challenge per design, whatever two operators do at the same moment.
        sa.Index(
            "uq_redesign_challenges_open_design",
            "design_id",
            unique=True,
            postgresql_where=sa.text("state = 'open'"),
            sqlite_where=sa.text("state = 'open'"),
        ),
        sa.Index("ix_redesign_challenges_state_deadline", "state", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The produced design to redesign.
    design_id: Mapped[int] = mapped_column(sa.ForeignKey("designs.id"), index=True)
    state: Mapped[ChallengeState] = mapped_column(
        enum_column(ChallengeState), default=ChallengeState.OPEN
    )
    #: Why it is redesigned and what to aim for: public, shown with the challenge.
    brief: Mapped[str] = mapped_column(sa.Text)
    #: Redesigns are accepted until then.
    deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opened_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The outcome: the redesign selected for a campaign, if any.
    outcome_design_id: Mapped[int | None] = mapped_column(sa.ForeignKey("designs.id"))

    design: Mapped[Design] = relationship(foreign_keys=[design_id])
    outcome: Mapped[Design | None] = relationship(foreign_keys=[outcome_design_id])
    opened_by: Mapped[User] = relationship()
    reviews: Mapped[list[ChallengeReview]] = relationship(
        order_by="ChallengeReview.rating_id", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.state == ChallengeState.OPEN


class ChallengeReview(db.Model):
    """A review of the original that the challenge's brief draws on."""

    __tablename__ = "redesign_challenge_reviews"

    challenge_id: Mapped[int] = mapped_column(
        sa.ForeignKey("redesign_challenges.id", ondelete="CASCADE"), primary_key=True
    )
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id"), primary_key=True)

    rating: Mapped[Rating] = relationship()


class RedesignInvitation(db.Model):
    """One person invited to score one redesign: the mail goes once per person and redesign."""

    __tablename__ = "redesign_invitations"
    __table_args__ = (sa.UniqueConstraint("design_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The redesign to score.
    design_id: Mapped[int] = mapped_column(sa.ForeignKey("designs.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
