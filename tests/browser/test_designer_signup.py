"""A newcomer who wants to design: "Join as a designer" on the home page, sign-up, the
designer terms, the confirmation mail, and the new design form, in Chromium."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def test_join_as_a_designer_leads_through_sign_up_and_the_terms_to_the_design_form(
    page, live_server, mailbox, run_jobs
):
    page.goto(live_server + "/")
    page.get_by_role("link", name="Join as a designer").click()
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Display name").fill("Grace Hopper")
    page.get_by_label("Password", exact=True).fill("nanoseconds are short")
    page.get_by_label("Repeat password").fill("nanoseconds are short")
    page.get_by_role("button", name="Create account").click()

    # Straight to the designer terms, not to the account page.
    page.wait_for_url(live_server + "/account/designer?next=/designs/new")
    expect(page.get_by_role("heading", name="Designer terms")).to_be_visible()
    page.get_by_label("I have read and accept the designer terms").check()
    page.get_by_role("button", name="Become a designer").click()

    page.wait_for_url(live_server + "/account/")
    expect(page.get_by_text("the form for your first design opens")).to_be_visible()
    assert page.get_by_role("link", name="My earnings").first.is_visible()

    assert run_jobs()["mail"] == 1
    page.goto(mailbox.link(mailbox.wait_for("grace@example.com", "Confirm your email")))
    page.wait_for_url(live_server + "/designs/new")
    expect(page.get_by_text("Your email address is confirmed.")).to_be_visible()
    expect(page.get_by_role("heading", name="Submit a design")).to_be_visible()
    expect(page.get_by_label("Title")).to_be_visible()
