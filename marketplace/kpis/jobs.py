"""Background work of the KPIs: the rollup, on ``flask cron``'s schedule."""

from __future__ import annotations

from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db

from . import dashboard, rollup


def roll_up_kpis() -> str:
    """Periodic (``flask cron``): rewrite the recent days of the rollups, then compute the
    dashboard's preset periods for them (a year's figures take seconds at scale: the worker
    waits for them, not the first operator to look). Safe to run twice or at once with itself
    (the second run waits for the first's lock, then rewrites the same days with the same
    rows)."""
    today = utcnow().date()
    days = rollup.roll_up(today)
    db.session.commit()
    if days is None:
        return "nothing to roll up yet"
    dashboard.warm(today)
    return f"rolled up {days[0]} to {days[1]}"
