"""What a newcomer meets around the account: the earnings page is reachable, an operator's
login lands on the console, and "Join as a designer" leads through sign-up to the terms."""

import html
import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.accounts.services import verification_token as confirmation_token
from marketplace.kernel.extensions import db
from tests.helpers import PASSWORD, csrf_in, csrf_token


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


def _join_link(page: str) -> str:
    match = re.search(r'href="([^"]+)">Join as a designer<', page)
    assert match, "no Join as a designer link"
    return html.unescape(match.group(1))


@pytest.mark.parametrize("path", ["/", "/about/how-it-works"])
def test_join_as_a_designer_signs_up_then_asks_for_the_designer_terms_then_the_form(
    client, ctx, path
):
    link = _join_link(client.get(path).get_data(as_text=True))
    assert link.startswith("/account/register?next=")
    token = csrf_token(client, link)
    password = "a long enough pass"
    resp = client.post(
        link,
        data={
            "email": "grace@example.com",
            "display_name": "Grace",
            "password": password,
            "confirm": password,
            "csrf_token": token,
        },
    )
    assert resp.status_code == 302
    terms = resp.headers["Location"]
    assert urlsplit(terms).path == "/account/designer"
    page = client.get(terms).get_data(as_text=True)
    assert "I have read and accept the designer terms" in page

    resp = client.post(terms, data={"accept": "y", "csrf_token": csrf_in(page)})
    # Not confirmed yet: the account page says the mailed link opens the form.
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/"
    assert "the form for your first design opens" in client.get("/account/").get_data(as_text=True)
    with ctx():
        user = db.session.scalar(sa.select(User).where(User.email == "grace@example.com"))
        assert user.is_designer
        token = confirmation_token(user)
    resp = client.get(f"/account/verify/{token}")
    assert resp.status_code == 302 and resp.headers["Location"] == "/designs/new"
    assert "Submit a design" in client.get("/designs/new").get_data(as_text=True)


def test_a_confirmed_member_accepting_the_terms_goes_on_to_the_new_design_form(
    client, auth, make_user
):
    make_user("ben@example.com")
    auth.login("ben@example.com")
    link = re.search(
        r'href="([^"]+)">Become a designer<', client.get("/account/").get_data(as_text=True)
    ).group(1)
    link = html.unescape(link)
    token = csrf_token(client, link)
    resp = client.post(link, data={"accept": "y", "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/designs/new"


def test_sign_up_does_not_follow_an_unsafe_next(client):
    token = csrf_token(client, "/account/register")
    password = "a long enough pass"
    resp = client.post(
        "/account/register?next=//evil.example/",
        data={
            "email": "eve@example.com",
            "display_name": "Eve",
            "password": password,
            "confirm": password,
            "csrf_token": token,
        },
    )
    assert resp.headers["Location"] == "/account/"
