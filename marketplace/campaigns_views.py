"""Campaign pages. Opening campaigns and pledging arrive with the campaigns capability."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")


@bp.get("/")
def index():
    return render_template("campaigns/index.html")
