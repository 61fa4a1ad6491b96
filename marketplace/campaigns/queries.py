"""Read queries of campaigns and pledges, named for what they return. Views and the console
call them; they never write. The campaign page's are counted (tests/campaigns/
test_campaign_page_queries.py): none of them grows with the data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from designs.models import Design, DesignState
from marketplace.accounts.models import User
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent

from .models import (
    Campaign,
    CampaignFigures,
    CampaignImage,
    CampaignState,
    CampaignUpdate,
    CampaignVariant,
    Pledge,
    VariantFigures,
)

#: Campaigns that are over, one way or another: the list's "results" section.
RESULT_STATES = tuple(
    s for s in CampaignState if s not in (CampaignState.SCHEDULED, CampaignState.LIVE)
)


def campaign_options():
    """What a campaign card and page show: the design with its designer, the variants."""
    return (
        joinedload(Campaign.design).joinedload(Design.designer),
        selectinload(Campaign.variants),
    )


# --- campaigns --------------------------------------------------------------------------------


def campaign(campaign_id: int) -> Campaign | None:
    return db.session.get(Campaign, campaign_id)


def campaign_for_page(campaign_id: int) -> Campaign | None:
    """The campaign with what the shared part of its page shows loaded: the design with its
    designer and the design it redesigns, its pictures and FAQ. (Its variants, which change
    with every pledge, are read by ``campaign_now``.)"""
    return db.session.scalar(
        sa.select(Campaign)
        .where(Campaign.id == campaign_id)
        .options(
            joinedload(Campaign.design).joinedload(Design.designer),
            joinedload(Campaign.design).joinedload(Design.redesign_of),
            selectinload(Campaign.images),
            selectinload(Campaign.faqs),
        )
    )


@dataclass(frozen=True)
class VariantNow(VariantFigures):
    id: int
    label: str
    unit_limit: int | None
    reserved_units: int


@dataclass(frozen=True)
class CampaignNow(CampaignFigures):
    """What a campaign's page shows that changes with every pledge or with the time (units,
    money raised, backers, time left, the pledge form's variants), and what the reader is to
    it: read on every request, beside the rest of the page, which is shared and kept
    (``campaigns.views.show``)."""

    id: int
    product_name: str
    state: CampaignState
    unit_price_cents: int
    currency: str
    goal_units: int
    starts_at: dt.datetime
    deadline: dt.datetime
    closed_at: dt.datetime | None
    cancel_reason: str | None
    ships_from: str
    shipping_domestic_cents: int
    shipping_eu_cents: int
    shipping_world_cents: int
    designer_id: int
    #: What the shared part shows of the designer (name, picture, bio): a change gives the
    #: shared part another key.
    designer_profile: tuple[str, str | None, str]
    #: People with a counted pledge.
    backers: int
    #: The reader holds a counted pledge (sees backers-only updates).
    is_backer: bool
    #: The reader holds a pledge of any state (the page lists them).
    has_pledges: bool
    variants: tuple[VariantNow, ...]


def _pledges_here(*conditions) -> sa.Exists:
    return sa.exists().where(Pledge.campaign_id == sa.bindparam("campaign_id"), *conditions)


# Built once, and in one statement (a row per variant) with the backer count and what the
# reader holds: it runs on every campaign page.
_CAMPAIGN_NOW = (
    sa.select(
        Campaign.id,
        Campaign.product_name,
        Campaign.state,
        Campaign.unit_price_cents,
        Campaign.currency,
        Campaign.goal_units,
        Campaign.starts_at,
        Campaign.deadline,
        Campaign.closed_at,
        Campaign.cancel_reason,
        Campaign.ships_from,
        Campaign.shipping_domestic_cents,
        Campaign.shipping_eu_cents,
        Campaign.shipping_world_cents,
        Design.designer_id,
        User.display_name,
        User.avatar_key,
        User.bio,
        sa.select(sa.func.count(sa.distinct(Pledge.backer_id)))
        .where(Pledge.campaign_id == sa.bindparam("campaign_id"), Pledge.counts)
        .scalar_subquery(),
        _pledges_here(Pledge.backer_id == sa.bindparam("user_id"), Pledge.counts),
        _pledges_here(Pledge.backer_id == sa.bindparam("user_id")),
        CampaignVariant.id,
        CampaignVariant.label,
        CampaignVariant.unit_limit,
        CampaignVariant.reserved_units,
    )
    .join(Design, Design.id == Campaign.design_id)
    .join(User, User.id == Design.designer_id)
    .outerjoin(CampaignVariant, CampaignVariant.campaign_id == Campaign.id)
    .where(Campaign.id == sa.bindparam("campaign_id"))
    .order_by(CampaignVariant.position, CampaignVariant.id)
)


def campaign_now(campaign_id: int, user) -> CampaignNow | None:
    """The campaign's counters, variants and state, and what ``user`` holds on it, in one
    statement; None when there is no such campaign."""
    reader = user.id if user is not None and user.is_authenticated else None
    rows = db.session.execute(_CAMPAIGN_NOW, {"campaign_id": campaign_id, "user_id": reader}).all()
    if not rows:
        return None
    *facts, designer_id, name, avatar_key, bio, backers, is_backer, has_pledges = rows[0][:-4]
    return CampaignNow(
        *facts,
        designer_id=designer_id,
        designer_profile=(name, avatar_key, bio),
        backers=backers,
        is_backer=bool(is_backer),
        has_pledges=bool(has_pledges),
        variants=tuple(VariantNow(*row[-4:]) for row in rows if row[-4] is not None),
    )


def campaign_image(campaign_id: int, image_id: int) -> CampaignImage | None:
    return db.session.scalar(
        sa.select(CampaignImage).where(
            CampaignImage.id == image_id, CampaignImage.campaign_id == campaign_id
        )
    )


def live_campaigns(sort: str, limit: int = 60) -> Sequence[Campaign]:
    """Live campaigns ordered by ``sort``: "funded" (share of the goal reached), "new"
    (latest start first), anything else by deadline (ending soonest first)."""
    units = (
        sa.select(sa.func.coalesce(sa.func.sum(CampaignVariant.reserved_units), 0))
        .where(CampaignVariant.campaign_id == Campaign.id)
        .scalar_subquery()
    )
    stmt = sa.select(Campaign).where(Campaign.state == CampaignState.LIVE)
    if sort == "funded":
        stmt = stmt.order_by((units * 1.0 / Campaign.goal_units).desc(), Campaign.id)
    elif sort == "new":
        stmt = stmt.order_by(Campaign.starts_at.desc(), Campaign.id.desc())
    else:
        stmt = stmt.order_by(Campaign.deadline, Campaign.id)
    return db.session.scalars(stmt.options(*campaign_options()).limit(limit)).all()


def closed_campaigns(limit: int = 12) -> Sequence[Campaign]:
    """The latest campaigns to have ended (funded, failed, cancelled, and beyond)."""
    return db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.state.in_(RESULT_STATES))
        .options(*campaign_options())
        .order_by(Campaign.closed_at.desc().nulls_last(), Campaign.id.desc())
        .limit(limit)
    ).all()


def campaigns_by_design(design_ids: Sequence[int]) -> dict[int, Campaign]:
    return {
        c.design_id: c
        for c in db.session.scalars(sa.select(Campaign).where(Campaign.design_id.in_(design_ids)))
    }


def upcoming_campaigns(limit: int = 12) -> Sequence[Campaign]:
    """Scheduled campaigns, the next to start first."""
    return db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.state == CampaignState.SCHEDULED)
        .options(*campaign_options())
        .order_by(Campaign.starts_at)
        .limit(limit)
    ).all()


def recent_campaigns(limit: int = 200) -> Sequence[Campaign]:
    """Every state, newest first: the operators' list."""
    return db.session.scalars(
        sa.select(Campaign).options(*campaign_options()).order_by(Campaign.id.desc()).limit(limit)
    ).all()


