"""A short cache of public pages for anonymous visitors, in Redis.

Most traffic on a gallery is people who are not logged in, and their pages are the same for
everyone: rendering each one (a dozen milliseconds of ORM and templates) is waste. A page is
kept ``PAGE_CACHE_SECONDS`` (10 s by default): a new design or pledge shows to anonymous
visitors at most that late. Members never get a cached page: theirs is put together from
shared pieces and their own (``kernel.fragments``). The same window is
announced in Cache-Control, so a reverse proxy or CDN can share the work too.

A page whose every change goes through code that says so (a design's page: its transitions
and its comments) is tagged, and kept ``PAGE_CACHE_TAGGED_SECONDS`` (5 minutes): the code that
changes it calls ``forget_after_commit(tag)``, and the copies go once the change is committed.

Views opt in with ``cached_for_anonymous``; the lookup and the store happen in ``PageCache``,
a WSGI middleware around the Flask app. Serving a hit from there, before routing, sessions,
Flask-Login and the template layer, is what makes it cheap (the way a Varnish or nginx micro
cache in front would), and storing the finished response keeps every header the app adds
after the view (security headers, Cache-Control) on the copies too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from functools import wraps

from flask import Flask, current_app, request, session
from flask.globals import request_ctx
from flask_sqlalchemy.session import Session as FlaskSession
from markupsafe import Markup
from redis.exceptions import RedisError
from sqlalchemy import event
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from .extensions import db
from .i18n import DEFAULT_LANGUAGE, LANGUAGES
from .queues import redis_connection

log = logging.getLogger(__name__)

_MARK = "marketplace.pagecache"
_PENDING = "pagecache_forget"


def cached_for_anonymous(view=None, *, tag: str | None = None):
    """Let ``PageCache`` keep this view's page for anonymous visitors. ``tag`` (formatted
    with the view's arguments, e.g. ``"design:{design_id}"``) names what the page shows, for
    ``forget_after_commit``; a tagged page is kept longer."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            response = current_app.make_response(view(*args, **kwargs))
            cfg = current_app.config
            seconds = cfg["PAGE_CACHE_TAGGED_SECONDS" if tag else "PAGE_CACHE_SECONDS"]
            if response.status_code == 200 and seconds > 0 and request.method == "GET":
                if cfg["PAGE_CACHE_SECONDS"] > 0:
                    # Proxies cannot be told to forget: they keep a page for the short window,
                    # one copy per language asked for.
                    response.vary.add("Accept-Language")
                    response.cache_control.public = True
                    response.cache_control.max_age = min(seconds, cfg["PAGE_CACHE_SECONDS"])
                # A page that started a session (a CSRF token, a flash) belongs to one visitor.
                # A tagged page lives minutes and takes no query string: copies of it under
                # made-up ones (?x=1, ?x=2...) would only fill Redis, which the queues share.
                if not session.modified and not (tag and request.query_string):
                    request.environ[_MARK] = (seconds, tag.format(**kwargs) if tag else None)
            return response

        return wrapped

    return decorate(view) if view is not None else decorate


def _tag_key(tag: str) -> str:
    return "pagecache-tag:" + tag


def _forgot_key(tag: str) -> str:
    return "pagecache-forgot:" + tag


# Stores a tagged page unless its tag was forgotten after (or about when) the page began to
# render: that page may show the data from before the change, and would stay for minutes.
_STORE_TAGGED = """
local forgot = redis.call('GET', KEYS[3])
if forgot and tonumber(forgot) >= tonumber(ARGV[3]) then return 0 end
redis.call('SETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
"""
#: Allowance for the clocks of two web servers (the forgetting one and the rendering one).
CLOCK_SKEW_SECONDS = 1.0


