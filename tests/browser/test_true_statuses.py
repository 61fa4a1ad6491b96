"""In Chromium, the facts a designer and a backer meet once campaigns are over: "My designs"
says where each campaign ended, a failed campaign's page has no live copy, and "My pledges"
says a delivered order was delivered."""

import datetime as dt
import secrets

import pytest
from playwright.sync_api import expect

from marketplace.campaigns.models import Campaign, CampaignState, PledgeState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.production.models import Order, OrderState, ProductionRun, RunState
from tests.helpers import login, logout, pledge_row

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def _pledge(campaign, backer_id, state):
    pledge = pledge_row(
        campaign,
        campaign.variants[0],
        backer_id,
        1,
        state=state,
        idempotency_key=secrets.token_urlsafe(24),
        card_summary="Visa •••• 4242",
    )
    db.session.add(pledge)
    db.session.flush()
    return pledge


def test_a_designer_and_a_backer_meet_the_true_state_of_things(
    ctx, page, live_server, make_user, make_campaign
):
    dee = make_user("dee@example.com", designer=True, name="Dee Signer")
    bea = make_user("bea@example.com", name="Bea Backer")
    operator = make_user("olivia@example.com", operator=True, name="Olivia")
    failed_id = make_campaign(state=CampaignState.FAILED, designer_id=dee)
    delivered_id = make_campaign(state=CampaignState.DELIVERED, designer_id=dee)
    live_id = make_campaign(state=CampaignState.LIVE, designer_id=dee)
    with ctx():
        failed = db.session.get(Campaign, failed_id)
        delivered = db.session.get(Campaign, delivered_id)
        _pledge(failed, bea, PledgeState.CANCELLED)
        paid = _pledge(delivered, bea, PledgeState.COLLECTED)
        run = ProductionRun(
            campaign_id=delivered_id,
            state=RunState.DELIVERED,
            manufacturer="Atelier Lyon",
            reference="Q-1",
            expected_ship_date=(utcnow() - dt.timedelta(days=10)).date(),
            created_by_id=operator,
        )
        db.session.add(run)
        db.session.flush()
        db.session.add(
            Order(
                run_id=run.id,
                pledge_id=paid.id,
                state=OrderState.DELIVERED,
                tracking_ref="COLIS-7",
                shipped_at=utcnow() - dt.timedelta(days=3),
                delivered_at=utcnow() - dt.timedelta(days=1),
            )
        )
        titles = {
            cid: db.session.get(Campaign, cid).design.title
            for cid in (failed_id, delivered_id, live_id)
        }
        db.session.commit()

    # The designer's dashboard: one line per design, each with its campaign's real outcome.
    login(page, live_server, "dee@example.com")
    page.goto(live_server + "/designs/mine")
    rows = {cid: page.locator("tr", has_text=title) for cid, title in titles.items()}
    assert rows[failed_id].locator(".badge").inner_text() == "campaign failed"
    assert "did not reach its goal" in rows[failed_id].inner_text()
    assert rows[delivered_id].locator(".badge").inner_text() == "delivered to backers"
    assert "were delivered to the backers" in rows[delivered_id].inner_text()
    assert rows[live_id].locator(".badge").inner_text() == "campaign live"
    assert "open until" in rows[live_id].inner_text()
    assert not page.get_by_text("Its pre-order campaign is open.").count()
    rows[failed_id].get_by_role("link", name="See the campaign").click()
    page.wait_for_url(f"{live_server}/campaigns/{failed_id}")
    logout(page)

    # The backer: the failed campaign says so, and offers no change any more.
    login(page, live_server, "bea@example.com")
    page.goto(f"{live_server}/campaigns/{failed_id}")
    assert page.get_by_test_id("campaign-outcome").inner_text() == (
        "The goal was not reached: nobody was charged."
    )
    assert not page.get_by_text("change or cancel", exact=False).count()
    expect(page.get_by_role("link", name="Follow them in My pledges")).to_be_visible()

    # The delivered campaign's badge and page follow the run to its end.
    page.goto(f"{live_server}/campaigns/{delivered_id}")
    assert page.locator(".design-info .badge").first.inner_text() == "delivered"
    assert (
        "Delivered: every backer has received their order."
        in page.get_by_test_id("campaign-outcome").inner_text()
    )

    # My pledges: the delivered order is delivered, not going into production.
    page.get_by_role("link", name="Follow them in My pledges").click()
    page.wait_for_url(live_server + "/pledges/")
    order = page.locator("article", has_text="Paid and delivered.")
    assert order.is_visible()
    assert "Delivered on " in order.inner_text() and "Tracking COLIS-7." in order.inner_text()
    assert not page.get_by_text("goes into production").count()
