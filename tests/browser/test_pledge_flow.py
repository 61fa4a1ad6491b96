"""In Chromium: a backer pledges by typing a test card into the Elements field that
localstripe serves, sees the progress bar move, changes the variant, cancels another pledge."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from marketplace.campaigns.models import Pledge, PledgeState
from marketplace.kernel.extensions import db
from payments import gateway
from tests.helpers import save_card

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def pledge(page, base, campaign_id, variant):
    page.goto(f"{base}/campaigns/{campaign_id}")
    page.get_by_label("Variant").select_option(label=variant)
    page.get_by_role("button", name="Pledge and save my card").click()
    page.wait_for_url(f"{base}/pledges/*/card")


def test_pledge_with_a_typed_card_change_it_and_cancel_another(
    app, ctx, page, live_server, make_user, make_campaign, stripe_server
):
    campaign_id = make_campaign(goal=4, price=3000, variants=(("S", None), ("M", None), ("L", 5)))
    make_user("ben@example.com", name="Ben")
    page.goto(live_server + "/account/login")
    page.get_by_label("Email").fill("ben@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server + "/")

    page.goto(f"{live_server}/campaigns/{campaign_id}")
    assert page.get_by_test_id("pledged-units").inner_text() == "0"

    pledge(page, live_server, campaign_id, "M")
    expect(page.get_by_text("Nothing is charged now.")).to_be_visible()
    save_card(page)
    page.wait_for_url(live_server + "/pledges/")
    expect(page.get_by_text("Your pledge is in.")).to_be_visible()
    expect(page.get_by_text("Visa •••• 4242")).to_be_visible()

    page.goto(f"{live_server}/campaigns/{campaign_id}")
    assert page.get_by_test_id("pledged-units").inner_text() == "1"
    expect(page.get_by_text("of 4 units (25%)")).to_be_visible()
    assert page.locator("progress.progress-meter").first.get_attribute("value") == "1"

    # Change the variant from M to L.
    page.goto(live_server + "/pledges/")
    card = page.locator("article", has_text="Visa •••• 4242")
    card.get_by_text("Change or cancel").click()
    card.get_by_label("Variant").select_option(label="L (5 left)")
    card.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Pledge changed.")).to_be_visible()
    expect(page.get_by_text("1 × L")).to_be_visible()

    # A second pledge, then cancelled.
    pledge(page, live_server, campaign_id, "S")
    save_card(page)
    page.wait_for_url(live_server + "/pledges/")
    with ctx():
        second = db.session.scalar(sa.select(Pledge.id).order_by(Pledge.id.desc()))
    second_card = page.locator(f"#pledge-{second}")
    second_card.get_by_text("Change or cancel").click()
    second_card.get_by_role("button", name=f"Cancel pledge {second}").click()
    expect(page.get_by_text("Pledge cancelled.")).to_be_visible()

    page.goto(f"{live_server}/campaigns/{campaign_id}")
    assert page.get_by_test_id("pledged-units").inner_text() == "1"
    with ctx():
        states = db.session.scalars(sa.select(Pledge.state).order_by(Pledge.id)).all()
        assert states == [PledgeState.ACTIVE, PledgeState.CANCELLED]
        assert gateway.list_payment_intents() == []  # pledging never charged anyone
