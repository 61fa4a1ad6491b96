"""What a newcomer meets around the account: the earnings page is reachable, an operator's
login lands on the console, and "Join as a designer" leads through sign-up to the terms."""

import re

from marketplace.accounts.models import User
from marketplace.kernel.extensions import db


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
