"""Login sessions live on the server: logging out (here, or everywhere) ends them, and a cookie
kept from before is worth nothing afterwards, the remember-me cookie included."""

import datetime as dt

import pytest
import sqlalchemy as sa
from werkzeug.http import parse_date

from config import TestConfig
from marketplace.accounts.models import LoginSession, User
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent
from tests.helpers import PASSWORD, Auth, csrf_token

EMAIL = "member@example.com"


def log_in(client, remember: bool = False):
    token = csrf_token(client, "/account/login")
    data = {"email": EMAIL, "password": PASSWORD, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    resp = client.post("/account/login", data=data)
    assert resp.status_code == 302
    return resp


def cookie(client, name: str) -> str:
    found = client.get_cookie(name)
    assert found is not None, f"no {name} cookie"
    return found.value


def replayed(app, **cookies):
    """A new browser carrying only ``cookies``, as someone who copied them would."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def logged_in(client) -> bool:
    resp = client.get("/account/")
    assert resp.status_code in (200, 302)
    return resp.status_code == 200


def test_the_session_cookie_replayed_after_logout_is_anonymous(app, client, auth, ctx, make_user):
    make_user(EMAIL)
    log_in(client)
    kept = cookie(client, "session")
    assert logged_in(replayed(app, session=kept))  # the copy works while the session lives
    auth.logout()
    assert not logged_in(replayed(app, session=kept))


def test_the_remember_cookie_replayed_after_logout_is_anonymous(app, client, auth, make_user):
    make_user(EMAIL)
    log_in(client, remember=True)
    kept = cookie(client, "remember_token")
    # The session cookie dropped (the browser was closed): the remember cookie logs in alone.
    assert logged_in(replayed(app, remember_token=kept))
    auth.logout()
    assert not logged_in(replayed(app, remember_token=kept))


def test_logging_out_on_one_device_leaves_the_others_logged_in(app, make_user):
    make_user(EMAIL)
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop, remember=True)
    log_in(phone, remember=True)
    Auth(laptop).logout()
    assert not logged_in(laptop)
    assert logged_in(phone)
    assert logged_in(replayed(app, remember_token=cookie(phone, "remember_token")))


def test_log_out_everywhere_ends_every_session_and_remember_cookie(app, ctx, make_user):
    user_id = make_user(EMAIL)
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop, remember=True)
    log_in(phone, remember=True)
    kept = {
        "laptop": (cookie(laptop, "session"), cookie(laptop, "remember_token")),
        "phone": (cookie(phone, "session"), cookie(phone, "remember_token")),
    }
    page = laptop.get("/account/").get_data(as_text=True)
    assert "logged in on 2 browsers" in page
    assert "Log out everywhere" in page

    resp = laptop.post(
        "/account/logout-everywhere", data={"csrf_token": csrf_token(laptop, "/account/")}
    )
    assert resp.status_code == 302
    page = laptop.get(resp.headers["Location"]).get_data(as_text=True)
    assert "You are logged out everywhere: 2 sessions ended" in page

    assert not logged_in(laptop)
    assert not logged_in(phone)
    for session, remember in kept.values():
        assert not logged_in(replayed(app, session=session))
        assert not logged_in(replayed(app, remember_token=remember))
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession)) == 0
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "account.logged_out_everywhere")
        )
        assert (event.actor_id, event.subject_id, event.data) == (user_id, user_id, {"ended": 2})


def test_log_out_everywhere_needs_the_form_token(app, client, make_user):
    make_user(EMAIL)
    log_in(client)
    assert client.post("/account/logout-everywhere").status_code == 400
    assert logged_in(client)


def _age_sessions(ctx, by: dt.timedelta) -> None:
    with ctx():
        for row in db.session.scalars(sa.select(LoginSession)):
            row.created_at -= by
            row.expires_at -= by
        db.session.commit()


def test_remember_me_lasts_30_days_on_the_server_too(app, client, ctx, make_user):
    assert dt.timedelta(days=30) == TestConfig.REMEMBER_COOKIE_DURATION
    make_user(EMAIL)
    resp = log_in(client, remember=True)
    set_cookie = next(h for h in resp.headers.getlist("Set-Cookie") if "remember_token=" in h)
    expires = parse_date(set_cookie.split("Expires=")[1].split(";")[0])
    in_30_days = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert abs(expires - in_30_days) < dt.timedelta(minutes=1)
    with ctx():
        row = db.session.scalar(sa.select(LoginSession))
        assert row.remember and row.expires_at - row.created_at == dt.timedelta(days=30)
    kept = cookie(client, "remember_token")

    _age_sessions(ctx, dt.timedelta(days=29, hours=23))
    assert logged_in(replayed(app, remember_token=kept))
    # A browser that kept the cookie past its date (or a copy of it) is refused by the server.
    _age_sessions(ctx, dt.timedelta(hours=1, seconds=1))
    assert not logged_in(replayed(app, remember_token=kept))
    assert not logged_in(client)


def test_the_remember_duration_is_a_setting(app, client, ctx, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "REMEMBER_COOKIE_DURATION", dt.timedelta(days=3))
    make_user(EMAIL)
    log_in(client, remember=True)
    with ctx():
        row = db.session.scalar(sa.select(LoginSession))
        assert row.expires_at - row.created_at == dt.timedelta(days=3)


def test_a_session_without_remember_me_ends_on_the_server_within_hours(app, client, ctx, make_user):
    hours = app.config["LOGIN_SESSION_HOURS"]
    assert hours == 12
    make_user(EMAIL)
    log_in(client)
    with ctx():
        row = db.session.scalar(sa.select(LoginSession))
        assert not row.remember
        assert row.expires_at - row.created_at == dt.timedelta(hours=hours)
    _age_sessions(ctx, dt.timedelta(hours=hours, seconds=1))
    assert not logged_in(client)


@pytest.mark.parametrize("kind", ["session", "remember_token"])
def test_an_old_format_cookie_is_not_accepted(app, ctx, make_user, kind):
    """Cookies made before login sessions named "<id>:<session version>": however well
    signed, they no longer log anyone in."""
    from flask_login.utils import encode_cookie

    user_id = make_user(EMAIL)
    old_id = f"{user_id}:1"
    with app.test_request_context():
        if kind == "session":
            value = app.session_interface.get_signing_serializer(app).dumps(
                {"_user_id": old_id, "_fresh": True}
            )
        else:
            value = encode_cookie(old_id)
    assert not logged_in(replayed(app, **{kind: value}))


def test_the_account_page_lists_where_the_account_is_logged_in(app, client, make_user):
    make_user(EMAIL)
    phone = app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (Android 14; Mobile) Firefox/130.0"
    log_in(phone, remember=True)
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0"
    log_in(client)
    page = client.get("/account/").get_data(as_text=True)
    assert "Android 14" in page and "Linux x86_64" in page
    assert "this browser" in page


def test_other_requests_of_a_logged_in_member_load_the_account_in_one_query(
    app, client, ctx, make_user
):
    """Every page a member opens checks the login session: one statement, joined to the
    account, so logged-in pages stay as fast as before."""
    make_user(EMAIL)
    log_in(client)
    statements = []

    def count(conn, cursor, statement, *args):
        if "login_sessions" in statement:
            statements.append(statement)

    with ctx():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/account/").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    loads = [s for s in statements if "JOIN" in s and "users" in s]
    assert len(loads) == 1, statements


def test_users_are_equal_by_id_whatever_their_session(app, ctx, make_user):
    user_id = make_user(EMAIL)
    with ctx():
        a = db.session.get(User, user_id)
        db.session.expunge(a)
        b = db.session.get(User, user_id)
        assert a is not b and a == b
