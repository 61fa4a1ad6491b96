"""Read queries of redesign challenges, named for what they return; they never write."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, selectinload

from designs.models import PUBLIC_STATES, Design
from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.extensions import db
from marketplace.reviews.models import Rating

from .models import ChallengeReview, ChallengeState, RedesignChallenge

#: A campaign whose products were made: its design can be rated, and redesigned.
PRODUCED_STATES = (CampaignState.IN_PRODUCTION, CampaignState.SHIPPED, CampaignState.DELIVERED)


@dataclass(frozen=True)
class Suggestion:
    """A produced design rated badly enough, often enough, to suggest a redesign."""

    design: Design
    campaign: Campaign
    count: int
    average: float


def challenge(challenge_id: int) -> RedesignChallenge | None:
    """The challenge with what its page shows: the design, the reviews and their photos."""
    return db.session.scalar(
        sa.select(RedesignChallenge)
        .where(RedesignChallenge.id == challenge_id)
        .options(
            joinedload(RedesignChallenge.design).joinedload(Design.designer),
            joinedload(RedesignChallenge.outcome),
            selectinload(RedesignChallenge.reviews)
            .joinedload(ChallengeReview.rating)
            .options(selectinload(Rating.photos), joinedload(Rating.user)),
        )
    )


def challenges_of_design(design_id: int) -> Sequence[RedesignChallenge]:
    """Every challenge opened on a design, newest first."""
    return db.session.scalars(
        sa.select(RedesignChallenge)
        .where(RedesignChallenge.design_id == design_id)
        .options(joinedload(RedesignChallenge.outcome))
        .order_by(RedesignChallenge.id.desc())
    ).all()


def open_challenge_of(design_id: int) -> RedesignChallenge | None:
    return db.session.scalar(
        sa.select(RedesignChallenge).where(
            RedesignChallenge.design_id == design_id,
            RedesignChallenge.state == ChallengeState.OPEN,
        )
    )


def open_challenges_for_designer(designer_id: int) -> Sequence[RedesignChallenge]:
    """Open challenges on a designer's own designs, for their "My designs"."""
    return db.session.scalars(
        sa.select(RedesignChallenge)
        .join(Design, Design.id == RedesignChallenge.design_id)
        .where(
            Design.designer_id == designer_id,
            RedesignChallenge.state == ChallengeState.OPEN,
        )
        .options(joinedload(RedesignChallenge.design))
        .order_by(RedesignChallenge.deadline)
    ).all()


def open_challenges() -> Sequence[RedesignChallenge]:
    """Every open challenge, the nearest deadline first, for the console."""
    return db.session.scalars(
        sa.select(RedesignChallenge)
        .where(RedesignChallenge.state == ChallengeState.OPEN)
        .options(joinedload(RedesignChallenge.design))
        .order_by(RedesignChallenge.deadline)
    ).all()


def recent_closed_challenges(limit: int = 20) -> Sequence[RedesignChallenge]:
    return db.session.scalars(
        sa.select(RedesignChallenge)
        .where(RedesignChallenge.state != ChallengeState.OPEN)
        .options(joinedload(RedesignChallenge.design), joinedload(RedesignChallenge.outcome))
        .order_by(RedesignChallenge.closed_at.desc(), RedesignChallenge.id.desc())
        .limit(limit)
    ).all()


def due_challenge_ids(now: dt.datetime) -> list[int]:
    """Open challenges whose deadline has passed."""
    return list(
        db.session.scalars(
            sa.select(RedesignChallenge.id).where(
                RedesignChallenge.state == ChallengeState.OPEN,
                RedesignChallenge.deadline <= now,
            )
        )
    )


def _entry_window(challenge: RedesignChallenge):
    """A challenge's entries are the redesigns of its design begun while it was open: one
    challenge is open at a time per design, so each redesign belongs to one at most."""
    conditions = [
        Design.redesign_of_id == challenge.design_id,
        Design.created_at >= challenge.opened_at,
    ]
    if challenge.closed_at is not None:
        conditions.append(Design.created_at < challenge.closed_at)
    return conditions


def entries(challenge: RedesignChallenge) -> Sequence[Design]:
    """The challenge's published redesigns, oldest first."""
    return db.session.scalars(
        sa.select(Design)
        .where(*_entry_window(challenge), Design.state.in_(PUBLIC_STATES))
        .options(joinedload(Design.designer))
        .order_by(Design.id)
    ).all()


