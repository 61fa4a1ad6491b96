"""Designs, their artwork, tags and variants, the community's votes, and comments."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.kernel.dbtypes import StateEnum, UTCDateTime, enum_column, utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.statemachine import StateMachine


class DesignState(StateEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    DECLINED = "declined"
    VOTING = "voting"
    SCORED = "scored"
    SHORTLISTED = "shortlisted"
    NOT_SELECTED = "not_selected"
    SELECTED = "selected"
    CAMPAIGN = "campaign"

    @property
    def label(self) -> str:
        # What visitors read on badges and in messages (in English: pages translate it with
        # ``_()``): the stored names are for us.
        return _DESIGN_LABELS.get(self.value) or super().label


_DESIGN_LABELS = {
    "draft": N_("draft"),
    "submitted": N_("submitted"),
    "declined": N_("declined"),
    "voting": N_("open for scoring"),
    "scored": N_("scored"),
    "shortlisted": N_("shortlisted"),
    "not_selected": N_("not selected"),
    "selected": N_("selected"),
    "campaign": N_("in a campaign"),
}

S = DesignState
DESIGN_MACHINE = StateMachine.from_table(
    "design",
    DesignState,
    """
    draft        submit         submitted
    submitted    approve        voting
    submitted    decline        declined
    declined     revise         draft
    voting       close_voting   scored
    scored       shortlist      shortlisted
    scored       reject         not_selected
    not_selected shortlist      shortlisted
    shortlisted  reject         not_selected
    shortlisted  select         selected
    selected     open_campaign  campaign
    """,
)

#: States anyone may see; the others only the designer and operators.
PUBLIC_STATES = (S.VOTING, S.SCORED, S.SHORTLISTED, S.NOT_SELECTED, S.SELECTED, S.CAMPAIGN)
#: States whose scores are final and public.
CLOSED_STATES = (S.SCORED, S.SHORTLISTED, S.NOT_SELECTED, S.SELECTED, S.CAMPAIGN)

#: Why a submitted design is declined at the quality check (shown to the designer and public,
#: translated where shown).
DECLINE_REASONS = {
    "off_brief": N_("Off-brief: it does not fit the product or the current call"),
    "quality": N_("Quality: the artwork would not print well"),
    "ip_concern": N_("IP concern: it may use someone else's work or trademark"),
    "duplicate": N_("Duplicate of a design already submitted"),
    "guidelines": N_("Against the community guidelines"),
}
#: Why a scored design goes no further.
NOT_SELECTED_REASONS = {
    "too_few_votes": N_("Too few votes to judge"),
    "below_bar": N_("Score below the shortlist bar"),
    "production": N_("Cannot be produced at a fair price"),
    "ip_concern": N_("IP concern found during review"),
    "other_selected": N_("A similar design was selected instead"),
}


class Product(db.Model):
    """What a design is for (t-shirt, poster, mug...); operators manage the list."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    #: Variants suggested to designers, comma-separated ("S, M, L, XL").
    variant_hint: Mapped[str] = mapped_column(sa.String(200), default="")
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())


class DesignTag(db.Model):
    __tablename__ = "design_tags"
    __table_args__ = (sa.Index("ix_design_tags_tag_design_id", "tag", "design_id"),)

    design_id: Mapped[int] = mapped_column(
        sa.ForeignKey("designs.id", ondelete="CASCADE"), primary_key=True
    )
    #: Lower-case, so filtering by tag is an index lookup.
    tag: Mapped[str] = mapped_column(sa.String(30), primary_key=True)


class DesignFigures:
    """What a design's state and counters say, for the row and for what its page reads of
    them on every request without loading it (``designs.queries.DesignNow``)."""

    @property
    def is_closed(self) -> bool:
        return self.state in CLOSED_STATES

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.vote_count if self.vote_count else None


