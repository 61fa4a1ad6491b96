"""The one error type services raise for a broken rule."""

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
