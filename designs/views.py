"""The design gallery. Submission, scoring and ranking arrive with the designs capability."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("designs", __name__, url_prefix="/designs")


@bp.get("/")
def index():
    return render_template("designs/index.html")
