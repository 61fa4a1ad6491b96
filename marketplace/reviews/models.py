"""Ratings of delivered products, their photos and reports, and the mail asking for them."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign
from marketplace.kernel.dbtypes import UTCDateTime, utcnow
from marketplace.kernel.extensions import db

#: Longest review accepted, in characters (form and service).
REVIEW_MAX_CHARS = 5000
#: Photos a rating may carry.
MAX_PHOTOS = 3


class Rating(db.Model):
    """A backer's score (1-5) and optional review of a product they received: one per
    order. The score always counts in the averages; moderation hides the text and photos."""

    __tablename__ = "ratings"
    __audit_type__ = "rating"
    __table_args__ = (
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="score_1_to_5"),
        sa.CheckConstraint(
            "recommend IS NULL OR recommend BETWEEN 0 AND 10", name="recommend_0_to_10"
        ),
        sa.Index("ix_ratings_design_id_created_at", "design_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"), index=True)
    design_id: Mapped[int] = mapped_column(sa.ForeignKey("designs.id"))
    score: Mapped[int]
    review: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    #: The 0-10 answer to "how likely are you to recommend us", optional, private: only
    #: counted in the operators' KPIs (net promoter score), never shown publicly.
    recommend: Mapped[int | None] = mapped_column(sa.SmallInteger)
    #: When first written: the 30-day edit window counts from here.
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The review's text and photos are hidden by reports (awaiting review) or an operator.
    hidden: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    report_count: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Set when an operator has looked at it; reports after that do not hide it again.
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    #: The designer's public answer, written once.
    reply: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    replied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    campaign: Mapped[Campaign] = relationship()
    photos: Mapped[list[RatingPhoto]] = relationship(
        back_populates="rating", order_by="RatingPhoto.position", cascade="all, delete-orphan"
    )


class RatingPhoto(db.Model):
    __tablename__ = "rating_photos"
    __table_args__ = (sa.UniqueConstraint("rating_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id", ondelete="CASCADE"))
    #: The stored image's key (see ``designs.images``), served in several sizes.
    image_key: Mapped[str] = mapped_column(sa.String(64))
    position: Mapped[int] = mapped_column(default=0)

    rating: Mapped[Rating] = relationship(back_populates="photos")


class RatingReport(db.Model):
    __tablename__ = "rating_reports"
    __table_args__ = (sa.UniqueConstraint("rating_id", "reporter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RatingRequest(db.Model):
    """When an order's backer was asked to rate it, and reminded: each mail once."""

    __tablename__ = "rating_requests"

    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id"), primary_key=True)
    asked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
