import secrets
from pathlib import Path

import pytest

from config import TestConfig
from marketplace import create_app
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db


def test_healthz_checks_database_and_redis(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_reports_503_when_redis_is_down(app, client, monkeypatch):
    from marketplace.kernel.queues import make_redis

    monkeypatch.setitem(app.extensions, "redis", make_redis("redis://127.0.0.1:1/0"))
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["checks"]["redis"].startswith("error")


@pytest.mark.parametrize(
    "path", ["/", "/designs/", "/campaigns/", "/account/login", "/account/register"]
)
def test_public_pages_render_with_navigation(client, path):
    resp = client.get(path)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'href="/designs/"' in html and 'href="/campaigns/"' in html
    for sheet in SHEETS:
        assert f'href="/static/css/{sheet}"' in html


#: Cascade order: the base, the shared components, then each area's own sheet.
SHEETS = (
    "base.css",
    "components.css",
    "marketplace.css",
    "dev.css",
    "campaigns.css",
    "designs.css",
    "operator.css",
    "community.css",
    "charts.css",
)


def test_every_stylesheet_is_linked_in_cascade_order_and_served(client):
    html = client.get("/").get_data(as_text=True)
    positions = [html.index(f"/static/css/{sheet}") for sheet in SHEETS]
    assert positions == sorted(positions)
    on_disk = {p.name for p in (Path(__file__).parents[2] / "static" / "css").glob("*.css")}
    assert on_disk == set(SHEETS)
    for sheet in SHEETS:
        resp = client.get(f"/static/css/{sheet}")
        assert resp.status_code == 200 and resp.mimetype == "text/css"
        resp.close()


def test_unknown_page_is_a_styled_404(client):
    resp = client.get("/no/such/page")
    assert resp.status_code == 404
    assert "Page not found" in resp.get_data(as_text=True)


def test_security_headers_allow_stripe_js_and_nothing_else(app, client):
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    stripe_origin = app.config["STRIPE_JS_URL"].split("/js.stripe.com")[0]
    assert "default-src 'self'" in csp
    assert f"script-src 'self' {stripe_origin}" in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_every_answer_gets_the_security_headers_talisman_would_give(app, client):
    # The app's Talisman builds the policy's header once (kernel.security): every answer,
    # a page, a 404 or a POST refused for its missing CSRF token, must still carry what
    # Talisman itself writes.
    from flask_talisman import Talisman

    ours = next(
        f.__self__
        for f in app.before_request_funcs[None]
        if isinstance(getattr(f, "__self__", None), Talisman)
    )
    with app.test_request_context("/"):
        expected = Talisman._parse_policy(ours, ours.content_security_policy)
    assert "default-src 'self'" in expected
    answers = [client.get("/"), client.get("/no/such/page"), client.post("/designs/1/vote")]
    assert [r.status_code for r in answers] == [200, 404, 400]
    for resp in answers:
        assert resp.headers["Content-Security-Policy"] == expected
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_each_app_keeps_its_own_security_policy(app, client, database_url, redis_url):
    other = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        REDIS_URL=redis_url,
        RATELIMIT_STORAGE_URI=redis_url,
        STRIPE_JS_URL="https://stripe-js.example.test/v3/",
    )
    theirs = other.test_client().get("/about/how-it-works").headers["Content-Security-Policy"]
    with other.app_context():
        db.engine.dispose()
    assert "script-src 'self' https://stripe-js.example.test" in theirs
    ours = client.get("/").headers["Content-Security-Policy"]
    assert "stripe-js.example.test" not in ours
    assert app.config["STRIPE_JS_URL"].split("/js.stripe.com")[0] in ours


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user, auth):
    make_user("member@example.com")
    resp = auth.login("member@example.com")
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_dev_mail_page_does_not_exist_outside_development(client):
    assert client.get("/dev/mail").status_code == 404


