import re

import pytest
import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent, OutboxMail
from tests.helpers import PASSWORD, csrf_token


def register(client, email="new@example.com", name="New Member", password="a long enough pass"):
    token = csrf_token(client, "/account/register")
    return client.post(
        "/account/register",
        data={
            "email": email,
            "display_name": name,
            "password": password,
            "confirm": password,
            "csrf_token": token,
        },
    )


def test_register_creates_an_unverified_account_logs_in_and_queues_the_verification_mail(
    client, ctx
):
    resp = register(client, email="  New@Example.com ")
    assert resp.status_code == 302
    with ctx():
        user = db.session.scalar(sa.select(User))
        assert user.email == "new@example.com"
        assert not user.is_verified
        assert user.password_hash.startswith("scrypt:")
        assert "a long enough pass" not in user.password_hash
        mail = db.session.scalar(sa.select(OutboxMail))
        assert (mail.kind, mail.to_address, mail.status) == ("verify_email", user.email, "pending")
    page = client.get("/account/").get_data(as_text=True)
    assert "not confirmed" in page
    assert "Send the link again" in page


def test_duplicate_email_gets_a_clear_form_error_and_creates_nothing(client, ctx, make_user):
    make_user("taken@example.com")
    resp = register(client, email="TAKEN@example.com")
    assert resp.status_code == 409
    assert "An account with this email address already exists." in resp.get_data(as_text=True)
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "Enter a valid email address"),
        ("password", "short", "Use between 10 and 128 characters."),
        ("display_name", "", "Enter the name other members will see."),
    ],
)
def test_invalid_registration_shows_the_error_next_to_the_field(client, ctx, field, value, message):
    data = {"email": "ok@example.com", "name": "Okay Name", "password": "a long enough pass"}
    data[{"display_name": "name"}.get(field, field)] = value
    resp = register(client, **data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    error = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert error and message in error.group(1)
    assert f'aria-describedby="{field}-error"' in html or f"{field}-error" in html
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_password_equal_to_the_email_is_refused(client):
    resp = register(
        client, email="same-as-password@example.com", password="same-as-password@example.com"
    )
    assert resp.status_code == 422
    assert "cannot be your email address" in resp.get_data(as_text=True)


def test_verification_link_arrives_by_smtp_and_confirms_the_address(client, ctx, run_jobs, mailbox):
    register(client, email="verify@example.com")
    assert run_jobs()["mail"] == 1
    msg = mailbox.wait_for("verify@example.com", "Confirm your email")
    link = mailbox.link(msg)
    assert link.startswith("http://localhost/account/verify/")
    resp = client.get(link.removeprefix("http://localhost"))
    assert resp.status_code == 302
    with ctx():
        user = db.session.scalar(sa.select(User))
        assert user.is_verified
        assert db.session.scalar(sa.select(OutboxMail.status)) == "sent"
        actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["account.registered", "account.email_verified"]


def test_a_forged_verification_link_is_refused(client, make_user):
    resp = client.get("/account/verify/not-a-real-token")
    assert resp.status_code == 400
    assert "not valid" in resp.get_data(as_text=True)


def test_login_and_logout(client, auth, make_user):
    make_user("member@example.com", name="Mia")
    resp = auth.login("member@example.com")
    assert resp.status_code == 302
    assert "Mia" in client.get("/account/").get_data(as_text=True)
    assert auth.logout().status_code == 302
    resp = client.get("/account/")
    assert resp.status_code == 302 and "/account/login" in resp.headers["Location"]


def log_in_then_go_to(client, target: str):
    """Log in with ``?next=target``; the response says where the person is sent."""
    token = csrf_token(client, "/account/login")
    return client.post(
        f"/account/login?next={target}",
        data={"email": "member@example.com", "password": PASSWORD, "csrf_token": token},
    )


def test_login_redirects_only_to_same_site_paths(client, make_user):
    make_user("member@example.com")
    assert log_in_then_go_to(client, "//evil.example.org/phish").headers["Location"] == "/"


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",  # a browser drops the tab: //evil.example
        "/%0a/evil.example",  # a newline in a Location header used to give a 500
        "/%0d%0aSet-Cookie:x=1",
        "/\\evil.example",
        "https://evil.example/",
        "/%20/evil.example",
        "///evil.example",
    ],
)
def test_next_goes_only_to_a_plain_same_site_path(client, auth, make_user, target):
    make_user("member@example.com")
    resp = log_in_then_go_to(client, target)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    # A visitor already logged in is sent on at once: the same rule applies.
    resp = client.get(f"/account/login?next={target}")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


def test_next_keeps_a_same_site_path_with_its_query(client, auth, make_user):
    make_user("member@example.com")
    resp = log_in_then_go_to(client, "/designs/%3Fq%3Dcat%26page%3D2")
    assert resp.headers["Location"] == "/designs/?q=cat&page=2"


def test_an_unknown_address_costs_one_hash_check_like_a_wrong_password(
    app, ctx, make_user, monkeypatch
):
    """The dummy hash is made once, not at every attempt: otherwise an unknown address takes
    two hash computations and its timing tells that there is no such account."""
    from marketplace.accounts import services

    make_user("member@example.com")
    made = []
    real = services.generate_password_hash
    monkeypatch.setattr(
        services, "generate_password_hash", lambda *a, **k: made.append(1) or real(*a, **k)
    )
    with ctx():
        for _ in range(3):
            assert services.authenticate("nobody@example.com", "a wrong password") is None
            assert services.authenticate("member@example.com", "a wrong password") is None
    assert len(made) <= 1


