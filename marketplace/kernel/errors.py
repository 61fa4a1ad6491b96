"""The one error type services raise for a broken rule, and how to tell a collision of two
transactions from a real database failure."""

from __future__ import annotations


class ServiceError(Exception):
    """A broken business rule. ``message`` is safe to show to the person; ``status`` is the
    HTTP status a view answers with."""

    status = 422

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


#: SQLSTATEs of a transaction that lost to a concurrent one and may simply run again:
#: serialization_failure and deadlock_detected (PostgreSQL's class 40).
_CONFLICT_SQLSTATES = {"40001", "40P01"}


def is_conflict(exc: BaseException) -> bool:
    """Whether a database error says the transaction collided with another (it was rolled
    back and may be run again), rather than that something is broken."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in _CONFLICT_SQLSTATES
