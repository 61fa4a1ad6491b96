"""Read queries of payments, named for what they return: what operators see of a settlement
(pledge counts and amounts per state, for one campaign or many in one query, what closing a
live campaign now would charge, each pledge's attempts and refund) and the royalty balances.
Read-only; it changes when the pages want other figures, not when charging does.
``charging.finish_if_done`` records the settled figures from the same ``summary``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.extensions import db

from .models import ChargeAttempt, LedgerEntry, LedgerKind, Refund


class Summary:
    """Pledge counts and amounts per state for one campaign."""

    def __init__(self, rows):
        self._rows = {state: (count, amount or 0) for state, count, amount in rows}

    def count(self, state: PledgeState) -> int:
        return self._rows.get(state, (0, 0))[0]

    def amount(self, state: PledgeState) -> int:
        return self._rows.get(state, (0, 0))[1]

    def __iter__(self):
        for state in PledgeState:
            if state in self._rows:
                yield state, *self._rows[state]


def summaries(campaign_ids) -> dict[int, Summary]:
    """Each campaign's Summary, in one grouped query."""
    rows: dict[int, list] = {campaign_id: [] for campaign_id in campaign_ids}
    for campaign_id, state, count, amount in db.session.execute(
        sa.select(
            Pledge.campaign_id, Pledge.state, sa.func.count(), sa.func.sum(Pledge.amount_cents)
        )
        .where(Pledge.campaign_id.in_(rows))
        .group_by(Pledge.campaign_id, Pledge.state)
    ):
        rows[campaign_id].append((state, count, amount))
    return {campaign_id: Summary(found) for campaign_id, found in rows.items()}


def summary(campaign_id: int) -> Summary:
    return summaries([campaign_id])[campaign_id]


def forecast(campaign: Campaign) -> dict:
    """What closing now would do: funded or failed, and what would be charged."""
    row = db.session.execute(
        sa.select(
            sa.func.count(), sa.func.sum(Pledge.quantity), sa.func.sum(Pledge.amount_cents)
        ).where(Pledge.campaign_id == campaign.id, Pledge.state == PledgeState.ACTIVE)
    ).one()
    pledges, units, amount = row[0], row[1] or 0, row[2] or 0
    funded = units >= campaign.goal_units
    return {
        "pledges": pledges,
        "units": units,
        "amount_cents": amount if funded else 0,
        "funded": funded,
        "missing_cards": db.session.scalar(
            sa.select(sa.func.count()).where(
                Pledge.campaign_id == campaign.id, Pledge.state == PledgeState.PENDING_CARD
            )
        ),
    }


#: The campaigns whose money the settlement pages follow: from live (a forecast) onwards.
FOLLOWED_STATES = (
    CampaignState.LIVE,
    CampaignState.FUNDED,
    CampaignState.SETTLING,
    CampaignState.SETTLED,
    CampaignState.IN_PRODUCTION,
    CampaignState.SHIPPED,
    CampaignState.DELIVERED,
)
FAILED_STATES = (PledgeState.ERRORED, PledgeState.ACTION_REQUIRED)


def followed_campaigns(limit: int = 200) -> list[Campaign]:
    """Campaigns with money to follow, latest deadline first."""
    return db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.state.in_(FOLLOWED_STATES))
        .order_by(Campaign.deadline.desc())
        .limit(limit)
    ).all()


def settling_campaigns() -> list[Campaign]:
    """Campaigns being charged now, the longest closed first."""
    return db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.state == CampaignState.SETTLING)
        .order_by(Campaign.closed_at)
    ).all()


def settlement_counts() -> tuple[int, int]:
    """(campaigns being charged, pledges whose payment failed), for the console."""
    settling = db.session.scalar(
        sa.select(sa.func.count()).where(Campaign.state == CampaignState.SETTLING)
    )
    failing = db.session.scalar(sa.select(sa.func.count()).where(Pledge.state.in_(FAILED_STATES)))
    return settling, failing


def pledges_page(
    campaign_id: int, state: PledgeState | None, page: int, per_page: int
) -> tuple[list[Pledge], bool]:
    """One page of a campaign's pledges (with backer and variant), and whether more follow."""
    query = (
        sa.select(Pledge)
        .where(Pledge.campaign_id == campaign_id)
        .options(joinedload(Pledge.backer), joinedload(Pledge.variant))
        .order_by(Pledge.id)
    )
    if state is not None:
        query = query.where(Pledge.state == state)
    rows = db.session.scalars(query.limit(per_page + 1).offset((page - 1) * per_page)).all()
    return rows[:per_page], len(rows) > per_page


def attempts_by_pledge(pledge_ids: list[int]) -> dict[int, list[ChargeAttempt]]:
    attempts: dict[int, list[ChargeAttempt]] = {}
    for attempt in db.session.scalars(
        sa.select(ChargeAttempt)
        .where(ChargeAttempt.pledge_id.in_(pledge_ids))
        .order_by(ChargeAttempt.number)
    ):
        attempts.setdefault(attempt.pledge_id, []).append(attempt)
    return attempts


def refunds_by_pledge(pledge_ids: list[int]) -> dict[int, Refund]:
    return {
        r.pledge_id: r
        for r in db.session.scalars(sa.select(Refund).where(Refund.pledge_id.in_(pledge_ids)))
    }


def royalty_balances() -> tuple[list[tuple[int, str, int, int]], dict[int, User]]:
    """(designer id, currency, balance, entries) rows, and the designers they name."""
    rows = db.session.execute(
        sa.select(
            LedgerEntry.designer_id,
            LedgerEntry.currency,
            sa.func.sum(LedgerEntry.amount_cents),
            sa.func.count(),
        )
        .group_by(LedgerEntry.designer_id, LedgerEntry.currency)
        .order_by(LedgerEntry.designer_id)
    ).all()
    designers = {
        u.id: u
        for u in db.session.scalars(sa.select(User).where(User.id.in_({r[0] for r in rows})))
    }
    return rows, designers


def royalties_earned() -> dict[str, int]:
    """{currency: minor units} the designers have earned in royalties, reversals taken off
    (payouts are not subtracted: money paid out was earned all the same), for the home page."""
    return dict(
        db.session.execute(
            sa.select(LedgerEntry.currency, sa.func.sum(LedgerEntry.amount_cents))
            .where(LedgerEntry.kind.in_((LedgerKind.ROYALTY, LedgerKind.REVERSAL)))
            .group_by(LedgerEntry.currency)
            .having(sa.func.sum(LedgerEntry.amount_cents) > 0)
            .order_by(LedgerEntry.currency)
        ).all()
    )