def store_tagged(key: str, tag: str, entry, seconds: int, started: float, redis=None) -> None:
    """Keep ``entry`` under ``key`` for ``seconds``, to be dropped when ``tag`` is forgotten;
    unless it was forgotten since ``started``, when what ``entry`` shows began to be read.
    Raises RedisError, for the caller to decide what a cache that is down means."""
    (redis or redis_connection()).eval(
        _STORE_TAGGED,
        3,
        key,
        _tag_key(tag),
        _forgot_key(tag),
        seconds,
        entry,
        repr(started - CLOCK_SKEW_SECONDS),
    )


def forget_after_commit(tag: str) -> None:
    """Drop the cached copies of the pages tagged ``tag`` once the current transaction
    commits (before, a visitor could cache the old page again in between)."""
    # Begin the transaction now if nothing has yet: a rollback of a session that never began
    # one fires no event, and the tag would be forgotten at the next, unrelated commit.
    db.session.connection()
    db.session.info.setdefault(_PENDING, set()).add(tag)


@event.listens_for(FlaskSession, "after_commit")
def _forget_pending(session: FlaskSession) -> None:
    tags = session.info.pop(_PENDING, None)
    if tags:
        forget(tags)


def forget(tags) -> None:
    """Drop the cached copies of the pages tagged with any of ``tags``, now."""
    seconds = current_app.config["PAGE_CACHE_TAGGED_SECONDS"]
    if not seconds:
        return
    tags = sorted(tags)
    redis = redis_connection()
    try:
        tag_keys = [_tag_key(tag) for tag in tags]
        with redis.pipeline(transaction=False) as pipe:
            for tag in tags:
                pipe.set(_forgot_key(tag), repr(time.time()), ex=seconds)
            for tag_key in tag_keys:
                pipe.smembers(tag_key)
            pages = set().union(*pipe.execute()[len(tags) :])
        redis.delete(*pages, *tag_keys)
    except RedisError:
        # The copies then live out their time: stale for minutes, which the log says.
        log.warning("page cache: could not forget %s", tags, exc_info=True)


@event.listens_for(FlaskSession, "after_soft_rollback")
def _drop_pending(session: FlaskSession, previous_transaction) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)


