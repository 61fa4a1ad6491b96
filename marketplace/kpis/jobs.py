"""Background work of the KPIs: the rollup, on ``flask cron``'s schedule."""

from __future__ import annotations

from marketplace.kernel.extensions import db

from . import rollup


def roll_up_kpis() -> str:
    """Periodic (``flask cron``): rewrite the recent days of the rollups. Safe to run twice
    or at once with itself (the second run waits for the first's lock, then rewrites the same
    days with the same rows)."""
    days = rollup.roll_up()
    db.session.commit()
    return "nothing to roll up yet" if days is None else f"rolled up {days[0]} to {days[1]}"
