"""A short cache of public pages for anonymous visitors, in Redis.

Most traffic on a gallery is people who are not logged in, and their pages are the same for
everyone: rendering each one (a dozen milliseconds of ORM and templates) is waste. A page is
kept ``PAGE_CACHE_SECONDS`` (10 s by default): a new design or pledge shows to anonymous
visitors at most that late, while members always get fresh pages. The same window is
announced in Cache-Control, so a reverse proxy or CDN can share the work too.
"""

from __future__ import annotations

import contextlib
import hashlib
from functools import wraps

from flask import current_app, make_response, request, session
from flask_login import current_user
from redis.exceptions import RedisError

from .queues import redis_connection


def _eligible() -> bool:
    seconds = current_app.config["PAGE_CACHE_SECONDS"]
    return (
        seconds > 0
        and request.method == "GET"
        # Any session at all (a flash message waiting, a login) makes the page personal.
        and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
        and not current_user.is_authenticated
    )


def cached_for_anonymous(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not _eligible():
            return view(*args, **kwargs)
        key = "pagecache:" + hashlib.sha256(request.full_path.encode()).hexdigest()
        redis = redis_connection()
        try:
            body = redis.get(key)
        except RedisError:
            body = None  # a cache that is down is only slower
        if body is not None:
            response = make_response(body)
            response.headers["X-Cache"] = "hit"
        else:
            response = make_response(view(*args, **kwargs))
            response.headers["X-Cache"] = "miss"
            if response.status_code == 200 and not session.modified:
                with contextlib.suppress(RedisError):
                    redis.setex(key, current_app.config["PAGE_CACHE_SECONDS"], response.get_data())
        if response.status_code == 200:
            response.cache_control.public = True
            response.cache_control.max_age = current_app.config["PAGE_CACHE_SECONDS"]
        return response

    return wrapped
