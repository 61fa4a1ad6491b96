"""Read queries of surveys, production runs and orders, named for what they return. The
survey pages, "My pledges" and the console call them; they never write."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from designs.models import Design
from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.extensions import db

from .models import Order, OrderState, ProductionRun, RunState, Survey

# --- surveys ----------------------------------------------------------------------------------


def awaiting_address(stmt: sa.Select) -> sa.Select:
    """``stmt`` (a select from or joining surveys) narrowed to the surveys still waiting for
    an address: only a paid pledge is shipped, so only its survey waits."""
    return stmt.join(Pledge, Pledge.id == Survey.pledge_id).where(
        Survey.answered_at.is_(None), Pledge.state == PledgeState.COLLECTED
    )


def unanswered_surveys(campaign_id: int) -> Sequence[Survey]:
    """The campaign's surveys still waiting for an address, oldest first."""
    return db.session.scalars(
        awaiting_address(sa.select(Survey).where(Survey.campaign_id == campaign_id)).order_by(
            Survey.id
        )
    ).all()


# Built once, and only the two columns the banner shows: it runs on every page a member opens.
_WAITING_ADDRESSES = (
    awaiting_address(
        sa.select(Survey.pledge_id, Campaign.product_name)
        .join(Campaign, Campaign.id == Survey.campaign_id)
        .where(Survey.backer_id == sa.bindparam("backer_id"))
    )
    .order_by(Survey.id)
    .limit(sa.bindparam("limit"))
)


def unanswered_surveys_of(user: User, limit: int = 5) -> Sequence[sa.Row]:
    """(pledge id, product name) of the backer's surveys still waiting for an address, oldest
    first: the banner."""
    # On the session's connection: no ORM objects, so none of the ORM's execution path.
    params = {"backer_id": user.id, "limit": limit}
    return db.session.connection().execute(_WAITING_ADDRESSES, params).all()


def unanswered_survey_counts() -> Sequence[sa.Row]:
    """(campaign id, product name, surveys waiting, oldest request) per campaign with
    surveys waiting for an address."""
    return db.session.execute(
        awaiting_address(
            sa.select(
                Campaign.id,
                Campaign.product_name,
                sa.func.count(),
                sa.func.min(Survey.requested_at),
            ).join(Survey, Survey.campaign_id == Campaign.id)
        ).group_by(Campaign.id, Campaign.product_name)
    ).all()


def surveys_by_pledge(pledge_ids: Sequence[int]) -> dict[int, Survey]:
    return {
        s.pledge_id: s
        for s in db.session.scalars(sa.select(Survey).where(Survey.pledge_id.in_(pledge_ids)))
    }


# --- runs and orders --------------------------------------------------------------------------


def run(run_id: int) -> ProductionRun | None:
    return db.session.get(ProductionRun, run_id)


def run_ids_of(campaign_id: int) -> Sequence[int]:
    return db.session.scalars(
        sa.select(ProductionRun.id).where(ProductionRun.campaign_id == campaign_id)
    ).all()


def recent_runs(limit: int = 200) -> Sequence[ProductionRun]:
    """Every run with its campaign, newest first."""
    return db.session.scalars(
        sa.select(ProductionRun)
        .options(joinedload(ProductionRun.campaign))
        .order_by(ProductionRun.id.desc())
        .limit(limit)
    ).all()


def runs_under_way() -> Sequence[ProductionRun]:
    """Runs neither delivered nor cancelled, with their campaigns."""
    return db.session.scalars(
        sa.select(ProductionRun)
        .where(ProductionRun.state.not_in((RunState.DELIVERED, RunState.CANCELLED)))
        .options(joinedload(ProductionRun.campaign))
    ).all()


def _without_run(stmt: sa.Select) -> sa.Select:
    """``stmt`` (a select from campaigns) narrowed to the settled campaigns that have no
    production run yet."""
    return stmt.outerjoin(ProductionRun, ProductionRun.campaign_id == Campaign.id).where(
        Campaign.state == CampaignState.SETTLED, ProductionRun.id.is_(None)
    )


def campaigns_awaiting_run() -> Sequence[Campaign]:
    """Settled campaigns without a run, the longest waiting first."""
    return db.session.scalars(_without_run(sa.select(Campaign)).order_by(Campaign.closed_at)).all()


def campaigns_awaiting_run_rows() -> Sequence[sa.Row]:
    """(campaign id, product name, closed at) of the settled campaigns without a run."""
    return db.session.execute(
        _without_run(
            sa.select(Campaign.id, Campaign.product_name, sa.func.max(Campaign.closed_at))
        ).group_by(Campaign.id, Campaign.product_name)
    ).all()


def run_orders(run_id: int) -> Sequence[Order]:
    """The run's orders with their pledges and backers, in order."""
    return db.session.scalars(
        sa.select(Order)
        .where(Order.run_id == run_id)
        .options(joinedload(Order.pledge).joinedload(Pledge.backer))
        .order_by(Order.id)
    ).all()


def orders_to_make(run_id: int) -> Sequence[sa.Row]:
    """(order, pledge, survey or None, backer) of the run's orders not cancelled, in order:
    the manufacturer's CSV lines."""
    return db.session.execute(
        sa.select(Order, Pledge, Survey, User)
        .join(Pledge, Pledge.id == Order.pledge_id)
        .join(User, User.id == Pledge.backer_id)
        .outerjoin(Survey, Survey.pledge_id == Pledge.id)
        .where(Order.run_id == run_id, Order.state != OrderState.CANCELLED)
        .order_by(Order.id)
    ).all()


def orders_and_surveys_by_pledge(
    pledge_ids: Sequence[int],
) -> dict[int, tuple[Order | None, ProductionRun | None, Survey | None]]:
    """Each pledge's order with its run, and its survey (None where it has none): "My
    pledges"."""
    if not pledge_ids:
        return {}
    # From the pledges, so that one statement finds both, whichever of the two a pledge has.
    return {
        pledge_id: (order, run, survey)
        for pledge_id, order, run, survey in db.session.execute(
            sa.select(Pledge.id, Order, ProductionRun, Survey)
            .outerjoin(Order, Order.pledge_id == Pledge.id)
            .outerjoin(ProductionRun, ProductionRun.id == Order.run_id)
            .outerjoin(Survey, Survey.pledge_id == Pledge.id)
            .where(Pledge.id.in_(pledge_ids))
        )
    }


# --- the home page ----------------------------------------------------------------------------

#: A run whose products have left the manufacturer: its design is produced.
PRODUCED_STATES = (RunState.SHIPPED, RunState.DELIVERED)


def produced_runs(limit: int = 4) -> Sequence[ProductionRun]:
    """The latest runs whose products were made and shipped, with their campaigns, designs
    and designers: the home page's "made by the community"."""
    return db.session.scalars(
        sa.select(ProductionRun)
        .where(ProductionRun.state.in_(PRODUCED_STATES))
        .options(
            joinedload(ProductionRun.campaign)
            .joinedload(Campaign.design)
            .joinedload(Design.designer)
        )
        .order_by(ProductionRun.id.desc())
        .limit(limit)
    ).all()


def produced_count() -> int:
    """Designs made into products (one run per campaign, one campaign per design)."""
    return db.session.scalar(
        sa.select(sa.func.count()).where(ProductionRun.state.in_(PRODUCED_STATES))
    )
