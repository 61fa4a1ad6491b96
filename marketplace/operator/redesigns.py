"""The operators' side of redesign challenges: produced designs rated under the bar, opening
a challenge on one (brief, deadline, the reviews it draws on), closing one early."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from marketplace.accounts.authz import operator_required
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.web import committed, form_on_page, posted
from marketplace.redesigns import queries, services
from marketplace.redesigns.forms import OpenChallengeForm

operator_bp = Blueprint("redesigns_operator", __name__, url_prefix="/operator/redesigns")

#: A new challenge's deadline, suggested in the form.
DEFAULT_DAYS = 21


def queue_counts() -> list[tuple[str, int, str]]:
    """For the console's front page: designs suggested for a redesign."""
    return [
        (
            _("to redesign"),
            queries.redesign_suggestion_count(),
            url_for("redesigns_operator.index"),
        )
    ]


def _open_form(design_id: int, formdata=None) -> OpenChallengeForm:
    # Prefixed: the page holds one such form per suggested design, each with its own ids.
    prefix = f"design-{design_id}"
    if formdata is False:
        form = OpenChallengeForm(formdata=None, prefix=prefix)
    else:
        form = OpenChallengeForm(prefix=prefix)
    form.reviews.choices = [
        SelectChoice(r.id, f"{r.score}/5 · {r.review[:160]}")
        for r in queries.reviews_to_choose(design_id)
    ]
    if formdata is False:
        deadline = utcnow() + dt.timedelta(days=DEFAULT_DAYS)
        form.deadline.data = deadline.replace(second=0, microsecond=0, tzinfo=None)
    return form


@operator_bp.get("/")
@operator_required
def index():
    return _page()


def _page(refused: tuple[int, OpenChallengeForm] | None = None) -> str:
    """The suggestions, each with its form (``refused``: the design id and form of an
    opening refused, shown again with what was typed), then the challenges."""
    suggestions = queries.redesign_suggestions()
    forms = {
        s.design.id: (refused[1] if refused and refused[0] == s.design.id else None)
        or _open_form(s.design.id, formdata=False)
        for s in suggestions
    }
    return render_template(
        "operator/redesigns.html",
        suggestions=suggestions,
        forms=forms,
        refused=refused,
        open_challenges=queries.open_challenges(),
        closed_challenges=queries.recent_closed_challenges(),
        button=ButtonForm(formdata=None),
        below=current_app.config["REDESIGN_BELOW"],
        min_ratings=current_app.config["REDESIGN_MIN_RATINGS"],
    )


@operator_bp.post("/designs/<int:design_id>/open")
@operator_required
def open_challenge(design_id: int):
    form = _open_form(design_id)

    def open_now():
        deadline = form.deadline.data.replace(tzinfo=dt.UTC)
        challenge = services.open_challenge(
            design_id, current_user, form.brief.data, deadline, form.reviews.data or []
        )
        return committed(
            url_for("redesigns.show", challenge_id=challenge.id),
            _("Redesign challenge opened; its designer is told first."),
        )

    return form_on_page(
        form,
        open_now,
        lambda shown: _page(refused=(design_id, shown)),
        invalid=_("Give a brief of 20 to 4,000 characters and a deadline."),
    )


@operator_bp.post("/<int:challenge_id>/close")
@operator_required
def close(challenge_id: int):
    posted(ButtonForm)
    services.close_challenge(challenge_id, current_user)
    return committed(url_for("redesigns_operator.index"), _("Redesign challenge closed."))
