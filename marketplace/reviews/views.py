"""Rating a delivered product, its photos, replies and reports; the sections other pages show."""

from __future__ import annotations

from flask import Blueprint

from . import models  # noqa: F401  (the tables, for the app and its migrations)

bp = Blueprint("reviews", __name__)
