"""Route guards shared by every package's views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TypeVar

from flask import abort, current_app, session
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.kernel.errors import ServiceError

from .models import LoginSession, User

T = TypeVar("T")


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


@dataclass(frozen=True)
class UncheckedLogin:
    """The login session the request's session cookie names, not checked yet. A write that
    checks it in its own statement (``queries.standing_by_secret``, the user loader's
    conditions) spares the account's loading: a round trip and an ORM object, which on the
    busiest write (the vote) is a fifth of its time."""

    secret_hash: str


class NotLoggedIn(ServiceError):
    """The login session a write named has ended or expired."""

    status = 401


def as_member(write: Callable[[User | UncheckedLogin], T]) -> T:
    """``write(who)`` for the member the request comes from, or the login page for anyone
    else, as ``login_required`` would answer. ``who`` is the login session the session
    cookie names, for ``write`` to check in its statement, raising ``NotLoggedIn`` when it
    finds none; Flask-Login then decides (a remember-me cookie, or nobody), and ``write``
    runs again with the account it loads. (Flask-Login's basic session protection only marks
    a session not fresh, at the next request that loads the account; it refuses nothing.)"""
    token = session.get("_user_id")
    if token is not None:
        try:
            return write(UncheckedLogin(LoginSession.hash_secret(token)))
        except NotLoggedIn:
            pass
    if not current_user.is_authenticated:
        abort(current_app.login_manager.unauthorized())
    return write(current_user._get_current_object())
