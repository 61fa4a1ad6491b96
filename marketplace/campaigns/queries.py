"""Read queries of campaigns and pledges, named for what they return. Views and the console
call them; they never write."""

from __future__ import annotations

from sqlalchemy.orm import joinedload, selectinload

from designs.models import Design

from .models import Campaign


def campaign_options():
    """What a campaign card and page show: the design with its designer, the variants."""
    return (
        joinedload(Campaign.design).joinedload(Design.designer),
        selectinload(Campaign.variants),
    )
