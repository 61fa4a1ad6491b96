"""Background work of campaigns: starting, closing at the deadline, mailing updates."""

from __future__ import annotations

from marketplace.kernel.extensions import db

from . import services


def start_campaign(campaign_id: int) -> bool:
    started = services.start_due(campaign_id)
    db.session.commit()
    return started


def close_campaign(campaign_id: int) -> str | None:
    """Scheduled for the deadline; re-checks it, so an early or repeated run does nothing."""
    state = services.close_due(campaign_id)
    db.session.commit()
    return state.value if state else None


def sweep_due_campaigns() -> int:
    """Periodic (``flask cron``): starts and closes what a lost scheduled job left waiting."""
    to_start, to_close = services.due_campaigns()
    done = sum(start_campaign(cid) for cid in to_start)
    done += sum(close_campaign(cid) is not None for cid in to_close)
    return done


def mail_update(update_id: int) -> int:
    return services.mail_update(update_id)
