"""The public page of a redesign challenge, and what challenges add to the design pages
(a section, timeline events) and to a designer's "My designs"."""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template
from flask_login import current_user
from markupsafe import Markup

from designs.models import DesignState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.pagecache import cached_for_anonymous

from . import queries

bp = Blueprint("redesigns", __name__, url_prefix="/redesigns")


@bp.get("/<int:challenge_id>")
@cached_for_anonymous
def show(challenge_id: int):
    challenge = queries.challenge(challenge_id)
    if challenge is None or not challenge.design.is_public:
        abort(404)
    return render_template(
        "redesigns/show.html",
        challenge=challenge,
        design=challenge.design,
        entries=queries.entries(challenge),
        is_owner=current_user.is_authenticated and current_user.id == challenge.design.designer_id,
        now=utcnow(),
    )


def _challenges_of(design):
    """The design's challenges, read once per request for its section and its timeline.
    Only a design that reached its campaign can have one: others cost no query."""
    if design.state != DesignState.CAMPAIGN:
        return []
    found = g.setdefault("redesign_challenges", {})
    if design.id not in found:
        found[design.id] = queries.challenges_of_design(design.id)
    return found[design.id]


def design_sections(design) -> list[Markup]:
    """Receives ``design_sections``: the design's redesign challenges, the newest first."""
    challenges = _challenges_of(design)
    if not challenges:
        return []
    return [_section("redesigns/_design_section.html", challenges=challenges)]


def design_timeline(design) -> list[tuple[str, int]]:
    """Receives ``design_timeline``: a challenge's opening, closing and outcome belong on
    the original's timeline."""
    return [("redesign_challenge", c.id) for c in _challenges_of(design)]


def my_designs_sections(designer) -> list[Markup]:
    """Receives ``my_designs_sections``: the open challenges on the designer's own designs."""
    challenges = queries.open_challenges_for_designer(designer.id)
    if not challenges:
        return []
    return [_section("redesigns/_mine_section.html", challenges=challenges)]


def _section(template: str, **context) -> Markup:
    # Rendered by Jinja with autoescape on: every value in it is escaped already.
    return Markup(render_template(template, **context))  # noqa: S704
