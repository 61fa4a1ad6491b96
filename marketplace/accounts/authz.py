"""Route guards shared by every package's views."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_babel import gettext as _
from flask_login import current_user, login_required


def operator_required(view):
    """Anonymous visitors are sent to log in; members who are not operators get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_operator:
            abort(403)
        return view(*args, **kwargs)

    wrapped.operator_only = True
    return wrapped


def verified_required(view):
    """Scoring, pledging and commenting need a verified address: one person, one voice."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_verified:
            abort(403, description=_("Verify your email address first: we sent you a link."))
        return view(*args, **kwargs)

    return wrapped
