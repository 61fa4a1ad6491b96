"""Pieces of a member's page rendered once and shared, with the member's own bits filled in.

A member's page differs from the next member's in little: the CSRF token its forms carry, a
form or two shown to some readers and not others (no "Report" on your own comment), a section
that depends on the member (their score). Everything else (the header, the footer, a design's
artwork, story, timeline and comments) is the same for everyone with the same roles, and
rendering it is most of what a page costs. So such a piece is rendered with **holes** where the
member's bits go, kept, and each request fills the holes in, which is string replacement:

- the CSRF token: templates write ``{{ csrf_input() }}`` instead of ``form.hidden_tag()``; while
  a shared piece renders it leaves a hole that ``fill`` replaces with the request's token;
- ``{% call not_by(author_id) %}...{% endcall %}``: shown to every member but that author;
- ``{{ hole("name") }}``: a section the request renders itself, given to ``fill`` by name.

Two stores: ``in_process`` keeps pieces whose every input is in their key in the process (the
layout's, by ``layout_part``: they change only with the code and the catalogues, so only a
deploy changes them, and a deploy restarts the process); ``shared_fragment`` keeps a page's
pieces in Redis, tagged like the page cache's pages and dropped with them by
``pagecache.forget_after_commit(tag)``; ``tagged_piece`` a section keyed by what it shows
(a design's scores section, by its counters), fetched in the same round trip; ``kept`` keeps
what a query found there the same way.

Hole markers hold NUL characters, which no text can carry here: ``kernel.web`` refuses them in
query strings and forms, so no user's words can fake a hole.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import threading
import time
from collections.abc import Callable

from flask import current_app, g, has_request_context, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from redis.exceptions import RedisError

from .pagecache import _digest, message_waiting, store_tagged
from .queues import redis_connection

log = logging.getLogger(__name__)

_CSRF_HOLE = "\x00csrf\x00"
_NOT_BY = re.compile(r"\x00not-by:(\d+)\x00(.*?)\x00/not-by\x00", re.S)
_HOLE = re.compile(r"\x00hole:(\w+)\x00")
_sharing: contextvars.ContextVar[bool] = contextvars.ContextVar("fragment_sharing", default=False)


@contextlib.contextmanager
def sharing():
    """While this block renders, the member's bits become holes."""
    reset = _sharing.set(True)
    try:
        yield
    finally:
        _sharing.reset(reset)


def csrf_input() -> Markup:
    """The hidden CSRF field a form needs, as Flask-WTF's ``hidden_tag()`` writes it."""
    token = _CSRF_HOLE if _sharing.get() else generate_csrf()
    return Markup(f'<input id="csrf_token" name="csrf_token" type="hidden" value="{token}">')  # noqa: S704


def not_by(author_id: int, caller: Callable[[], str]) -> Markup:
    """What the call block renders, for every reader but the member ``author_id``."""
    if _sharing.get():
        return Markup(f"\x00not-by:{int(author_id)}\x00{caller()}\x00/not-by\x00")  # noqa: S704
    if current_user.is_authenticated and current_user.id == author_id:
        return Markup("")
    return Markup(caller())  # noqa: S704  (rendered by Jinja, escaped there)


def hole(name: str) -> Markup:
    """Where ``fill`` puts the section of that name: only in a shared piece."""
    if not _sharing.get():
        raise RuntimeError("hole() belongs in a piece rendered by a shared fragment")
    return Markup(f"\x00hole:{name}\x00")  # noqa: S704


def _scrubbed(html: str) -> str:
    """A shared piece without the CSRF token of the request that rendered it: a form
    rendered the usual way (``form.hidden_tag()``) gets a hole too."""
    token = g.get("csrf_token")
    return html.replace(token, _CSRF_HOLE) if token else html


def fill(html: str, **sections: str) -> Markup:
    """A shared piece with this request's bits in its holes."""
    if "\x00not-by:" in html:
        me = current_user.id if current_user.is_authenticated else None
        html = _NOT_BY.sub(lambda m: "" if int(m[1]) == me else m[2], html)
    if _CSRF_HOLE in html:
        html = html.replace(_CSRF_HOLE, generate_csrf())
    if "\x00hole:" in html:
        html = _HOLE.sub(lambda m: str(sections[m[1]]), html)
    return Markup(html)  # noqa: S704  (rendered by Jinja, escaped there; holes filled likewise)


# --- the layout's pieces, in the process ------------------------------------------------------

_LAYOUT_LOCK = threading.Lock()
#: Pieces differ by language, roles, the section of the site, the page (the language
#: switcher's return address, a design's counters): bounded, since pages come from visitors.
LAYOUT_PIECES = 8192


def layout_part(*parts, caller: Callable[[], str]) -> Markup:
    """A piece of the layout, rendered once per process for ``parts`` (which name everything
    it shows: language, roles, where the visitor is), holes filled per request."""
    if not has_request_context():
        return Markup(caller())  # noqa: S704  (rendered by Jinja, escaped there)
    return in_process(("layout", *parts), caller)


def in_process(parts: tuple, render: Callable[[], str]) -> Markup:
    """A piece whose every input is in ``parts`` (hashable: the values it shows, the
    reader's roles, language and time zone), rendered once per process and kept while the
    process lives, holes filled per request. Nothing needs to drop it: a change of what it
    shows is a change of ``parts``. A page with a message waiting renders it afresh (the
    message may be shown in it)."""
    if message_waiting():
        with sharing():
            return fill(_scrubbed(str(render())))
    # Per app: two apps in one process (tests, a dev server's reloader) may differ.
    pieces = current_app.extensions.setdefault("fragments.in_process", {})
    key = (request.script_root, *parts)
    html = pieces.get(key)
    if html is None:
        with sharing():
            html = _scrubbed(str(render()))
        with _LAYOUT_LOCK:
            if len(pieces) >= LAYOUT_PIECES:
                pieces.clear()
            pieces[key] = html
    return fill(html)