def test_server_error_is_a_styled_500_that_leaks_nothing(app, client, monkeypatch):
    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setitem(app.view_functions, "main.home", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    resp = client.get("/")
    assert resp.status_code == 500
    html = resp.get_data(as_text=True)
    assert "Something went wrong" in html
    assert "secret internals" not in html


def test_errors_answer_json_to_json_clients(client):
    resp = client.get("/nowhere", headers={"Accept": "application/json"})
    assert resp.status_code == 404
    assert resp.get_json()["error"] == "Page not found"


DEV_MAIL_TOKEN = secrets.token_urlsafe(24)


@pytest.fixture
def dev_app(tmp_path, redis_url):
    """A development app (the dev mail viewer on) with ``make run``'s token for this run, a
    member, an operator and one password-reset-like mail in its outbox."""
    from flask_migrate import upgrade

    from config import DevelopmentConfig
    from marketplace.accounts.models import User
    from marketplace.accounts.services import hash_password
    from marketplace.kernel.mail import queue_mail
    from tests.helpers import PASSWORD

    app = create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/dev.sqlite3",
        REDIS_URL=redis_url,
        RATELIMIT_STORAGE_URI=redis_url,
        MAIL_DEV_VIEWER_TOKEN=DEV_MAIL_TOKEN,
        PASSWORD_HASH_METHOD="scrypt:1024:8:1",
    )
    with app.app_context():
        upgrade()
        for email, operator in (("member@example.com", False), ("ops@example.com", True)):
            db.session.add(
                User(
                    email=email,
                    display_name=email.split("@")[0],
                    password_hash=hash_password(PASSWORD),
                    email_verified_at=utcnow(),
                    is_operator=operator,
                )
            )
        queue_mail("someone@example.com", "password_changed")
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def _outbox(client, query: str = "", remote_addr: str = "127.0.0.1", follow: bool = True):
    return client.get(
        "/dev/mail" + query, environ_base={"REMOTE_ADDR": remote_addr}, follow_redirects=follow
    )


def test_dev_mail_is_a_404_to_an_anonymous_visitor_from_loopback_without_the_token(dev_app):
    client = dev_app.test_client()
    for query in ("", "?token=", "?token=guess", f"?token={DEV_MAIL_TOKEN[:-1]}"):
        resp = _outbox(client, query, follow=False)  # a 404 at once, like a page that is not
        assert resp.status_code == 404
        assert "someone@example.com" not in resp.get_data(as_text=True)


def test_dev_mail_is_a_404_with_the_token_from_another_address(dev_app):
    client = dev_app.test_client()
    for address in ("192.0.2.10", "10.0.0.2", "::ffff:192.0.2.10"):
        assert _outbox(client, f"?token={DEV_MAIL_TOKEN}", address, follow=False).status_code == 404
    # Nor does a session that learnt the token from loopback open it from elsewhere.
    assert _outbox(client, f"?token={DEV_MAIL_TOKEN}").status_code == 200
    assert _outbox(client, "", "192.0.2.10").status_code == 404


def test_dev_mail_opens_with_the_token_from_loopback_and_remembers_it(dev_app):
    client = dev_app.test_client()
    first = client.get(f"/dev/mail?token={DEV_MAIL_TOKEN}")
    # The token leaves the address bar (and the history) once the session holds it.
    assert first.status_code == 302 and first.headers["Location"] == "/dev/mail"
    for address in ("127.0.0.1", "::1"):
        resp = _outbox(client, "", address)
        assert resp.status_code == 200
        html = resp.get_data(as_text=True)
        assert "someone@example.com" in html
        assert "Your Cocréa password was changed" in html


def test_the_token_of_an_earlier_run_no_longer_opens_dev_mail(dev_app):
    client = dev_app.test_client()
    assert _outbox(client, f"?token={DEV_MAIL_TOKEN}").status_code == 200
    dev_app.config["MAIL_DEV_VIEWER_TOKEN"] = secrets.token_urlsafe(24)  # make run restarted
    assert _outbox(client).status_code == 404


def test_dev_mail_without_a_token_configured_is_for_operators_only(dev_app):
    dev_app.config["MAIL_DEV_VIEWER_TOKEN"] = None  # `flask run` by hand, not make run
    client = dev_app.test_client()
    assert _outbox(client, "?token=").status_code == 404
    assert _outbox(client, "?token=None").status_code == 404


def test_dev_mail_opens_to_a_logged_in_operator_and_not_to_a_member(dev_app):
    from tests.helpers import Auth

    member = dev_app.test_client()
    Auth(member).login("member@example.com")
    assert _outbox(member).status_code == 404
    assert "Dev mail" not in member.get("/").get_data(as_text=True)

    operator = dev_app.test_client()
    Auth(operator).login("ops@example.com")
    for address in ("127.0.0.1", "192.0.2.10"):
        resp = _outbox(operator, "", address)
        assert resp.status_code == 200
        assert "someone@example.com" in resp.get_data(as_text=True)
    assert 'href="/dev/mail"' in operator.get("/").get_data(as_text=True)


def test_the_footer_shows_dev_mail_only_to_whom_it_opens(dev_app):
    client = dev_app.test_client()
    assert "Dev mail" not in client.get("/").get_data(as_text=True)
    _outbox(client, f"?token={DEV_MAIL_TOKEN}")
    assert 'href="/dev/mail"' in client.get("/").get_data(as_text=True)


def test_how_it_works_explains_the_pipeline(client):
    page = client.get("/about/how-it-works").get_data(as_text=True)
    for text in (
        "Community scoring",
        "nobody is charged",
        "7 days after the deadline",
        "Royalties",
        "licence",
    ):
        assert text in page