def test_wrong_password_gets_a_generic_error_and_is_counted_until_blocked(auth, make_user, app):
    make_user("member@example.com")
    wrong = auth.login("member@example.com", "wrong password!")
    unknown = auth.login("nobody@example.com", "wrong password!")
    for resp in (wrong, unknown):
        assert resp.status_code == 401
        assert "That email and password do not match an account." in resp.get_data(as_text=True)
    # The per-account limit is 5 failures in 15 minutes: 4 more failures reach it...
    for _ in range(4):
        assert auth.login("member@example.com", "wrong password!").status_code == 401
    # ...and then even the right password is refused for a while.
    blocked = auth.login("member@example.com")
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)


def test_successful_logins_are_not_counted_against_the_limit(auth, make_user):
    make_user("member@example.com")
    for _ in range(8):
        assert auth.login("member@example.com").status_code == 302
        auth.logout()


def test_post_without_csrf_token_is_refused_with_400(client, make_user, ctx):
    make_user("member@example.com")
    resp = client.post("/account/login", data={"email": "member@example.com", "password": PASSWORD})
    assert resp.status_code == 400
    assert "did not come from this site" in resp.get_data(as_text=True)
    resp = client.post(
        "/account/register",
        data={
            "email": "x@example.com",
            "display_name": "X X",
            "password": "p" * 12,
            "confirm": "p" * 12,
        },
    )
    assert resp.status_code == 400
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_oversized_request_is_refused_with_413(client, app):
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    resp = client.post("/account/register", data=big, content_type="application/octet-stream")
    assert resp.status_code == 413
    assert "larger than the 12 MB we accept" in resp.get_data(as_text=True)


def test_password_reset_link_works_once_and_logs_out_other_sessions(
    app, client, ctx, make_user, run_jobs, mailbox
):
    make_user("forgot@example.com", verified=False)
    other_device = app.test_client()
    token = csrf_token(other_device, "/account/login")
    other_device.post(
        "/account/login",
        data={
            "email": "forgot@example.com",
            "password": PASSWORD,
            "remember": "y",
            "csrf_token": token,
        },
    )
    assert other_device.get("/account/").status_code == 200
    remembered = app.test_client()
    remembered.set_cookie("remember_token", other_device.get_cookie("remember_token").value)

    token = csrf_token(client, "/account/password/forgot")
    resp = client.post(
        "/account/password/forgot", data={"email": "forgot@example.com", "csrf_token": token}
    )
    assert resp.status_code == 302
    run_jobs()
    path = mailbox.link(mailbox.wait_for("forgot@example.com", "Reset")).removeprefix(
        "http://localhost"
    )

    token = csrf_token(client, path)
    new = "a brand new passphrase"
    resp = client.post(path, data={"password": new, "confirm": new, "csrf_token": token})
    assert resp.status_code == 302
    # The same link cannot be used again, and the old session is gone.
    assert client.get(path).status_code == 400
    assert other_device.get("/account/").status_code == 302
    assert remembered.get("/account/").status_code == 302  # its "keep me logged in" too
    assert client.get("/account/").status_code == 200  # whoever reset it is logged in
    with ctx():
        user = db.session.scalar(sa.select(User))
        assert user.is_verified  # the link proved the inbox
        assert user.session_version == 2
    run_jobs()
    mailbox.wait_for("forgot@example.com", "password was changed")


def test_reset_request_for_an_unknown_address_says_the_same_and_sends_nothing(client, ctx):
    token = csrf_token(client, "/account/password/forgot")
    resp = client.post(
        "/account/password/forgot",
        data={"email": "ghost@example.com", "csrf_token": token},
        follow_redirects=True,
    )
    assert "If an account uses that address" in resp.get_data(as_text=True)
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMail)) == 0


def test_becoming_a_designer_records_the_accepted_terms_version(app, client, auth, ctx, make_user):
    user_id = make_user("artist@example.com")
    auth.login("artist@example.com")
    token = csrf_token(client, "/account/designer")
    refused = client.post("/account/designer", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "You need to accept the terms" in refused.get_data(as_text=True)
    assert (
        client.post("/account/designer", data={"accept": "y", "csrf_token": token}).status_code
        == 302
    )
    with ctx():
        user = db.session.get(User, user_id)
        assert user.is_designer
        assert user.designer_terms_version == app.config["DESIGNER_TERMS_VERSION"]
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "account.designer_terms_accepted")
        )
        assert event.to_state == app.config["DESIGNER_TERMS_VERSION"]


def test_profile_requires_login_and_saves_the_display_name(client, auth, ctx, make_user):
    assert client.get("/account/").status_code == 302
    user_id = make_user("me@example.com")
    auth.login("me@example.com")
    token = csrf_token(client, "/account/")
    assert (
        client.post("/account/", data={"display_name": "Renamed", "csrf_token": token}).status_code
        == 302
    )
    with ctx():
        assert db.session.get(User, user_id).display_name == "Renamed"


def test_create_operator_command_creates_or_promotes(app, ctx, make_user):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-operator", "boss@example.com", "--password-stdin"],
        input="a very good password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created operator boss@example.com" in result.output
    make_user("member@example.com")
    result = runner.invoke(args=["create-operator", "member@example.com"])
    assert "Promoted operator member@example.com" in result.output
    with ctx():
        operators = db.session.scalars(
            sa.select(User.email).where(User.is_operator).order_by(User.email)
        ).all()
        assert operators == ["boss@example.com", "member@example.com"]


def test_create_operator_refuses_a_weak_password(app, ctx):
    result = app.test_cli_runner().invoke(
        args=["create-operator", "boss@example.com", "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0
    assert "at least 10 characters" in result.output
