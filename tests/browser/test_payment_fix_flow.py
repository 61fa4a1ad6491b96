"""In Chromium: after a funded campaign's charges, one backer's card is declined and she
saves another on the fix page (charged at once); another's bank wants 3-D Secure and he
confirms the payment in localstripe's authentication dialog."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.extensions import db
from tests.helpers import add_pledges, close_and_settle, login, save_card, succeeded_intents

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def test_backers_fix_a_declined_card_and_pass_3d_secure(
    app, ctx, page, live_server, make_user, make_campaign, stripe_server, run_jobs
):
    campaign_id = make_campaign(goal=2, price=2200)
    ada = make_user("ada@example.com", name="Ada")
    ben = make_user("ben@example.com", name="Ben")
    declined, needs_auth = add_pledges(
        ctx,
        campaign_id,
        [(ada, "S", 1, "declined_at_charge"), (ben, "M", 1, "needs_authentication")],
    )
    close_and_settle(ctx, run_jobs, campaign_id)

    login(page, live_server, "ada@example.com")
    page.goto(live_server + "/pledges/")
    expect(page.get_by_text("Your card was declined.")).to_be_visible()
    page.get_by_role("link", name="Fix the payment").click()
    page.wait_for_url(f"{live_server}/pledges/{declined}/fix")
    expect(page.get_by_text("did not go through")).to_be_visible()
    save_card(page, button="Save and pay with this card")
    page.wait_for_url(live_server + "/pledges/")
    expect(page.get_by_text("New card saved: we are charging it now.")).to_be_visible()
    run_jobs(("settlement",))
    page.reload()
    expect(page.get_by_text("Paid.")).to_be_visible()

    page.context.clear_cookies()
    login(page, live_server, "ben@example.com")
    page.goto(live_server + "/pledges/")
    expect(page.get_by_text("Your bank asks you to confirm the payment")).to_be_visible()
    page.get_by_role("link", name="Fix the payment").click()
    page.get_by_role("button", name="Confirm the payment").click()
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(live_server + "/pledges/")
    expect(page.get_by_text("Payment confirmed: thank you!")).to_be_visible()

    with ctx():
        assert db.session.scalars(sa.select(Pledge.state).order_by(Pledge.id)).all() == [
            PledgeState.COLLECTED,
            PledgeState.COLLECTED,
        ]
        assert db.session.get(Campaign, campaign_id).state == CampaignState.SETTLED
        charged = succeeded_intents()
    assert sorted(charged) == sorted([str(declined), str(needs_auth)])
    assert all(len(v) == 1 and v[0].amount == 2200 for v in charged.values())