# --- a page's pieces, in Redis ----------------------------------------------------------------


def shared_fragment(
    tag: str | None, parts, render: Callable[[], tuple[str, dict]]
) -> tuple[str, dict]:
    """A piece of a page shared by every reader with the same ``parts`` (their roles, the
    language, the time zone), and what the request needs to know beside it (``render``'s
    second value, plain JSON), kept in Redis until the page cache forgets ``tag`` (or for
    ``PAGE_CACHE_TAGGED_SECONDS``). Without a tag, for a piece whose changes nothing
    announces (a gallery), it is kept ``PAGE_CACHE_SECONDS``, as the page cache keeps such
    pages for anonymous visitors. Without Redis, or with that setting at 0, it is rendered
    each time, the same way. Returns the piece with its holes still open (``fill`` them).

    While a message waits to be shown the piece is rendered and not kept: a message shown
    beside an element of the piece (``flashes_at``) is that reader's alone."""
    seconds = current_app.config["PAGE_CACHE_TAGGED_SECONDS" if tag else "PAGE_CACHE_SECONDS"]
    if message_waiting():
        seconds = 0
    key = f"fragment:{tag or 'untagged'}:{_digest(parts)}"
    if seconds > 0:
        try:
            hit = _get_with_read_ahead(key)
        except RedisError:
            hit = None
            log.warning("cache unreachable: rendering %s", tag, exc_info=True)
        if hit is not None:
            html, facts = json.loads(hit)
            return html, facts
    started = time.time()
    with sharing():
        html, facts = render()
        html = _scrubbed(str(html))
    if seconds > 0:
        entry = json.dumps([html, facts])
        try:
            if tag:
                store_tagged(key, tag, entry, seconds, started)
            else:
                redis_connection().set(key, entry, ex=seconds)
        except RedisError:
            log.warning("cache unreachable: %s not kept", tag, exc_info=True)
    return html, facts


#: Keys of ``kept`` values every page of a member reads (the survey banner), from the
#: member: fetched with a page's shared piece, one round trip to Redis for both.
_READ_AHEAD: list[Callable[[object], str]] = []


def read_ahead(key_of: Callable[[object], str]) -> None:
    """Fetch the ``kept`` value under ``key_of(member)`` together with the shared piece of
    any page a member opens (``shared_fragment``), rather than in a round trip of its own."""
    if key_of not in _READ_AHEAD:
        _READ_AHEAD.append(key_of)


def _get_with_read_ahead(key: str):
    redis = redis_connection()
    ahead = []
    if has_request_context():
        ahead.extend(g.pop("fragments_along", ()))
        if _READ_AHEAD and current_user.is_authenticated:
            ahead.extend("kept:" + key_of(current_user) for key_of in _READ_AHEAD)
    if not ahead:
        return redis.get(key)
    hit, *values = redis.mget([key, *ahead])
    g.kept_read_ahead = dict(zip(ahead, values, strict=True))
    return hit


def read_along(tag: str, parts) -> str:
    """The key of a ``tagged_piece`` the request will ask for, fetched with the page's
    shared piece (``shared_fragment``, called next) in its round trip to Redis."""
    key = f"piece:{tag}:{_digest(parts)}"
    g.setdefault("fragments_along", []).append(key)
    return key


def tagged_piece(tag: str, key: str, render: Callable[[], str]) -> Markup:
    """A section every reader with the same inputs sees (``key``, from ``read_along``: the
    values it shows, the reader's roles, language and time zone), rendered once for every
    process and kept in Redis until the page cache forgets ``tag`` (or for
    ``PAGE_CACHE_TAGGED_SECONDS``); holes filled. Rendered each time without Redis, and
    while a message waits to be shown (it may be shown in it)."""
    seconds = current_app.config["PAGE_CACHE_TAGGED_SECONDS"]
    if seconds <= 0 or message_waiting():
        with sharing():
            return fill(_scrubbed(str(render())))
    ahead = g.get("kept_read_ahead") or {}
    try:
        hit = ahead[key] if key in ahead else redis_connection().get(key)
    except RedisError:
        hit = None
        log.warning("cache unreachable: rendering %s", key, exc_info=True)
    if hit is not None:
        return fill(hit.decode() if isinstance(hit, bytes) else hit)
    started = time.time()
    with sharing():
        html = _scrubbed(str(render()))
    try:
        store_tagged(key, tag, html, seconds, started)
    except RedisError:
        log.warning("cache unreachable: %s not kept", key, exc_info=True)
    return fill(html)


def kept(tag: str, key: str, make: Callable[[], object]):
    """What ``make`` found (plain JSON), kept in Redis under ``key`` until the page cache
    forgets ``tag`` (or for ``PAGE_CACHE_TAGGED_SECONDS``): for a query every page of a
    member runs whose answer changes only at moments the code names. Without Redis, or with
    that setting at 0, it is made each time."""
    seconds = current_app.config["PAGE_CACHE_TAGGED_SECONDS"]
    if seconds <= 0:
        return make()
    key = "kept:" + key
    ahead = g.get("kept_read_ahead") or {}
    try:
        hit = ahead[key] if key in ahead else redis_connection().get(key)
    except RedisError:
        log.warning("cache unreachable: making %s", key, exc_info=True)
        return make()
    if hit is not None:
        return json.loads(hit)
    started = time.time()
    made = make()
    try:
        store_tagged(key, tag, json.dumps(made), seconds, started)
    except RedisError:
        log.warning("cache unreachable: %s not kept", key, exc_info=True)
    return made