def challenge_of_redesign(redesign: Design) -> RedesignChallenge | None:
    """The challenge a redesign was begun under, if any."""
    if redesign.redesign_of_id is None:
        return None
    return db.session.scalar(
        sa.select(RedesignChallenge)
        .where(
            RedesignChallenge.design_id == redesign.redesign_of_id,
            RedesignChallenge.opened_at <= redesign.created_at,
            sa.or_(
                RedesignChallenge.closed_at.is_(None),
                RedesignChallenge.closed_at > redesign.created_at,
            ),
        )
        .order_by(RedesignChallenge.id.desc())
        .limit(1)
    )


def campaign_of(design_id: int) -> Campaign | None:
    return db.session.scalar(sa.select(Campaign).where(Campaign.design_id == design_id))


def backers_of_design(design_id: int) -> list[int]:
    """Accounts that paid for the design's campaign (their pledge collected)."""
    return list(
        db.session.scalars(
            sa.select(Pledge.backer_id)
            .join(Campaign, Campaign.id == Pledge.campaign_id)
            .where(Campaign.design_id == design_id, Pledge.state == PledgeState.COLLECTED)
            .distinct()
        )
    )


def users(user_ids) -> Sequence[User]:
    ids = sorted(set(user_ids))
    if not ids:
        return []
    return db.session.scalars(sa.select(User).where(User.id.in_(ids)).order_by(User.id)).all()


def ratings_of_design(design_id: int, rating_ids) -> Sequence[Rating]:
    """Of ``rating_ids``, the ratings of that design whose review is shown (not hidden)."""
    ids = list(set(rating_ids))
    if not ids:
        return []
    return db.session.scalars(
        sa.select(Rating).where(
            Rating.id.in_(ids), Rating.design_id == design_id, Rating.hidden.is_(False)
        )
    ).all()


def reviews_to_choose(design_id: int, limit: int = 50) -> Sequence[Rating]:
    """The design's visible reviews with text, lowest score first: what a brief draws on."""
    return db.session.scalars(
        sa.select(Rating)
        .where(Rating.design_id == design_id, Rating.hidden.is_(False), Rating.review != "")
        .order_by(Rating.score, Rating.id.desc())
        .limit(limit)
    ).all()


def _suggested(below: float, min_ratings: int):
    """Produced designs under the bar, without an open challenge: (design id, count, sum)."""
    count = sa.func.count(Rating.id)
    total = sa.func.sum(Rating.score)
    open_challenge = (
        sa.select(RedesignChallenge.id)
        .where(
            RedesignChallenge.design_id == Rating.design_id,
            RedesignChallenge.state == ChallengeState.OPEN,
        )
        .exists()
    )
    return (
        sa.select(Rating.design_id, count.label("count"), total.label("total"))
        .join(Campaign, Campaign.design_id == Rating.design_id)
        .where(Campaign.state.in_(PRODUCED_STATES), ~open_challenge)
        .group_by(Rating.design_id)
        # Compared as sums of whole scores: an average of exactly the bar is not under it,
        # with no rounding of a float mean in the way.
        .having(count >= min_ratings, total < sa.literal(below) * count)
    )


def redesign_suggestions(limit: int = 100) -> list[Suggestion]:
    """Designs to suggest for a redesign challenge, the lowest average first."""
    cfg = current_app.config
    rows = db.session.execute(
        _suggested(cfg["REDESIGN_BELOW"], cfg["REDESIGN_MIN_RATINGS"]).limit(limit)
    ).all()
    if not rows:
        return []
    campaigns = {
        c.design_id: c
        for c in db.session.scalars(
            sa.select(Campaign)
            .where(Campaign.design_id.in_([r.design_id for r in rows]))
            .options(joinedload(Campaign.design).joinedload(Design.designer))
        )
    }
    found = []
    for row in rows:
        campaign = campaigns[row.design_id]
        found.append(Suggestion(campaign.design, campaign, row.count, row.total / row.count))
    return sorted(found, key=lambda s: (s.average, -s.count, s.design.id))


def redesign_suggestion_count() -> int:
    cfg = current_app.config
    inner = _suggested(cfg["REDESIGN_BELOW"], cfg["REDESIGN_MIN_RATINGS"]).subquery()
    return db.session.scalar(sa.select(sa.func.count()).select_from(inner)) or 0