class Design(DesignFigures, db.Model):
    __tablename__ = "designs"
    __audit_type__ = "design"
    __table_args__ = (
        sa.CheckConstraint("vote_count >= 0", name="vote_count_not_negative"),
        sa.CheckConstraint("buy_count >= 0 AND buy_count <= vote_count", name="buy_count_in_range"),
        sa.CheckConstraint(
            "score_sum >= 0 AND score_sum <= 5 * vote_count", name="score_sum_in_range"
        ),
        sa.Index("ix_designs_state_created_at", "state", "created_at"),
        sa.Index("ix_designs_state_voting_closes_at", "state", "voting_closes_at"),
        # "Top ranked" lists closed designs across several states; only closed designs have a
        # rank score, so one index in rank order serves every such filter. (The migration
        # makes SQLite's without NULLS LAST, which SQLite's DESC order gives anyway.)
        sa.Index(
            "ix_designs_rank_score_id",
            sa.text("rank_score DESC NULLS LAST"),
            sa.text("id DESC"),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    designer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"))
    title: Mapped[str] = mapped_column(sa.String(80))
    #: Plain text; line breaks are kept when shown, HTML never interpreted.
    description: Mapped[str] = mapped_column(sa.Text, default="")
    state: Mapped[DesignState] = mapped_column(enum_column(DesignState), default=DesignState.DRAFT)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    #: Random folder name under UPLOAD_DIR/artwork; never the client's file name.
    artwork_key: Mapped[str] = mapped_column(sa.String(64))
    artwork_width: Mapped[int]
    artwork_height: Mapped[int]
    artwork_format: Mapped[str] = mapped_column(sa.String(10))

    #: Version of the licence terms the designer accepted when submitting.
    terms_version: Mapped[str | None] = mapped_column(sa.String(20))
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    voting_opens_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    voting_closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    #: Key of DECLINE_REASONS or NOT_SELECTED_REASONS for the last negative decision.
    decision_reason: Mapped[str | None] = mapped_column(sa.String(30))
    decision_message: Mapped[str | None] = mapped_column(sa.Text)

    #: Running totals, kept under the design's row lock by every vote.
    vote_count: Mapped[int] = mapped_column(default=0, server_default="0")
    score_sum: Mapped[int] = mapped_column(default=0, server_default="0")
    buy_count: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Frozen when voting closes (see designs.ranking): the Bayesian average of the scores,
    #: the Wilson lower bound of the buy intent, and their combination that ranks designs.
    bayes_score: Mapped[float | None]
    buy_lower_bound: Mapped[float | None]
    rank_score: Mapped[float | None]

    #: The design this one redesigns (Decathlon's practice: a badly rated product redone).
    redesign_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("designs.id"), index=True)
    #: What the redesigner changed, in their words: public, required for a redesign.
    what_changed: Mapped[str | None] = mapped_column(sa.Text)

    designer: Mapped[User] = relationship(foreign_keys=[designer_id])
    product: Mapped[Product] = relationship()
    redesign_of: Mapped[Design | None] = relationship(remote_side=[id])
    tags: Mapped[list[DesignTag]] = relationship(
        order_by=DesignTag.tag, cascade="all, delete-orphan"
    )
    variants: Mapped[list[DesignVariant]] = relationship(
        back_populates="design", order_by="DesignVariant.position", cascade="all, delete-orphan"
    )

    @property
    def tag_names(self) -> list[str]:
        return [t.tag for t in self.tags]

    @property
    def is_public(self) -> bool:
        return self.state in PUBLIC_STATES

    @property
    def decision_reason_text(self) -> str | None:
        """The reason of the last negative decision, in English (translate it where shown)."""
        if not self.decision_reason:
            return None
        reasons = {**NOT_SELECTED_REASONS, **DECLINE_REASONS}
        return reasons.get(self.decision_reason, self.decision_reason)

    def visible_to(self, user) -> bool:
        return self.visible(self.state, self.designer_id, user)

    @staticmethod
    def visible(state: DesignState, designer_id: int, user) -> bool:
        """Public designs to everyone; the others to their designer and operators (also for
        callers that read these two columns without loading the design)."""
        if state in PUBLIC_STATES:
            return True
        return bool(
            user is not None
            and user.is_authenticated
            and (user.id == designer_id or user.is_operator)
        )


class DesignVariant(db.Model):
    """A variant the designer proposes (a size, a colour); voters say which they would buy."""

    __tablename__ = "design_variants"
    __table_args__ = (sa.UniqueConstraint("design_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    design_id: Mapped[int] = mapped_column(sa.ForeignKey("designs.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(sa.String(40))
    position: Mapped[int] = mapped_column(default=0)

    design: Mapped[Design] = relationship(back_populates="variants")


class Vote(db.Model):
    """One account's score of one design; changeable until the window closes."""

    __tablename__ = "votes"
    __table_args__ = (
        sa.UniqueConstraint("design_id", "user_id"),
        sa.CheckConstraint("score >= 0 AND score <= 5", name="score_0_to_5"),
        sa.CheckConstraint("variant_id IS NULL OR would_buy", name="variant_only_if_buying"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    design_id: Mapped[int] = mapped_column(sa.ForeignKey("designs.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    score: Mapped[int] = mapped_column(sa.SmallInteger)
    would_buy: Mapped[bool] = mapped_column(default=False)
    variant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("design_variants.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Comment(db.Model):
    __tablename__ = "comments"
    __audit_type__ = "comment"
    __table_args__ = (sa.Index("ix_comments_design_id_created_at", "design_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    design_id: Mapped[int] = mapped_column(sa.ForeignKey("designs.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Hidden by reports (awaiting review) or by an operator.
    hidden: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    report_count: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Set when an operator has looked at it; reports after that do not hide it again.
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    author: Mapped[User] = relationship(foreign_keys=[author_id])


class CommentReport(db.Model):
    __tablename__ = "comment_reports"
    __table_args__ = (sa.UniqueConstraint("comment_id", "reporter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comments.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
