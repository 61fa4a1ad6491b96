"""Read queries of ratings and reviews, named for what they return; they never write."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from marketplace.kernel.extensions import db
from marketplace.production.models import Order, OrderState

from .models import Rating, RatingReport


@dataclass(frozen=True)
class RatingSummary:
    """Every rating of a design counted (a hidden review's score counts too)."""

    count: int = 0
    #: The mean score, or None without ratings.
    average: float | None = None
    #: {score: how many}, every score 1..5 present.
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))


def summaries(design_ids: Iterable[int]) -> dict[int, RatingSummary]:
    """{design_id: RatingSummary} for each id asked, an empty summary for one not rated."""
    ids = sorted(set(design_ids))
    counts: dict[int, dict[int, int]] = {i: dict.fromkeys(range(1, 6), 0) for i in ids}
    if ids:
        rows = db.session.execute(
            sa.select(Rating.design_id, Rating.score, sa.func.count())
            .where(Rating.design_id.in_(ids))
            .group_by(Rating.design_id, Rating.score)
        )
        for design_id, score, n in rows:
            counts[design_id][score] = n
    result = {}
    for design_id, distribution in counts.items():
        total = sum(distribution.values())
        average = sum(s * n for s, n in distribution.items()) / total if total else None
        result[design_id] = RatingSummary(total, average, distribution)
    return result


def summary_of_designer(designer_id: int) -> RatingSummary:
    """Every rating of the designer's products, together."""
    from designs.models import Design

    rows = db.session.execute(
        sa.select(Rating.score, sa.func.count())
        .join(Design, Design.id == Rating.design_id)
        .where(Design.designer_id == designer_id)
        .group_by(Rating.score)
    )
    distribution = dict.fromkeys(range(1, 6), 0)
    for score, n in rows:
        distribution[score] = n
    total = sum(distribution.values())
    average = sum(s * n for s, n in distribution.items()) / total if total else None
    return RatingSummary(total, average, distribution)


def raters_of(design_id: int) -> list[int]:
    """Ids of the accounts that rated the design, in the order they rated."""
    return list(
        db.session.scalars(
            sa.select(Rating.user_id).where(Rating.design_id == design_id).order_by(Rating.id)
        )
    )


def reviews_of_design(design_id: int, limit: int = 10, offset: int = 0) -> Sequence[Rating]:
    """The design's ratings, newest first, with their photos and authors."""
    return db.session.scalars(
        sa.select(Rating)
        .where(Rating.design_id == design_id)
        .options(selectinload(Rating.photos), selectinload(Rating.user))
        .order_by(Rating.created_at.desc(), Rating.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()


def reviews_of_designer(designer_id: int, limit: int = 10) -> Sequence[Rating]:
    """The newest ratings of the designer's products."""
    from designs.models import Design

    return db.session.scalars(
        sa.select(Rating)
        .join(Design, Design.id == Rating.design_id)
        .where(Design.designer_id == designer_id)
        .options(
            selectinload(Rating.photos), selectinload(Rating.user), selectinload(Rating.campaign)
        )
        .order_by(Rating.created_at.desc(), Rating.id.desc())
        .limit(limit)
    ).all()


def rating_of_order(order_id: int) -> Rating | None:
    return db.session.scalars(sa.select(Rating).where(Rating.order_id == order_id)).first()


def delivered_orders_of(pledge_ids: Sequence[int]) -> dict[int, tuple[Order, Rating | None]]:
    """{pledge_id: (its order, the order's rating or None)} for the pledges among those whose
    order was delivered: "My pledges"."""
    if not pledge_ids:
        return {}
    return {
        order.pledge_id: (order, rating)
        for order, rating in db.session.execute(
            sa.select(Order, Rating)
            .outerjoin(Rating, Rating.order_id == Order.id)
            .where(Order.pledge_id.in_(pledge_ids), Order.state == OrderState.DELIVERED)
        )
    }


def flagged_ratings(limit: int = 200) -> Sequence[Rating]:
    """Hidden or reported ratings, those no operator has looked at first, most reported
    first (as comments are listed)."""
    return db.session.scalars(
        sa.select(Rating)
        .where(sa.or_(Rating.hidden, Rating.report_count > 0))
        .options(selectinload(Rating.user), selectinload(Rating.photos))
        .order_by(Rating.reviewed_at.is_not(None), Rating.report_count.desc(), Rating.id)
        .limit(limit)
    ).all()


def reported_by(user_id: int, rating_ids: Iterable[int]) -> set[int]:
    """Of those ratings, the ids the account has already reported."""
    ids = list(rating_ids)
    if not ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(RatingReport.rating_id).where(
                RatingReport.reporter_id == user_id, RatingReport.rating_id.in_(ids)
            )
        )
    )
