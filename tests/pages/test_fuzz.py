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
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from werkzeug.routing import AnyConverter, IntegerConverter, PathConverter

from designs.models import Comment
from marketplace.campaigns.models import Campaign, Pledge
from marketplace.kernel.extensions import db
from tests.helpers import csrf_token, login_as, pledge_row, product_files

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


# Leaving these mid-corpus would turn the rest of the role's requests anonymous: they run last.
_ENDS_THE_SESSION = ("accounts.logout",)


def routes(app):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    rules.sort(key=lambda r: (r.endpoint.startswith(_ENDS_THE_SESSION), r.rule))
    return rules


@pytest.fixture
def world(ctx, make_user, make_campaign, make_design):
    """One of everything a path can name, and the people of every role."""
    people = {
        "unverified": make_user("unverified@example.com", verified=False),
        "member": make_user("member@example.com"),
        "designer": make_user("designer@example.com", designer=True),
        "operator": make_user("operator@example.com", operator=True),
    }
    campaign_id = make_campaign(designer_id=people["designer"])
    design_id = make_design(people["designer"])
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        pledge = pledge_row(
            campaign,
            campaign.variants[0],
            people["member"],
            1,
            idempotency_key="fuzz-pledge-key-000001",
        )
        comment = Comment(design_id=design_id, author_id=people["member"], body="Nice lines")
        db.session.add_all([pledge, comment])
        db.session.commit()
        ids = {
            "campaign_id": campaign_id,
            "design_id": design_id,
            "pledge_id": pledge.id,
            "comment_id": comment.id,
            "user_id": people["designer"],
            "designer_id": people["designer"],
            "product_id": campaign.design.product_id,
        }
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Pledge)) == 1
    return people, ids


def real_value(name: str, converter, ids: dict[str, int]) -> str:
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    if isinstance(converter, IntegerConverter):
        return str(ids.get(name, 1))
    if isinstance(converter, PathConverter):
        return "css/base.css"
    return {"size": "thumb"}.get(name, "some-token")


def build(rule, values: dict[str, str]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[^<>:]+:)?{name}>", quote(values[name], safe=""), path)
    return path


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


@pytest.mark.parametrize("role", ["anonymous", "unverified", "member", "designer", "operator"])
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
