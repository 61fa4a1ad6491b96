"""What a designer's public page shows: their designs on shelves named for where each really
is, in words a visitor understands, their produced products apart, and the pieces of their
profile a page writes out (initials for a missing picture, a link's readable name).

Where a design is comes from its state and, for one in the "campaign" state, its campaign's
(``design_campaigns``, as its badge reads it): a design whose campaign failed is not "in a
campaign" to a visitor, and one whose products were delivered is a product, not a pledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from marketplace.kernel.i18n import N_

from .models import Design

#: Campaign states whose products were (or are being) made: the "Produced" section.
PRODUCED = frozenset({"in_production", "shipped", "delivered"})

#: The shelves, in the order the page shows them: (key, heading, what it means to a visitor).
SHELVES = (
    (
        "campaign",
        N_("Pre-order campaigns"),
        N_("Back them before the deadline: you pay only if the goal is reached."),
    ),
    ("voting", N_("Open for scoring"), N_("Score them from 0 to 5: the best scored get made.")),
    (
        "funded",
        N_("Funded, going into production"),
        N_("Their campaign reached its goal: the products are being prepared."),
    ),
    (
        "selected",
        N_("Shortlisted or selected"),
        N_("The community scored them highly: our team is choosing, or preparing a campaign."),
    ),
    ("scored", N_("Scoring closed"), N_("The community has scored them.")),
    (
        "ended",
        N_("Campaigns that did not go ahead"),
        N_("Their campaign did not reach its goal, or was cancelled."),
    ),
)

_BY_DESIGN_STATE = {
    "voting": "voting",
    "scored": "scored",
    "not_selected": "scored",
    "shortlisted": "selected",
    "selected": "selected",
}
_BY_CAMPAIGN_STATE = {
    "scheduled": "campaign",
    "live": "campaign",
    "funded": "funded",
    "settling": "funded",
    "settled": "funded",
    "failed": "ended",
    "cancelled": "ended",
    **dict.fromkeys(PRODUCED, "produced"),
}


@dataclass(frozen=True)
class Shelf:
    key: str
    title: str  # in English: the page translates it
    blurb: str
    designs: list[Design] = field(default_factory=list)


@dataclass(frozen=True)
class DesignerWork:
    #: Non-empty shelves only, in SHELVES order.
    shelves: list[Shelf]
    #: (design, campaign) of the designs whose products were made, newest first.
    produced: list[tuple[Design, object]]


def shelf_of(design: Design, campaign) -> str | None:
    """The shelf key of a public design (``campaign``: its campaign, or None); "produced" for
    one whose products were made; None for a state no visitor sees."""
    if design.state.value == "campaign":
        if campaign is None:
            # Its campaign row is being set up: to a visitor it is a selected design still.
            return "selected"
        return _BY_CAMPAIGN_STATE.get(campaign.state.value)
    return _BY_DESIGN_STATE.get(design.state.value)


def designer_work(designs: list[Design], campaigns: dict) -> DesignerWork:
    """``designs`` (public ones, in the order to show) on their shelves; ``campaigns`` is
    ``{design id: campaign}`` for those in the "campaign" state."""
    placed: dict[str, list[Design]] = {}
    produced = []
    for design in designs:
        campaign = campaigns.get(design.id)
        key = shelf_of(design, campaign)
        if key == "produced":
            produced.append((design, campaign))
        elif key is not None:
            placed.setdefault(key, []).append(design)
    shelves = [
        Shelf(key, title, blurb, placed[key]) for key, title, blurb in SHELVES if key in placed
    ]
    return DesignerWork(shelves, produced)


def initials(name: str | None) -> str:
    """Up to two letters standing for a person with no picture: "Ada Lovelace" -> "AL",
    "Chloé" -> "C"; "?" when the name has no letter at all."""
    letters = [word[0] for word in (name or "").split() if word[:1].isalnum()]
    picked = letters[:1] + letters[1:][-1:]
    return "".join(picked).upper() or "?"


def link_label(url: str) -> str:
    """A profile link as a visitor reads it: its host (without "www.") and path, no scheme or
    trailing slash: "https://www.example.com/shop/" -> "example.com/shop"."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    return (host + parts.path).rstrip("/") or url
