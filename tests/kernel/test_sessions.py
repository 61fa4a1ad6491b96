"""The session cookie checked once (kernel.sessions): a remembered cookie opens what Flask's
own interface would open, and nothing Flask would refuse."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface

from marketplace.kernel import sessions


def _app(secret: str = "s" * 32, fallbacks=None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret,
        SECRET_KEY_FALLBACKS=fallbacks or [],
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=1),
    )
    app.session_interface = sessions.RememberingSessionInterface()

    @app.get("/set/<value>")
    def set_value(value):
        session["value"] = value
        return "set"

    @app.get("/get")
    def get_value():
        return session.get("value", "-")

    @app.get("/append")
    def append():
        # Changes a list inside the session in place: the next request must not see it
        # unless the cookie sent back says so.
        session.setdefault("items", []).append("x")
        return str(len(session["items"]))

    return app


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_the_same_cookie_opens_the_same_session_every_time():
    client = _app().test_client()
    client.get("/set/hello")
    for _ in range(3):
        assert client.get("/get").text == "hello"
    client.get("/set/again")
    assert client.get("/get").text == "again"


def test_its_cookies_are_flasks_own_both_ways():
    """A deploy that switches interfaces keeps everyone logged in, and back."""
    ours, flasks = _app(), _app()
    flasks.session_interface = SecureCookieSessionInterface()
    a = flasks.test_client()
    a.get("/set/from-flask")
    b = ours.test_client()
    b.set_cookie("session", _cookie(a))
    assert b.get("/get").text == "from-flask"
    b.get("/set/from-ours")
    a.set_cookie("session", _cookie(b))
    assert a.get("/get").text == "from-ours"


def test_a_change_in_place_stays_with_the_request_that_made_it():
    app = _app()
    client = app.test_client()
    client.get("/set/x")
    cookie = _cookie(client)
    assert client.get("/append").text == "1"
    # The same old cookie again: the list it carries is still empty.
    other = app.test_client()
    other.set_cookie("session", cookie)
    assert other.get("/append").text == "1"


def test_a_tampered_cookie_opens_an_empty_session():
    client = _app().test_client()
    client.get("/set/secret")
    value = _cookie(client)
    assert client.get("/get").text == "secret"
    client.set_cookie("session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert client.get("/get").text == "-"


def test_a_remembered_cookie_expires_on_time(monkeypatch):
    client = _app().test_client()
    client.get("/set/soon-gone")
    assert client.get("/get").text == "soon-gone"  # remembered now
    real = sessions.time.time
    monkeypatch.setattr(sessions.time, "time", lambda: real() + 3600 + 5)
    assert client.get("/get").text == "-"
    # A clock set back before the signing refuses it too, as itsdangerous does.
    monkeypatch.setattr(sessions.time, "time", lambda: real() - 60)
    assert client.get("/get").text == "-"


@pytest.mark.parametrize("keep_old_as_fallback", [False, True])
def test_a_new_secret_key_forgets_what_the_old_one_verified(keep_old_as_fallback):
    app = _app(secret="old-key" * 5)
    client = app.test_client()
    client.get("/set/before")
    assert client.get("/get").text == "before"  # verified and remembered under the old key
    app.config["SECRET_KEY"] = app.secret_key = "new-key" * 5
    app.config["SECRET_KEY_FALLBACKS"] = ["old-key" * 5] if keep_old_as_fallback else []
    # Only a fallback keeps the old cookie valid, as with Flask's interface.
    assert client.get("/get").text == ("before" if keep_old_as_fallback else "-")


def test_the_remembered_cookies_are_bounded(monkeypatch):
    monkeypatch.setattr(sessions, "REMEMBERED_COOKIES", 3)
    app = _app()
    for n in range(10):
        client = app.test_client()
        client.get(f"/set/{n}")
        assert client.get("/get").text == str(n)
    assert len(app.extensions["sessions.signing"].verified) <= 3


def test_the_marketplace_uses_it(app):
    assert isinstance(app.session_interface, sessions.RememberingSessionInterface)
