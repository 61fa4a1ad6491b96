"""Background work of production: survey reminders."""

from __future__ import annotations

from marketplace.kernel.jobs import committed

from . import services


def sweep_surveys() -> int:
    """Periodic (``flask cron``): remind every 48 h those who have not answered."""
    return committed(services.remind_surveys())
