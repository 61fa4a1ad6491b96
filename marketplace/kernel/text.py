"""Wording shared by the operators' command line."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 backer', '15 backers', '0 orders': a count with its noun agreed, in English only.

    For the shell (``flask`` commands speak English to operators). Pages, flash messages and
    mail count with ``ngettext`` (``{% trans count=n %}`` in templates), which agrees the noun
    in the reader's language; the ``|counted`` filter stays for templates not yet moved."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
