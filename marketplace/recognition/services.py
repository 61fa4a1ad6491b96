"""Thanks, sent when it matters and once per person and event.

Two moments, each received from a lower package's signal in its transaction:

- a design is selected: everyone who scored it is told their score counted;
- a campaign is settled: every backer whose pledge was collected is told they made it happen.
  Not when it is funded: then every card is still to be charged, some will fail and be
  dropped, and a backer whose card fails would be thanked for a pledge that paid nothing,
  with figures that change the week after. Once settled, the backers, units and share of the
  goal are final.

There can be thousands of recipients, so the receivers only enqueue a job after commit; the
job thanks a batch at a time. Each person's ``Thanks`` row is inserted with "on conflict do
nothing" and their mail queued only when this transaction's insert won: a repeated event, a
job run twice, or two jobs at once send each person one mail.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from designs.models import Design, Vote
from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.mail import queue_mail
from marketplace.kernel.queues import enqueue_after_commit
from marketplace.kernel.urls import external_url

from . import queries
from .badges import SELECTED_STATES
from .models import BACKED, SCORED, Thanks

#: People thanked per transaction by the jobs.
BATCH = 200

#: Campaign states in which a settled campaign's backers are (still) thanked: settled, and
#: what may follow it quickly. A cancelled one refunded everyone: no thanks for that.
THANKED_CAMPAIGN_STATES = (
    CampaignState.SETTLED,
    CampaignState.IN_PRODUCTION,
    CampaignState.SHIPPED,
    CampaignState.DELIVERED,
)


def design_selected(design: Design, **_kwargs) -> None:
    """Receiver of ``design_selected``."""
    enqueue_after_commit(
        "default", "marketplace.recognition.jobs.thank_scorers", design.id, job_timeout=3600
    )


def campaign_settled(campaign: Campaign, **_kwargs) -> None:
    """Receiver of ``campaign_settled``."""
    enqueue_after_commit(
        "default", "marketplace.recognition.jobs.thank_backers", campaign.id, job_timeout=3600
    )


def _not_thanked(event: str, subject_id: int, user_column) -> sa.ColumnElement[bool]:
    return ~sa.exists().where(
        Thanks.user_id == user_column, Thanks.event == event, Thanks.subject_id == subject_id
    )


def _claim(event: str, subject_id: int, user_ids: list[int]) -> list[int]:
    """Insert the thanks rows; the ids of those this transaction inserted (another job may
    have won some of them meanwhile)."""
    if not user_ids:
        return []
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    stmt = (
        insert(Thanks)
        .values(
            [
                {"user_id": uid, "event": event, "subject_id": subject_id, "created_at": now}
                for uid in user_ids
            ]
        )
        .on_conflict_do_nothing(index_elements=["user_id", "event", "subject_id"])
        .returning(Thanks.user_id)
    )
    return list(db.session.scalars(stmt))


def _people(user_ids: list[int]) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(User.id.in_(user_ids)).order_by(User.id)))


def thank_scorers(design_id: int, batch: int = BATCH) -> int:
    """Thank the next ``batch`` people who scored the selected design and were not thanked
    yet; returns how many were looked at (0: everyone is thanked, or nothing to do)."""
    design = db.session.get(Design, design_id)
    if design is None or design.state not in SELECTED_STATES:
        return 0
    candidates = list(
        db.session.scalars(
            sa.select(Vote.user_id)
            .where(Vote.design_id == design_id, _not_thanked(SCORED, design_id, Vote.user_id))
            .order_by(Vote.user_id)
            .limit(batch)
        )
    )
    link = external_url("designs.show", design_id=design.id)
    for person in _people(_claim(SCORED, design_id, candidates)):
        queue_mail(person, "thanks_scored", design=design, link=link)
    return len(candidates)


def thank_backers(campaign_id: int, batch: int = BATCH) -> int:
    """Thank the next ``batch`` backers whose pledge was collected in the settled campaign
    and were not thanked yet; returns how many were looked at."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.state not in THANKED_CAMPAIGN_STATES:
        return 0
    candidates = list(
        db.session.scalars(
            sa.select(Pledge.backer_id)
            .where(
                Pledge.campaign_id == campaign_id,
                Pledge.state == PledgeState.COLLECTED,
                _not_thanked(BACKED, campaign_id, Pledge.backer_id),
            )
            .distinct()
            .order_by(Pledge.backer_id)
            .limit(batch)
        )
    )
    claimed = _claim(BACKED, campaign_id, candidates)
    if claimed:
        figures = queries.settled_figures(campaign)
        link = external_url("campaigns.show", campaign_id=campaign.id)
        for person in _people(claimed):
            queue_mail(person, "thanks_backed", campaign=campaign, figures=figures, link=link)
    return len(candidates)
