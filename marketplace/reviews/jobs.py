"""Background work of reviews: asking backers to rate what they received."""

from __future__ import annotations

from marketplace.kernel.jobs import committed

from . import services


def sweep_rating_requests() -> tuple[int, int]:
    """Periodic (``flask cron``): the ask and the one reminder, each when due, once."""
    return committed(services.ask_for_ratings())
