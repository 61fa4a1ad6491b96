"""The two ends of every write view: the posted form, valid, and the commit that ends it.

A write view reads: ``form = posted(SomeForm, "what is wrong")``, one service call, then
``return committed(url, "what happened")``. A broken rule raised by the service is answered by
the app's ``ServiceError`` handler (rolled back, with the rule's status and message).
"""

from __future__ import annotations

from typing import TypeVar

from flask import abort, flash, redirect
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from .errors import ServiceError
from .extensions import db

F = TypeVar("F", bound=FlaskForm)


def posted(form_class: type[F], invalid: str | None = None) -> F:
    """The submitted form, validated (CSRF included). An invalid one stops the request: 422
    with ``invalid`` as the message, or a plain 400 for a bare button, whose only field is
    its CSRF token."""
    form = form_class()
    if not form.validate_on_submit():
        abort(422 if invalid else 400, description=invalid)
    return form


def form_status(form: FlaskForm) -> int:
    """The status of a page showing ``form``: 422 once it was submitted and refused."""
    return 422 if form.is_submitted() else 200


def refused(field, exc: ServiceError) -> int:
    """Show a broken rule's message on the field it is about, with nothing of the change
    kept; returns the status to answer with. For forms shown again with the input kept."""
    db.session.rollback()
    field.errors = [*field.errors, exc.message]  # a tuple until the field is validated
    return exc.status


def committed(location: str, message: str, category: str = "success") -> Response:
    """Commit the unit of work, tell the person what happened, and send them on."""
    db.session.commit()
    flash(message, category)
    return redirect(location)
