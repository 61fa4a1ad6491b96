"""A person signs up, confirms the address from the mail, logs out and back in, in Chromium."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def test_register_verify_by_mail_logout_and_login(page, live_server, mailbox, run_jobs):
    page.goto(live_server + "/")
    page.get_by_role("link", name="Join", exact=True).click()
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Display name").fill("Grace Hopper")
    page.get_by_label("Password", exact=True).fill("nanoseconds are short")
    page.get_by_label("Repeat password").fill("nanoseconds are short")
    page.get_by_role("button", name="Create account").click()

    page.wait_for_url(live_server + "/account/")
    assert page.get_by_text("not confirmed").is_visible()
    assert page.get_by_role("button", name="Send the link again").is_visible()

    # The verification mail leaves through the outbox, a real RQ worker and SMTP.
    assert run_jobs()["mail"] == 1
    link = mailbox.link(mailbox.wait_for("grace@example.com", "Confirm your email"))
    assert link.startswith(live_server + "/account/verify/")
    page.goto(link)
    page.wait_for_url(live_server + "/account/")
    assert page.get_by_text("Your email address is confirmed.").is_visible()
    assert page.locator(".badge", has_text="confirmed").first.is_visible()
    assert page.get_by_role("button", name="Send the link again").count() == 0

    page.get_by_role("button", name="Log out", exact=True).click()
    assert page.get_by_text("You are logged out.").is_visible()
    page.goto(live_server + "/account/")
    assert "/account/login" in page.url

    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_text("That email and password do not match an account.").is_visible()

    page.get_by_label("Password").fill("nanoseconds are short")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server + "/account/")
    assert page.get_by_text("Welcome back, Grace Hopper.").is_visible()
    assert page.get_by_role("heading", name="My account").is_visible()
