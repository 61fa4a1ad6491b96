"""Read queries of designs, named for what they return. Views and the console call them;
they never write."""

from __future__ import annotations

from sqlalchemy.orm import joinedload, selectinload

from .models import Design


def card_options():
    """What a design card shows: its designer, product and tags, loaded with it."""
    return (joinedload(Design.designer), joinedload(Design.product), selectinload(Design.tags))