def live_campaigns_ending_by(when: dt.datetime) -> Sequence[Campaign]:
    """Live campaigns whose deadline is at or before ``when``, the soonest first."""
    return db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.state == CampaignState.LIVE, Campaign.deadline <= when)
        .options(selectinload(Campaign.variants))
        .order_by(Campaign.deadline)
    ).all()


def campaign_counts(states: Iterable[CampaignState]) -> dict[CampaignState, int]:
    """How many campaigns are in each of ``states`` (a state with none is absent)."""
    return dict(
        db.session.execute(
            sa.select(Campaign.state, sa.func.count())
            .where(Campaign.state.in_(tuple(states)))
            .group_by(Campaign.state)
        ).all()
    )


# --- designs a campaign opens from ------------------------------------------------------------


def design(design_id: int) -> Design | None:
    return db.session.get(Design, design_id)


def designs_awaiting_campaign() -> Sequence[Design]:
    """Selected designs, with their designers: each waits for an operator to open its
    campaign."""
    return db.session.scalars(
        sa.select(Design)
        .where(Design.state == DesignState.SELECTED)
        .options(joinedload(Design.designer))
        .order_by(Design.id)
    ).all()


def designs_awaiting_campaign_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).where(Design.state == DesignState.SELECTED))


# --- backers and pledges ----------------------------------------------------------------------


