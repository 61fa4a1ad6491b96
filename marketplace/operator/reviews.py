"""The operators' side of reviews: reported reviews, kept or hidden (audited), next to
comment moderation."""

from __future__ import annotations

from flask import Blueprint, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from designs.services import REPORTS_TO_HIDE
from marketplace.accounts.authz import operator_required
from marketplace.kernel.forms import ButtonForm
from marketplace.kernel.web import committed, posted
from marketplace.reviews import queries, services

operator_bp = Blueprint("reviews_operator", __name__, url_prefix="/operator/reviews")


@operator_bp.get("/")
@operator_required
def index():
    return render_template(
        "reviews/moderation.html",
        ratings=queries.flagged_ratings(),
        reports_to_hide=REPORTS_TO_HIDE,
        button=ButtonForm(formdata=None),
    )


@operator_bp.post("/<int:rating_id>/<any(hide, keep):action>")
@operator_required
def moderate(rating_id: int, action: str):
    posted(ButtonForm)
    services.moderate(rating_id, current_user, hide=action == "hide")
    return committed(
        url_for("reviews_operator.index"),
        _("Review hidden.") if action == "hide" else _("Review kept: it is shown again."),
        "info",
    )
