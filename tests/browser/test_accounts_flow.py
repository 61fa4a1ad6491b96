"""A person signs up, confirms the address from the mail, logs out and back in, in Chromium."""

import pytest
from playwright.sync_api import expect

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
    expect(page.get_by_text("not confirmed")).to_be_visible()
    expect(page.get_by_role("button", name="Send the link again")).to_be_visible()

    # The verification mail leaves through the outbox, a real RQ worker and SMTP.
    assert run_jobs()["mail"] == 1
    link = mailbox.link(mailbox.wait_for("grace@example.com", "Confirm your email"))
    assert link.startswith(live_server + "/account/verify/")
    page.goto(link)
    page.wait_for_url(live_server + "/account/")
    expect(page.get_by_text("Your email address is confirmed.")).to_be_visible()
    assert page.locator(".badge", has_text="confirmed").first.is_visible()
    assert page.get_by_role("button", name="Send the link again").count() == 0

    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    page.goto(live_server + "/account/")
    assert "/account/login" in page.url

    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("That email and password do not match an account.")).to_be_visible()

    page.get_by_label("Password").fill("nanoseconds are short")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server + "/account/")
    expect(page.get_by_text("Welcome back, Grace Hopper.")).to_be_visible()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
