"""Wording shared by pages, flash messages and mail."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 backer', '15 backers', '0 orders': a count with its noun agreed (English)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
