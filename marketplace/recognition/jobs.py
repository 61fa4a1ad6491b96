"""Background work of recognition: the thanks mailings, and the sweep that catches a lost one."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent

from . import services

#: How far back the sweep looks for selections and settlements whose mailing was lost.
SWEEP_DAYS = 7


def _in_batches(thank, subject_id: int) -> int:
    """Run ``thank`` a batch per transaction until nobody is left to thank."""
    looked_at = 0
    while True:
        done = thank(subject_id)
        db.session.commit()
        if not done:
            return looked_at
        looked_at += done


def thank_scorers(design_id: int) -> int:
    """Enqueued when a design is selected; safe to run twice or at once with itself."""
    return _in_batches(services.thank_scorers, design_id)


def thank_backers(campaign_id: int) -> int:
    """Enqueued when a campaign is settled; safe to run twice or at once with itself."""
    return _in_batches(services.thank_backers, campaign_id)


def _recent(action: str, since: dt.datetime) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.subject_id)
            .where(AuditEvent.action == action, AuditEvent.created_at >= since)
            .distinct()
        )
    )


def sweep_thanks(now: dt.datetime | None = None) -> int:
    """Periodic (``flask cron``): thank whoever a lost job left out (Redis down when it was
    enqueued, a worker killed halfway) for the selections and settlements of the last days.
    Those already thanked are skipped by the same rule, so running it twice sends nothing."""
    since = (now or utcnow()) - dt.timedelta(days=SWEEP_DAYS)
    designs = _recent("design.select", since)
    campaigns = _recent("campaign.settled", since)
    db.session.rollback()
    return sum(thank_scorers(i) for i in designs) + sum(thank_backers(i) for i in campaigns)
