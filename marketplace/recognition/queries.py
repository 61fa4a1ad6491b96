"""Read queries of recognition: what a person did, in public facts only, and who scored and
backed a designer's designs. Never a score's value, never an amount pledged."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from designs.models import PUBLIC_STATES, Design, Vote
from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, Pledge, PledgeState
from marketplace.kernel.extensions import db
from marketplace.reviews.models import Rating

from .badges import BACKING_STATES, SELECTED_STATES

#: The most campaigns and scouted designs a profile lists (the counts are exact).
LISTED = 50


def person(user_id: int) -> User | None:
    """The account whose profile may be shown: a verified one. An unverified account may be
    someone else's address typed by mistake: it has no public page."""
    found = db.session.get(User, user_id)
    return found if found is not None and found.is_verified else None


@dataclass(frozen=True)
class Contributions:
    public_designs: int
    scores_given: int
    #: Designs the person scored that were then selected, newest first (at most LISTED).
    scored_selected: list[Design]
    scored_selected_count: int
    #: Public campaigns the person backs or backed, newest first (at most LISTED).
    backed: list[Campaign]
    backed_count: int
    #: Reviews shown to everyone (text, not hidden by moderation).
    reviews: int


def _count(stmt) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))


def contributions(user_id: int) -> Contributions:
    public = sa.select(Design.id).where(
        Design.designer_id == user_id, Design.state.in_(PUBLIC_STATES)
    )
    scored_selected = (
        sa.select(Design)
        .join(Vote, Vote.design_id == Design.id)
        .where(Vote.user_id == user_id, Design.state.in_(SELECTED_STATES))
    )
    backed_ids = (
        sa.select(Pledge.campaign_id)
        .where(Pledge.backer_id == user_id, Pledge.state.in_(BACKING_STATES))
        .distinct()
    )
    backed = sa.select(Campaign).where(Campaign.id.in_(backed_ids))
    return Contributions(
        public_designs=_count(public),
        scores_given=_count(sa.select(Vote.id).where(Vote.user_id == user_id)),
        scored_selected=list(
            db.session.scalars(scored_selected.order_by(Design.id.desc()).limit(LISTED))
        ),
        scored_selected_count=_count(scored_selected),
        backed=list(
            db.session.scalars(
                backed.options(joinedload(Campaign.design))
                .order_by(Campaign.id.desc())
                .limit(LISTED)
            )
        ),
        backed_count=_count(backed),
        reviews=_count(
            sa.select(Rating.id).where(
                Rating.user_id == user_id,
                sa.func.trim(Rating.review) != "",
                sa.not_(Rating.hidden),
            )
        ),
    )


def backer_counts(design_ids: list[int]) -> dict[int, int]:
    """{design id: how many people back (or backed) its campaign}."""
    if not design_ids:
        return {}
    rows = db.session.execute(
        sa.select(Campaign.design_id, sa.func.count(sa.distinct(Pledge.backer_id)))
        .join(Pledge, Pledge.campaign_id == Campaign.id)
        .where(Campaign.design_id.in_(design_ids), Pledge.state.in_(BACKING_STATES))
        .group_by(Campaign.design_id)
    )
    return {design_id: count for design_id, count in rows}


@dataclass(frozen=True)
class Settled:
    backers: int
    units: int
    percent_of_goal: int


def settled_figures(campaign: Campaign) -> Settled:
    """A settled campaign's final numbers: the backers and units paid for, against the goal."""
    backers, units = db.session.execute(
        sa.select(
            sa.func.count(sa.distinct(Pledge.backer_id)),
            sa.func.coalesce(sa.func.sum(Pledge.quantity), 0),
        ).where(Pledge.campaign_id == campaign.id, Pledge.state == PledgeState.COLLECTED)
    ).one()
    return Settled(backers, units, int(100 * units / campaign.goal_units))
