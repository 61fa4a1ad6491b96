"""Background work of designs: closing scoring windows."""

from __future__ import annotations

from marketplace.kernel.jobs import committed

from . import queries, services


def close_voting(design_id: int) -> bool:
    """Scheduled at approval for the window's end; harmless if run twice or early."""
    return committed(services.close_voting(design_id))


def close_due_windows() -> int:
    """Periodic sweep (``flask cron``): closes what a lost scheduled job left open."""
    closed = 0
    for design_id in queries.due_for_close():
        closed += close_voting(design_id)
    return closed
