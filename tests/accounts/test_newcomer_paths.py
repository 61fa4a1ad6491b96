"""What a newcomer meets around the account: the earnings page is reachable, an operator's
login lands on the console, and "Join as a designer" leads through sign-up to the terms."""

import re

from marketplace.accounts.models import User
from marketplace.kernel.extensions import db
from tests.helpers import PASSWORD, csrf_token


def _nav(page: str) -> str:
    return re.search(r'<nav class="main-nav".*?</nav>', page, re.S).group(0)


def test_a_designer_reaches_the_earnings_page_from_the_navigation_and_the_account_page(
    client, auth, make_user
):
    make_user("ada@example.com", designer=True)
    auth.login("ada@example.com")
    for path in ("/", "/designs/", "/account/"):
        assert 'href="/account/earnings"' in _nav(client.get(path).get_data(as_text=True)), path
    account = client.get("/account/").get_data(as_text=True)
    designer_card = account.split("<h2>Designer</h2>", 1)[1].split("</div></div>", 1)[0]
    assert 'href="/account/earnings"' in designer_card
    assert "My earnings" in designer_card
    assert client.get("/account/earnings").status_code == 200


def test_a_backer_has_no_earnings_link(client, auth, make_user):
    make_user("ben@example.com")
    auth.login("ben@example.com")
    assert "/account/earnings" not in client.get("/account/").get_data(as_text=True)


def test_the_earnings_link_reads_in_french(client, auth, make_user, ctx):
    user_id = make_user("ada@example.com", designer=True)
    with ctx():
        db.session.get(User, user_id).locale = "fr"
        db.session.commit()
    auth.login("ada@example.com")
    assert "Mes revenus" in _nav(client.get("/account/").get_data(as_text=True))


def _log_in(client, email: str, query: str = ""):
    token = csrf_token(client, "/account/login")
    return client.post(
        "/account/login" + query,
        data={"email": email, "password": PASSWORD, "csrf_token": token},
    )


def test_an_operator_lands_on_the_console_after_logging_in(client, make_user):
    make_user("olivia@example.com", operator=True)
    resp = _log_in(client, "olivia@example.com")
    assert resp.status_code == 302 and resp.headers["Location"] == "/operator/"
    # Already logged in, the login page sends them on the same way.
    assert client.get("/account/login").headers["Location"] == "/operator/"


def test_an_operator_follows_a_safe_next_and_not_an_unsafe_one(client, make_user):
    make_user("olivia@example.com", operator=True)
    assert _log_in(client, "olivia@example.com", "?next=/campaigns/").headers["Location"] == (
        "/campaigns/"
    )
    unsafe = client.get("/account/login?next=//evil.example/")
    assert unsafe.headers["Location"] == "/operator/"


def test_a_member_still_lands_on_the_home_page(client, make_user):
    make_user("ben@example.com")
    assert _log_in(client, "ben@example.com").headers["Location"] == "/"
