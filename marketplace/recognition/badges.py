"""Badges, each computed from the data by one function, and the rule it applies in words.

A badge is never stored: it is what the votes, pledges and states say now, so a rule that
changes, or a pledge dropped after the fact, changes the badge with it. Each function returns
what the person earned it for (empty: not earned), which the profile links to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from designs.models import PUBLIC_STATES, Design, DesignState, Vote
from marketplace.campaigns.models import COUNTED_PLEDGE_STATES, Campaign, CampaignState, Pledge
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.reviews.models import Rating

#: Scout: a score of at least this much...
SCOUT_MIN_SCORE = 4
#: ...given within this long of the design opening for scoring...
SCOUT_WINDOW = dt.timedelta(hours=48)
#: ...on a design that was then selected (a design in a campaign was selected first).
SELECTED_STATES = (DesignState.SELECTED, DesignState.CAMPAIGN)

#: Early backer: among the first this many percent of a campaign's backers (rounded up, so
#: at least the first one)...
EARLY_PERCENT = 10
#: ...of a campaign that reached its goal. One cancelled later (its run cancelled, everyone
#: refunded) did not happen, and earns nothing.
FUNDED_STATES = (
    CampaignState.FUNDED,
    CampaignState.SETTLING,
    CampaignState.SETTLED,
    CampaignState.IN_PRODUCTION,
    CampaignState.SHIPPED,
    CampaignState.DELIVERED,
)
#: Pledges that make their backer a backer: counted ones, collected included. Dropped,
#: cancelled and refunded pledges backed nothing in the end.
BACKING_STATES = COUNTED_PLEDGE_STATES


#: Redesigner: a redesign that passed the quality check, i.e. reached a public state.
APPROVED_STATES = PUBLIC_STATES


@dataclass(frozen=True)
class Badge:
    key: str
    #: In English: the page translates them.
    name: str
    rule: str
    #: What the badge function returns, for the page's links: "design" or "campaign".
    earned_for: str


SCOUT = Badge(
    "scout",
    N_("Scout"),
    N_(
        "Gave a score of 4 or 5 within the first 48 hours of a design's scoring, and the "
        "design was then selected for a campaign."
    ),
    "design",
)
EARLY_BACKER = Badge(
    "early_backer",
    N_("Early backer"),
    N_(
        "Among the first 10 percent of the backers of a campaign that reached its goal (at least "
        "its first backer)."
    ),
    "campaign",
)
REVIEWER = Badge(
    "reviewer",
    N_("Reviewer"),
    N_("Wrote a review of a product they received, and it is shown to everyone."),
    "campaign",
)
REDESIGNER = Badge(
    "redesigner",
    N_("Redesigner"),
    N_("Submitted a redesign of a produced design, and it passed our quality check."),
    "design",
)
BADGES = (SCOUT, EARLY_BACKER, REVIEWER, REDESIGNER)


def scout(user_id: int) -> list[Design]:
    """The selected designs this person scouted, newest first.

    The score that counts is the one that stands, and its time is when it was last given
    (``Vote.updated_at``): a 1 changed into a 5 on the last day, once the page showed the
    average, is following the crowd, not scouting.
    """
    rows = db.session.execute(
        sa.select(Design, Vote.updated_at)
        .join(Vote, Vote.design_id == Design.id)
        .where(
            Vote.user_id == user_id,
            Vote.score >= SCOUT_MIN_SCORE,
            Design.state.in_(SELECTED_STATES),
            Design.voting_opens_at.is_not(None),
        )
        .order_by(Design.id.desc())
    ).all()
    return [
        design for design, scored_at in rows if scored_at <= design.voting_opens_at + SCOUT_WINDOW
    ]


def early_places(backers: int) -> int:
    """How many of a campaign's ``backers`` are early: 10 %, rounded up, at least one."""
    return max(1, -(-backers * EARLY_PERCENT // 100))


def early_backer(user_id: int) -> list[Campaign]:
    """The funded campaigns this person was an early backer of, newest first.

    Backers are ranked by their first backing pledge (its creation, then its id for pledges
    made in the same instant); the campaign counts its backers the same way, so a backer whose
    only pledge was dropped leaves the ranking and the count alike.
    """
    backing = Pledge.state.in_(BACKING_STATES)
    mine = db.session.execute(
        sa.select(Pledge.campaign_id, sa.func.min(Pledge.created_at), sa.func.min(Pledge.id))
        .join(Campaign, Campaign.id == Pledge.campaign_id)
        .where(Pledge.backer_id == user_id, backing, Campaign.state.in_(FUNDED_STATES))
        .group_by(Pledge.campaign_id)
    ).all()
    earned = []
    for campaign_id, first_at, first_id in mine:
        firsts = (
            sa.select(
                Pledge.backer_id,
                sa.func.min(Pledge.created_at).label("first_at"),
                sa.func.min(Pledge.id).label("first_id"),
            )
            .where(Pledge.campaign_id == campaign_id, backing)
            .group_by(Pledge.backer_id)
            .subquery()
        )
        before = sa.or_(
            firsts.c.first_at < first_at,
            sa.and_(firsts.c.first_at == first_at, firsts.c.first_id < first_id),
        )
        backers, ahead = db.session.execute(
            sa.select(
                sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((before, 1), else_=0)), 0)
            ).select_from(firsts)
        ).one()
        if ahead < early_places(backers):
            earned.append(campaign_id)
    if not earned:
        return []
    return list(
        db.session.scalars(
            sa.select(Campaign).where(Campaign.id.in_(earned)).order_by(Campaign.id.desc())
        )
    )


def reviewer(user_id: int) -> list[Campaign]:
    """The campaigns whose product this person reviewed in words that everyone can read: a
    rating without text is a score, not a review, and one hidden by reports or an operator
    is not shown. Newest first."""
    reviewed = sa.select(Rating.campaign_id).where(
        Rating.user_id == user_id, sa.func.trim(Rating.review) != "", sa.not_(Rating.hidden)
    )
    return list(
        db.session.scalars(
            sa.select(Campaign).where(Campaign.id.in_(reviewed)).order_by(Campaign.id.desc())
        )
    )


def redesigner(user_id: int) -> list[Design]:
    """This person's redesigns that passed the quality check (declined ones, drafts and
    those waiting for the check do not count), newest first."""
    return list(
        db.session.scalars(
            sa.select(Design)
            .where(
                Design.designer_id == user_id,
                Design.redesign_of_id.is_not(None),
                Design.state.in_(APPROVED_STATES),
            )
            .order_by(Design.id.desc())
        )
    )


def badges_of(user_id: int) -> list[tuple[Badge, list]]:
    """(badge, what it was earned for) of every badge the person holds, in BADGES order."""
    found = [
        (SCOUT, scout(user_id)),
        (EARLY_BACKER, early_backer(user_id)),
        (REVIEWER, reviewer(user_id)),
        (REDESIGNER, redesigner(user_id)),
    ]
    return [(badge, subjects) for badge, subjects in found if subjects]
