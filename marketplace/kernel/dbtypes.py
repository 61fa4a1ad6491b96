"""Column types shared by every package's models."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.TypeDecorator):
    """An aware UTC datetime on every database.

    SQLite has no time zones and hands back naive values, so comparing a loaded deadline with
    ``utcnow()`` would raise; storing naive UTC and re-attaching UTC on load keeps one rule.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use an aware datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


class StateEnum(enum.StrEnum):
    """A state stored by its value; ``label`` is how pages and mail name it."""

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


def enum_column(enum_cls: type[enum.StrEnum], length: int = 20) -> sa.Enum:
    """A string enum stored by value in a VARCHAR, so adding a state needs no type migration."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
