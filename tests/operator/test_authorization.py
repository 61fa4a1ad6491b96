"""Every operator route refuses members, found by walking the URL map so that a new route
cannot be forgotten."""

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from tests.helpers import csrf_token


def operator_rules(app):
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/operator")]


def concrete_path(rule) -> str:
    values = {}
    for arg, converter in rule._converters.items():
        if isinstance(converter, AnyConverter):  # <any(hide, restore):action> and the like
            values[arg] = sorted(converter.items)[0]
        else:
            values[arg] = 1 if isinstance(converter, IntegerConverter) else "x"
    return rule.build(values, append_unknown=False)[1]


def test_there_are_operator_routes_to_check(app):
    assert len(operator_rules(app)) >= 10


@pytest.mark.parametrize("who", ["member", "anonymous"])
def test_every_operator_route_refuses_non_operators(app, client, auth, make_user, who):
    if who == "member":
        make_user("member@example.com")
        auth.login("member@example.com")
        token = csrf_token(client, "/account/")
    else:
        token = ""
    for rule in operator_rules(app):
        path = concrete_path(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.open(
                path, method=method, data={"csrf_token": token} if method == "POST" else None
            )
            if who == "member":
                assert resp.status_code == 403, (method, path, resp.status_code)
            else:
                # Anonymous visitors are sent to log in (GET) or refused (POST without a token).
                assert resp.status_code in (302, 400), (method, path, resp.status_code)
                if resp.status_code == 302:
                    assert "/account/login" in resp.headers["Location"]
