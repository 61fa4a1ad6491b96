"""Every route of the URL map, as each role, with hostile values in its path, its query string
and its form: none may answer with a server error. A fixed corpus, so that a failure names the
same request at every run; CI runs it on PostgreSQL (which refuses NUL bytes in text, and has
integer columns that overflow) and on SQLite.

Each route is called with real ids (so that the request reaches the view's own parsing, not
just a 404) and with hostile ones; each query string and form carries every parameter and
field name the product reads, set to the hostile value, with a valid CSRF token so that forms
get past it to their fields.
"""

from __future__ import annotations

import re

import pytest

from tests.fixtures.routes import ROLES, build, real_value, routes
from tests.helpers import csrf_token, login_as, product_files

HOSTILE = {
    "past int32": str(2**31),
    "past int64": str(2**63),
    "negative": "-9223372036854775809",
    "nul": "a\x00b",
    "crlf": "/a\r\nLocation: //evil.example",
    "long": "x" * 100_000,
    # Each passes str.isdigit() but int() takes only some of them.
    "non-ASCII digits": "²١１",
}

# The names the product reads from query strings and forms, found in its source: the
# request.args / request.form reads, the id and choice parsers, and every form field.
_NAME_PATTERNS = (
    r"""request\.(?:args|form|values)\.get(?:list)?\(\s*["'](\w+)["']""",
    r"""arg_(?:id|choice)\(\s*["'](\w+)["']""",
    r"""^\s+(\w+)\s*=\s*\w*Field\(""",
)


def parameter_names() -> list[str]:
    names = {"next", "page"}
    for path in product_files().values():
        source = path.read_text()
        for pattern in _NAME_PATTERNS:
            names.update(re.findall(pattern, source, flags=re.MULTILINE))
    return sorted(names - {"csrf_token", "submit"})


def requests_for(rule, ids: dict[str, int], names: list[str]):
    """(method, path, query, form) tuples: hostile values in each path argument, then in
    every query parameter (and form field, for a POST) of the route with real path
    arguments."""
    real = {name: real_value(name, conv, ids) for name, conv in rule._converters.items()}
    methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
    for name in rule.arguments:
        for value in HOSTILE.values():
            for method in methods:
                yield method, build(rule, {**real, name: value}), {}, {}
    for value in HOSTILE.values():
        fields = dict.fromkeys(names, value)
        for method in methods:
            if method == "GET":
                yield method, build(rule, real), fields, {}
            else:
                # A POST reads its query string too (the login's ``next``); the long value
                # goes in the form only, as the URL of a real server is capped far below it.
                query = {} if value == HOSTILE["long"] else fields
                yield method, build(rule, real), query, fields


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_a_hostile_value_with_a_server_error(app, client, auth, world, role):
    people, ids = world
    names = parameter_names()
    if role != "anonymous":
        login_as(client, auth, f"{role}@example.com")
    token = csrf_token(client, "/account/login" if role == "anonymous" else "/account/")

    failures = []
    for rule in routes(app):
        for method, path, query, form in requests_for(rule, ids, names):
            try:
                response = client.open(
                    path,
                    method=method,
                    query_string=query,
                    data={**form, "csrf_token": token} if method == "POST" else None,
                )
                status = response.status_code
            except Exception as exc:  # the test client re-raises what would be a 500
                status = f"{type(exc).__name__}: {str(exc)[:160]}"
            if not isinstance(status, int) or status >= 500:
                value = next(
                    (k for k, v in HOSTILE.items() if v in path or v in {**query, **form}.values()),
                    "?",
                )
                failures.append(f"{method} {rule.rule} [{value}] -> {status}")
    assert failures == [], f"{len(failures)} server errors:\n" + "\n".join(sorted(set(failures)))
