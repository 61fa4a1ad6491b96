"""Failed logins: the lockout is per account *and* client address, so that whoever guesses
from one address cannot lock the owner out from everywhere; a short per-account window
slows guessing spread over many addresses; a password reset lifts both."""

import re
import time

import sqlalchemy as sa

from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from tests.helpers import PASSWORD, Auth, csrf_token

OWNER = "owner@example.com"
WRONG = "not the password"


def at(app, address: str):
    """A browser whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def attempt(client, password: str = PASSWORD, email: str = OWNER) -> int:
    return Auth(client).login(email, password).status_code


def fail_from(app, address: str, times: int = 5):
    client = at(app, address)
    assert [attempt(client, WRONG) for _ in range(times)] == [401] * times
    return client


def test_an_attackers_failures_lock_only_their_address_not_the_owner(app, make_user):
    make_user(OWNER, operator=True)
    attacker = fail_from(app, "198.51.100.7")
    blocked = Auth(attacker).login(OWNER)
    assert blocked.status_code == 429
    page = blocked.get_data(as_text=True)
    assert "Too many attempts" in page
    assert re.search(r"Wait 1[45] minutes", page), page
    assert 'href="/account/password/forgot"' in page
    assert int(blocked.headers["Retry-After"]) > 800
    # The owner, from home, is not locked out by someone else's guesses.
    assert attempt(at(app, "203.0.113.20")) == 302
    # The attacker's address stays locked for every password, the right one included.
    assert attempt(attacker) == 429


def test_the_lockout_counts_failures_of_one_account_from_one_address(app, make_user):
    make_user(OWNER)
    make_user("other@example.com")
    client = fail_from(app, "198.51.100.7", times=4)
    # Failures for another account from the same address are another count...
    assert attempt(client, WRONG, email="other@example.com") == 401
    # ...so the owner's fifth failure is still only a failure, and the sixth is refused.
    assert attempt(client, WRONG) == 401
    assert attempt(client, WRONG) == 429


def test_the_per_account_slowdown_holds_across_addresses(app, make_user):
    make_user(OWNER)
    # Ten failures spread over two addresses: each address is below its lockout...
    fail_from(app, "198.51.100.1")
    fail_from(app, "198.51.100.2")
    # ...but the account has had its ten failures this minute, from wherever.
    slowed = Auth(at(app, "198.51.100.3")).login(OWNER)
    assert slowed.status_code == 429
    page = slowed.get_data(as_text=True)
    assert re.search(r"Wait (\d+ seconds|1 minute)", page), page
    assert 'href="/account/password/forgot"' in page
    assert attempt(at(app, "203.0.113.20")) == 429
    # An address that is also locked out is told the longer wait.
    page = Auth(at(app, "198.51.100.1")).login(OWNER).get_data(as_text=True)
    assert re.search(r"Wait 1[45] minutes", page), page


def test_the_per_account_slowdown_is_over_when_its_short_window_ends(app, make_user, monkeypatch):
    """A slowdown, not a lockout: the owner waits seconds, not a quarter of an hour. (The
    window is shortened to one second here; the default is a minute.)"""
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "2 per 1 second")
    make_user(OWNER)
    fail_from(app, "198.51.100.1", times=1)
    fail_from(app, "198.51.100.2", times=1)
    owner = at(app, "203.0.113.20")
    assert attempt(owner) == 429
    time.sleep(1.1)
    assert attempt(owner) == 302


def reset_password(app, ctx, address: str, new_password: str) -> int:
    client = at(app, address)
    token = csrf_token(client, "/account/password/forgot")
    client.post("/account/password/forgot", data={"email": OWNER, "csrf_token": token})
    with ctx():
        body = db.session.scalars(
            sa.select(OutboxMail.body_text).where(OutboxMail.kind == "password_reset")
        ).one()
    path = re.search(r"http://localhost(/account/password/reset/\S+)", body).group(1)
    token = csrf_token(client, path)
    resp = client.post(
        path, data={"password": new_password, "confirm": new_password, "csrf_token": token}
    )
    return resp.status_code


def test_a_password_reset_lifts_the_lockout_and_the_slowdown(app, ctx, make_user):
    make_user(OWNER)
    shared = "198.51.100.1"  # the owner behind the same address as the attacker (a café)
    fail_from(app, shared)
    fail_from(app, "198.51.100.2")
    assert attempt(at(app, shared)) == 429
    assert attempt(at(app, "203.0.113.20")) == 429

    new = "a brand new passphrase"
    assert reset_password(app, ctx, "203.0.113.20", new) == 302
    assert attempt(at(app, shared), new) == 302
    assert attempt(at(app, "203.0.113.21"), new) == 302


def test_too_many_failures_from_one_address_over_many_accounts_say_so(app, make_user):
    client = at(app, "198.51.100.9")
    for n in range(20):
        assert attempt(client, WRONG, email=f"nobody{n}@example.com") == 401
    blocked = Auth(client).login("someone@example.com")
    assert blocked.status_code == 429
    page = blocked.get_data(as_text=True)
    assert "from your network address" in page and re.search(r"Wait 1[45] minutes", page)
