"""In Chromium: a received mail's unsubscribe link, followed without logging in, then the
account page's Mail section."""

from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from marketplace.accounts.models import User
from marketplace.kernel import mail
from marketplace.kernel.extensions import db
from marketplace.kernel.mail import queue_mail
from tests.helpers import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.live_db]

DESIGNS = "News about my designs"


def mail_a_selection(ctx, user_id: int, title: str):
    with ctx():
        sent = queue_mail(
            db.session.get(User, user_id),
            "design_update",
            design=SimpleNamespace(title=title),
            event="selected",
            decision=None,
            link="http://localhost/designs/1",
        )
        db.session.commit()
        return sent


def test_unsubscribe_from_a_received_mail_then_choose_on_the_account_page(
    page, live_server, ctx, make_user, run_jobs, mailbox
):
    ada = make_user("ada@example.com", name="Ada", designer=True)
    mail_a_selection(ctx, ada, "Night owl")
    run_jobs()
    received = mailbox.wait_for("ada@example.com", "is selected")
    link = received["List-Unsubscribe"].strip("<>")
    assert link.startswith(live_server + "/account/unsubscribe/")
    assert link in mailbox.body(received)

    # Not logged in: the page asks first.
    page.goto(link)
    expect(page.get_by_role("heading", name=f"Stop “{DESIGNS}”?")).to_be_visible()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_text(f"You will no longer get “{DESIGNS}”.")).to_be_visible()
    with ctx():
        assert mail.turned_off(ada) == {"designs"}

    page.get_by_role("button", name="Get these mails again").click()
    expect(page.get_by_text(f"You will get “{DESIGNS}” again.")).to_be_visible()
    with ctx():
        assert mail.turned_off(ada) == set()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name=f"You will no longer get “{DESIGNS}”")).to_be_visible()

    page.get_by_role("link", name="Manage your mail").click()
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()

    section = page.locator("#mail")
    expect(section.get_by_role("heading", name="Mail")).to_be_visible()
    expect(section.get_by_role("heading", name="Always sent")).to_be_visible()
    expect(section.get_by_text("Payments and refunds")).to_be_visible()
    designs = section.get_by_label(DESIGNS)
    thanks = section.get_by_label("Thanks", exact=True)
    expect(designs).not_to_be_checked()
    expect(thanks).to_be_checked()
    designs.check()
    thanks.uncheck()
    section.get_by_role("button", name="Save my mail choices").click()
    expect(page.locator("#mail").get_by_text("Your mail choices are saved.")).to_be_visible()
    expect(page.locator("#mail").get_by_label(DESIGNS)).to_be_checked()
    expect(page.locator("#mail").get_by_label("Thanks", exact=True)).not_to_be_checked()
    with ctx():
        assert mail.turned_off(ada) == {"thanks"}
    assert mail_a_selection(ctx, ada, "Second owl") is not None
