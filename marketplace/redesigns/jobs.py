"""Background work of redesign challenges: closing them at their deadline."""

from __future__ import annotations

from marketplace.kernel.jobs import committed

from . import services


def close_due_challenges() -> int:
    """Periodic (``flask cron``): close the open challenges past their deadline."""
    return committed(services.close_due())
