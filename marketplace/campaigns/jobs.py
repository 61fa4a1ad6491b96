"""Background work of campaigns: starting, closing at the deadline, mailing updates."""

from __future__ import annotations

from marketplace.kernel.jobs import committed

from . import services


def start_campaign(campaign_id: int) -> bool:
    return committed(services.start_due(campaign_id))


def close_campaign(campaign_id: int) -> str | None:
    """Scheduled for the deadline; re-checks it, so an early or repeated run does nothing."""
    state = committed(services.close_due(campaign_id))
    return state.value if state else None


def sweep_due_campaigns() -> int:
    """Periodic (``flask cron``): starts and closes what a lost scheduled job left waiting."""
    to_start, to_close = services.due_campaigns()
    done = sum(start_campaign(cid) for cid in to_start)
    done += sum(close_campaign(cid) is not None for cid in to_close)
    return done


def mail_update(update_id: int) -> int:
    return services.mail_update(update_id)
