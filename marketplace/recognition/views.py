"""Public contributor profiles, and what recognition adds to a designer's page."""

from __future__ import annotations

from flask import Blueprint, render_template
from markupsafe import Markup

from designs.models import CLOSED_STATES
from designs.queries import public_designs_of
from marketplace.kernel.pagecache import cached_for_anonymous
from marketplace.kernel.web import or_404

from . import badges, queries

bp = Blueprint("recognition", __name__, url_prefix="/people")


@bp.get("/<int:user_id>")
@cached_for_anonymous
def profile(user_id: int):
    person = or_404(queries.person(user_id))
    return render_template(
        "recognition/profile.html",
        person=person,
        did=queries.contributions(person.id),
        held=badges.badges_of(person.id),
        rules=badges.BADGES,
    )


def designer_sections(person, **_kwargs) -> list[Markup]:
    """Receiver of ``designer_sections``: how many people scored and backed each of the
    designer's public designs. Scores are counted only once scoring closed, as the design's
    own page does: during scoring the count is part of what stays hidden."""
    designs = public_designs_of(person.id)
    if not designs:
        return []
    backers = queries.backer_counts([d.id for d in designs])
    rows = [
        (d, d.vote_count if d.state in CLOSED_STATES else None, backers.get(d.id)) for d in designs
    ]
    # A rendered template: Jinja escaped every value in it already.
    html = render_template("recognition/_designer_counts.html", rows=rows)
    return [Markup(html)]  # noqa: S704