def pledges_on(campaign_id: int, user) -> Sequence[Pledge]:
    """``user``'s pledges on the campaign, with their variants and campaign (whether each can
    still change), oldest first; none for an anonymous visitor."""
    if user is None or not user.is_authenticated:
        return []
    return db.session.scalars(
        sa.select(Pledge)
        .where(Pledge.campaign_id == campaign_id, Pledge.backer_id == user.id)
        .options(joinedload(Pledge.variant), joinedload(Pledge.campaign))
        .order_by(Pledge.id)
    ).all()


def backer_pledges(backer_id: int) -> Sequence[Pledge]:
    """Every pledge of a backer, newest first, with its variant and its campaign (design and
    variants): "My pledges"."""
    # All joined, so that the page costs one statement whatever the pledges; a backer's
    # campaigns have a few variants each, so repeating each pledge's row for them is cheap.
    return (
        db.session.scalars(
            sa.select(Pledge)
            .where(Pledge.backer_id == backer_id)
            .options(
                joinedload(Pledge.variant),
                joinedload(Pledge.campaign).joinedload(Campaign.design),
                joinedload(Pledge.campaign).joinedload(Campaign.variants),
            )
            .order_by(Pledge.id.desc())
        )
        .unique()
        .all()
    )


# --- the campaign page's updates and timeline -------------------------------------------------


def updates(campaign_id: int, *, include_backers_only: bool) -> Sequence[CampaignUpdate]:
    """The campaign's updates with their authors, newest first."""
    stmt = sa.select(CampaignUpdate).where(CampaignUpdate.campaign_id == campaign_id)
    if not include_backers_only:
        stmt = stmt.where(sa.not_(CampaignUpdate.backers_only))
    return db.session.scalars(
        stmt.options(joinedload(CampaignUpdate.author)).order_by(CampaignUpdate.id.desc())
    ).all()


def timeline_events(subjects: Iterable[tuple[str, int]]) -> Sequence[AuditEvent]:
    """The audit events of the (subject type, subject id) pairs, oldest first, leaving out
    the batches of orders marked shipped."""
    return db.session.scalars(
        sa.select(AuditEvent)
        .where(
            sa.or_(
                *(
                    sa.and_(AuditEvent.subject_type == kind, AuditEvent.subject_id == sid)
                    for kind, sid in subjects
                )
            ),
            AuditEvent.action != "production_run.orders_shipped",
        )
        .order_by(AuditEvent.id)
    ).all()


def backer_total() -> int:
    """People holding a pledge that counts or was paid, on any campaign: the home page's
    headline figure. (A count over every pledge: no index narrows it, and the page that
    shows it is cached for anonymous visitors.)"""
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Pledge.backer_id))).where(Pledge.counts)
    )