class PageCache:
    """Serve and store the pages ``cached_for_anonymous`` marks, for requests that carry
    neither a session nor a remember-me cookie (such a request may be a member's, and a
    member always gets a fresh page)."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.private_cookies = (
            app.config["SESSION_COOKIE_NAME"] + "=",
            app.config.get("REMEMBER_COOKIE_NAME", "remember_token") + "=",
        )

    def _key(self, environ) -> str | None:
        cfg = self.app.config
        if environ.get("REQUEST_METHOD") != "GET" or (
            cfg["PAGE_CACHE_SECONDS"] <= 0 and cfg["PAGE_CACHE_TAGGED_SECONDS"] <= 0
        ):
            return None
        cookies = environ.get("HTTP_COOKIE", "")
        if any(name in cookies for name in self.private_cookies):
            return None
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.app.static_url_path + "/"):
            return None
        # Scheme and host are part of the page: with FORCE_HTTPS an http request gets a
        # redirect, which is never stored, so it can never be answered with an https copy.
        # So is the language the browser asks for (a visitor who picked one with the
        # switcher has a session, so is never served from here).
        language = parse_accept_header(
            environ.get("HTTP_ACCEPT_LANGUAGE"), LanguageAccept
        ).best_match(LANGUAGES, default=DEFAULT_LANGUAGE)
        where = "{}://{}{}?{}#{}".format(
            environ.get("wsgi.url_scheme", "http"),
            environ.get("HTTP_HOST", ""),
            path,
            environ.get("QUERY_STRING", ""),
            language,
        )
        return "pagecache:" + hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()

    def __call__(self, environ, start_response):
        key = self._key(environ)
        if key is None:
            return self.wsgi_app(environ, start_response)
        redis = redis_connection(self.app)
        try:
            entry = redis.get(key)
        except RedisError:
            entry = None  # a cache that is down is only slower
        if entry is not None:
            head, _, body = entry.partition(b"\n")
            status, headers = json.loads(head)
            start_response(status, [*map(tuple, headers), ("X-Cache", "hit")])
            return [body]

        captured = {}

        def capture(status, headers, exc_info=None):
            captured.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None  # the legacy write() callable; Flask never uses it

        started = time.time()
        app_iter = self.wsgi_app(environ, capture)
        seconds, tag = environ.get(_MARK) or (0, None)
        stored = (
            seconds
            and captured["status"].startswith("200")
            and not any(name.lower() == "set-cookie" for name, _ in captured["headers"])
        )
        if not stored:
            start_response(captured["status"], captured["headers"], captured["exc_info"])
            return app_iter
        try:
            body = b"".join(app_iter)
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
        headers = list(captured["headers"])
        try:
            entry = json.dumps([captured["status"], headers]).encode() + b"\n" + body
            if tag:
                store_tagged(key, tag, entry, seconds, started, redis)
            else:
                redis.setex(key, seconds, entry)
        except RedisError:
            log.warning("page cache: could not store a page", exc_info=True)
        start_response(captured["status"], [*headers, ("X-Cache", "miss")])
        return [body]


def remembered(key: str, make: Callable[[], str], seconds: int) -> str:
    """What ``make`` gives, kept in Redis under ``key`` for ``seconds``: made once, then read
    back. Without Redis it is made each time, and the log says so (slower, never wrong)."""
    try:
        redis = redis_connection()
        hit = redis.get(key)
    except RedisError:
        log.warning("cache unreachable: making %s", key.partition(":")[0], exc_info=True)
        return make()
    if hit is not None:
        return hit.decode()
    made = make()
    try:
        redis.set(key, made.encode(), ex=seconds)
    except RedisError:
        log.warning("cache unreachable: %s not kept", key.partition(":")[0], exc_info=True)
    return made


def message_waiting() -> bool:
    """A message is to be shown on this page: still in the session, or already taken from
    it by a piece rendered earlier in the request (Flask keeps those on the request). A
    piece rendered then may show it, and is that reader's alone."""
    return bool(session.get("_flashes") or request_ctx.flashes)


def _digest(parts) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def cached_fragment(parts, render, seconds: int) -> Markup:
    """A piece of a page that is the same for everyone who sees it (no CSRF token, nothing of
    the person), rendered once and kept in Redis for ``seconds``. ``parts`` name everything it
    depends on, the reader's language and time zone included, so that a change gives another
    key rather than having to drop the old copy. Without Redis it is rendered each time."""
    html = remembered("fragment:" + _digest(parts), lambda: str(render()), seconds)
    return Markup(html)  # noqa: S704  (a rendered template, escaped by Jinja, or its copy)


def cached_for_member(parts, render, seconds: int) -> str:
    """A member's whole page, kept in Redis for ``seconds`` for that member's session alone:
    for a page that is costly to render and changes only at moments ``parts`` name (the
    figures of a report, say). Called once the member is known (their login session checked
    by the user loader: a session ended by a logout or a password reset never gets here). The
    copy is keyed by that login session and the CSRF token of the browser's session (the
    page's forms carry it), so it never reaches anyone else, by the URL, the language and the
    time zone; the key is a digest, so no secret is written to Redis. A page with a message
    waiting to be shown is rendered and not kept, and so is one whose session had no CSRF
    token yet (rendering makes it)."""
    from flask_babel import get_locale, get_timezone
    from flask_login import current_user

    token = session.get("csrf_token")
    if not current_user.is_authenticated or message_waiting() or token is None:
        return render()
    mine = (
        current_user.id,
        current_user.get_id(),
        token,
        request.full_path,
        str(get_locale()),
        str(get_timezone()),
    )
    return remembered("memberpage:" + _digest([mine, parts]), render, seconds)
