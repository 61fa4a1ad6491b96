"""Absolute links for mail."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values) -> str:
    """Build an absolute URL on ``SERVER_BASE_URL``.

    Never on the request's Host header: a forged Host would otherwise put an attacker's
    domain in a password-reset link. Workers have no request at all, so this also works there.
    """
    base = urlsplit(current_app.config["SERVER_BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
