"""What operators see of a settlement: pledge counts and amounts per state, for one campaign
or many in one query, and what closing a live campaign now would charge. Read-only; it
changes when the settlement pages want other figures, not when charging does.
``charging.finish_if_done`` records the settled figures from the same ``summary``.
"""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.campaigns.models import Campaign, Pledge, PledgeState
from marketplace.kernel.extensions import db


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
