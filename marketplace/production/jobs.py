"""Background work of production: survey reminders."""

from __future__ import annotations

from marketplace.kernel.extensions import db

from . import services


def sweep_surveys() -> int:
    """Periodic (``flask cron``): remind every 48 h those who have not answered."""
    reminded = services.remind_surveys()
    db.session.commit()
    return reminded
