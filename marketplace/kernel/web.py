"""The two ends of every write view: the posted form, valid, and the commit that ends it.

A write view reads: ``form = posted(SomeForm, "what is wrong")``, one service call, then
``return committed(url, "what happened")`` (with ``at=`` an element's id, the message is shown
beside that element: ``flashes_at``). A broken rule raised by the service is answered by
the app's ``ServiceError`` handler (rolled back, with the rule's status and message). A page
whose form is shown again with the input kept is a ``form_page``; a form posted from a page
holding several (the operators' pages) is a ``form_on_page``, which renders that page again.
Read views share the parsing of what a URL names: ``or_404``, ``arg_choice``, ``page_number``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from babel.dates import format_timedelta
from flask import abort, flash, g, get_flashed_messages, redirect, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response

from .errors import ServiceError, is_conflict
from .extensions import connection_without_transaction, db

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


def form_on_page(
    form: FlaskForm,
    change: Callable[[], Response],
    page: Callable[[FlaskForm], str],
    *,
    invalid: str | None,
    message_on=None,
):
    """A form posted from a page that holds several (an operator's run page, the shortlist):
    a valid one calls ``change()``, which makes the change and returns its response. A form
    that is not valid, or a change refused by a broken rule, gives the page again, rendered
    by ``page(form)`` with everything typed kept and the message on ``message_on`` (a field;
    the whole form by default): nothing is applied, and nothing is lost. ``invalid`` says
    what a form that is not valid lacks; None for a bare button (a plain 400 then)."""
    where = form if message_on is None else message_on
    if form.validate_on_submit():
        try:
            return change()
        except ServiceError as exc:
            status = refused(where, exc)
    elif invalid is None:
        abort(400)
    else:
        db.session.rollback()
        if isinstance(where, FlaskForm):
            where.form_errors.append(invalid)
        else:
            where.errors = [invalid]
        status = 422
    return page(form), status


def committed(location: str, message: str, category: str = "success", *, at: str = "") -> Response:
    """Commit the unit of work, tell the person what happened, and send them on. With
    ``at``, the id of an element of the page (the scoring card, a comment), the page opens
    there and the message is shown beside it (see ``flashes_at``), where the person is
    looking, rather than at the top of the page, scrolled out of sight."""
    # A write done outside the session (the vote, on PostgreSQL) leaves it with nothing
    # begun: committing it would still go through the session's machinery for nothing.
    if db.session.registry.has() and db.session().in_transaction():
        db.session.commit()
    flash(message, f"{category}{_AT}{at}" if at else category)
    return redirect(f"{location}#{at}" if at else location)


#: Joins a flashed message's category and the element it is shown at.
_AT = "@"


def _flashes() -> list[tuple[int, str, str, str]]:
    """This request's flashed messages: (index, category, element id or "", message)."""
    found = []
    for index, (category, message) in enumerate(get_flashed_messages(with_categories=True)):
        kind, _at, at = category.partition(_AT)
        found.append((index, kind, at, message))
    return found


def flashes_at(element_id: str) -> list[tuple[str, str]]:
    """For a template: the messages to show beside the element ``element_id``, as
    (category, message). Whatever no element on the page claims is shown at the top by
    ``flashes_elsewhere``, so a message is never lost (a comment hidden since, say)."""
    placed = g.setdefault("flashes_placed", set())
    mine = [(index, kind, message) for index, kind, at, message in _flashes() if at == element_id]
    placed.update(index for index, _kind, _message in mine)
    return [(kind, message) for _index, kind, message in mine]


def flashes_elsewhere() -> list[tuple[str, str]]:
    """The messages no element claimed with ``flashes_at``: the page renders its content
    before these, so that it knows."""
    placed = g.get("flashes_placed", set())
    return [(kind, message) for index, kind, _at, message in _flashes() if index not in placed]


def retried_on_conflict(view: Callable) -> Callable:
    """Run a write view a second time when its transaction lost a collision with another
    (a deadlock or serialization failure, rolled back by the database): the second run sees
    the winner's commit and usually succeeds. A second loss reaches the app's handler, which
    answers 409. Only for views whose work is all in the database: nothing outside it may
    have happened twice."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except sa.exc.DBAPIError as exc:
            if not is_conflict(exc):
                raise
            db.session.rollback()
            return view(*args, **kwargs)

    return wrapper


def read_only(view: Callable) -> Callable:
    """A page that only reads: on PostgreSQL its statements run without a transaction
    around them (each is consistent on its own, which is all a page shows), which spares the
    round trips of BEGIN and ROLLBACK on the busiest pages. Any write in it would be
    committed at once, statement by statement: only for views that never write. (SQLite is
    in the process: no round trip to spare.)"""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        connection_without_transaction()
        return view(*args, **kwargs)

    return wrapped


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


#: The largest id the database's integer columns hold (PostgreSQL's ``integer``).
MAX_ID = 2**31 - 1
#: No listing has this many pages; a larger number would overflow the query's OFFSET.
MAX_PAGE = 100_000


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a positive number the id columns can hold, else 404
    (a larger one would reach the database and fail there)."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("min", 0)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def as_id(text: str | None) -> int | None:
    """An id typed into a query string or a form (ASCII digits, in the columns' range), or
    None: "²" passes ``str.isdigit`` but not ``int``."""
    if not text or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def arg_id(name: str) -> int | None:
    """A query-string argument naming a row by id, or None when it is missing or no id."""
    return as_id(request.args.get(name))


def page_number() -> int:
    """The ``page`` query argument, from 1 to ``MAX_PAGE``."""
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)


def refuse_nul_bytes() -> None:
    """Before every request: a NUL byte in the query string or a form is refused with a
    400. PostgreSQL cannot store one in text, so it would otherwise fail deep inside a page
    or a write (a 500), or be stored differently on SQLite."""
    if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        abort(400, description=_("NUL characters are not accepted in a web address."))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and any(
        "\x00" in key or "\x00" in value for key, value in request.form.items(multi=True)
    ):
        abort(400, description=_("NUL characters are not accepted in a form."))


def describe_limit(exc) -> str:
    """A rate limit that was exceeded (Flask-Limiter's 429), for people and in their
    language: "3 per 1 minute", "3 en 1 minute". A limit given its own message says that."""
    limit = getattr(exc, "limit", None)
    item = getattr(limit, "limit", None)
    if item is None or getattr(limit, "error_message", None):
        return str(exc.description)
    period = dt.timedelta(seconds=item.get_expiry())
    return _(
        "%(amount)s per %(period)s",
        amount=item.amount,
        period=format_timedelta(period, threshold=1.0, locale=get_locale() or "en"),
    )
