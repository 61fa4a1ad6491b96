"""Row locks, the same way on PostgreSQL and SQLite."""

from __future__ import annotations

import sqlalchemy as sa

from .extensions import db


def lock_row(model, row_id: int):
    """Load a row locked until commit (SELECT ... FOR UPDATE on PostgreSQL; on SQLite every
    transaction holds the database's write lock from its start), refreshed from the database
    even if the session holds it."""
    return db.session.scalar(
        sa.select(model)
        .where(model.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
