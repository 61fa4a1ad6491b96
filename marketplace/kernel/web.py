"""The two ends of every write view: the posted form, valid, and the commit that ends it.

A write view reads: ``form = posted(SomeForm, "what is wrong")``, one service call, then
``return committed(url, "what happened")``. A broken rule raised by the service is answered by
the app's ``ServiceError`` handler (rolled back, with the rule's status and message). A page
whose form is shown again with the input kept is a ``form_page``. Read views share the
parsing of what a URL names: ``or_404``, ``arg_choice``, ``page_number``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort, flash, redirect, render_template, request
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from .errors import ServiceError
from .extensions import db

F = TypeVar("F", bound=FlaskForm)
T = TypeVar("T")


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


def refused(where, exc: ServiceError) -> int:
    """Show a broken rule's message on the field it is about (or on the whole form, given
    the form), with nothing of the change kept; returns the status to answer with. For forms
    shown again with the input kept."""
    db.session.rollback()
    if isinstance(where, FlaskForm):
        where.form_errors.append(exc.message)
    else:
        where.errors = [*where.errors, exc.message]  # a tuple until the field is validated
    return exc.status


def form_page(
    form: FlaskForm,
    change: Callable[[], Response],
    template: str,
    *,
    message_on=None,
    **context,
):
    """A page with a form. GET shows it; a valid POST calls ``change()``, which makes the
    change and returns its response (``committed(...)``). A form that is not valid, or a
    change refused by a broken rule, is shown again with the input kept: the rule's message
    goes on ``message_on`` (a field; the whole form by default), and the status is 422 or
    the rule's. ``context`` is the template's, besides ``form``."""
    status = form_status(form)
    if form.validate_on_submit():
        try:
            return change()
        except ServiceError as exc:
            status = refused(form if message_on is None else message_on, exc)
    return render_template(template, form=form, **context), status


def committed(location: str, message: str, category: str = "success") -> Response:
    """Commit the unit of work, tell the person what happened, and send them on."""
    db.session.commit()
    flash(message, category)
    return redirect(location)


def or_404(found: T | None) -> T:
    """What the URL names, or a 404 when there is no such thing."""
    if found is None:
        abort(404)
    return found


def arg_choice(name: str, choices, default: str) -> str:
    """A query-string choice (a filter, a sort order): the default when missing or unknown,
    so that a hand-edited URL shows the usual page rather than an error."""
    value = request.args.get(name, default)
    return value if value in choices else default


def page_number() -> int:
    """The ``page`` query argument, at least 1."""
    return max(request.args.get("page", 1, type=int), 1)
