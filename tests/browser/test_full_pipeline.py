"""In Chromium, the whole pipeline: a designer submits, an operator approves, backers score,
the close job shortlists, the operator selects and opens a campaign, backers pledge with
typed cards, the operator closes it, a real `flask worker` process settles it against
localstripe, backers answer the survey, the operator launches the run and moves it to
delivered, and the designer's royalty balance is right to the cent."""

import datetime as dt
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from designs.models import Design, DesignState
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.queues import get_queue
from marketplace.production.models import ProductionRun, RunState
from payments import ledger
from tests.helpers import login, logout, png_bytes, save_card, save_design_draft, succeeded_intents

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def settle_with_a_real_worker(app, database_url, redis_url, stripe_server):
    env = {
        **os.environ,
        "MARKETPLACE_ENV": "test",
        "TEST_DATABASE_URL": database_url,
        "TEST_REDIS_URL": redis_url,
        "MAIL_PORT": str(app.config["MAIL_PORT"]),
        "STRIPE_API_BASE": stripe_server,
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "tests.worker_app", "worker", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_from_a_drawing_to_a_delivered_product(
    app,
    ctx,
    page,
    live_server,
    pipeline_cast,
    run_jobs,
    tmp_path,
    stripe_server,
    database_url,
    redis_url,
    mailbox,
):
    ada = pipeline_cast
    artwork = tmp_path / "kite.png"
    artwork.write_bytes(png_bytes(800, 800, (200, 60, 40, 255)))

    # Submission, quality check, scoring, close, shortlist.
    login(page, live_server, "ada@example.com")
    save_design_draft(page, live_server, artwork, "Red kite", "A kite over the Rhône.", "sky")
    expect(page.get_by_text("Submitting grants the licence of the designer terms")).to_be_visible()
    page.get_by_role("button", name="Submit for review").click()
    logout(page)

    login(page, live_server, "olivia@example.com")
    page.goto(live_server + "/operator/designs/review")
    page.get_by_role("button", name="Approve “Red kite”").click()
    logout(page)

    with ctx():
        design_id = db.session.scalar(sa.select(Design.id))
    for email in ("ben@example.com", "chloe@example.com"):
        login(page, live_server, email)
        page.goto(f"{live_server}/designs/{design_id}")
        page.locator("label.score-option", has_text="5").click()
        page.get_by_label("I'd buy it").check()
        page.get_by_label("Variant").select_option(label="L")
        page.get_by_role("button", name="Save my score").click()
        expect(page.get_by_text("Your score is saved.")).to_be_visible()
        logout(page)

    with ctx():
        db.session.get(Design, design_id).voting_closes_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
        queue = get_queue("default")
        [job_id] = queue.scheduled_job_registry.get_job_ids()
        job = queue.fetch_job(job_id)
        queue.scheduled_job_registry.remove(job)
        queue.enqueue_job(job)
    run_jobs(("default",))
    with ctx():
        assert db.session.get(Design, design_id).state == DesignState.SHORTLISTED

    # Selection and the campaign: €25.00 a unit, of which €3.50 is the designer's royalty.
    login(page, live_server, "olivia@example.com")
    page.goto(live_server + "/operator/designs/shortlist")
    page.get_by_label("Select it for a campaign (final)").check()
    page.get_by_role("button", name="Select “Red kite”").click()
    page.goto(f"{live_server}/operator/campaigns/new/{design_id}")
    page.get_by_label("Product name").fill("Red kite tee")
    page.get_by_label("Unit price").fill("25.00")
    page.get_by_label("Goal (units)").fill("3")
    page.get_by_label("Production cost per unit").fill("18.00")
    page.get_by_label("Designer royalty per unit").fill("3.50")
    page.get_by_label("Platform share per unit").fill("3.50")
    page.get_by_label("Story").fill("A red kite over the hills, screen-printed by hand in Lyon.")
    page.get_by_label("Risks and challenges").fill("Ink deliveries can slip by a week or two.")
    page.get_by_role("button", name="Open the campaign").click()
    expect(page.get_by_text("Campaign opened.")).to_be_visible()
    with ctx():
        campaign_id = db.session.scalar(sa.select(Campaign.id))
    logout(page)

    # Pledges with cards typed into the card field: Ben 1 × M, Chloé 2 × L.
    for email, variant, quantity in (
        ("ben@example.com", "M", "1"),
        ("chloe@example.com", "L", "2"),
    ):
        login(page, live_server, email)
        page.goto(f"{live_server}/campaigns/{campaign_id}")
        page.get_by_label("Variant").select_option(label=variant)
        page.get_by_label("Quantity").fill(quantity)
        page.get_by_role("button", name="Pledge and save my card").click()
        page.wait_for_url(f"{live_server}/pledges/*/card")
        save_card(page)
        page.wait_for_url(live_server + "/pledges/")
        expect(page.get_by_text("Your pledge is in.")).to_be_visible()
        logout(page)

    # The operator closes it now; a real worker process settles it against localstripe.
    login(page, live_server, "olivia@example.com")
    page.goto(f"{live_server}/operator/settlements/{campaign_id}")
    expect(page.get_by_text("would be charged €75.00")).to_be_visible()
    page.get_by_label("I understand: closing now charges every card at once").check()
    page.get_by_role("button", name="Close the campaign now").click()
    expect(page.get_by_text("Campaign closed: funded.")).to_be_visible()
    logout(page)
    settle_with_a_real_worker(app, database_url, redis_url, stripe_server)
    with ctx():
        assert db.session.get(Campaign, campaign_id).state == CampaignState.SETTLED
        assert set(db.session.scalars(sa.select(Pledge.state))) == {PledgeState.COLLECTED}
        charged = succeeded_intents()
        assert sorted(pi.amount for pis in charged.values() for pi in pis) == [2500, 5000]

    # Backers answer the survey from the banner.
    for email, name in (("ben@example.com", "Ben Martin"), ("chloe@example.com", "Chloé Roux")):
        login(page, live_server, email)
        page.get_by_role("link", name="Where should we send your Red kite tee?").first.click()
        page.get_by_label("Name on the parcel").fill(name)
        page.get_by_label("Street address").fill("3 quai Saint-Antoine")
        page.get_by_label("Postal code").fill("69002")
        page.get_by_label("City").fill("Lyon")
        page.get_by_label("Country code").fill("FR")
        page.get_by_label("This is the variant and quantity I want").check()
        page.get_by_role("button", name="Save my shipping details").click()
        expect(page.get_by_text("your shipping details are saved")).to_be_visible()
        logout(page)

    # The run: launched with the paid quantities, ordered, made, shipped, delivered.
    login(page, live_server, "olivia@example.com")
    page.goto(live_server + "/operator/production/")
    page.get_by_role("link", name="Launch a run for Red kite tee").click()
    quantities = page.locator("table").first
    expect(quantities.locator("tr", has_text="M").get_by_text("1")).to_be_visible()
    expect(quantities.locator("tr", has_text="L").get_by_text("2")).to_be_visible()
    page.get_by_label("Manufacturer", exact=True).fill("Atelier des Pentes")
    page.get_by_label("Manufacturer's reference").fill("AP-77")
    page.get_by_label("Expected ship date").fill(
        (utcnow() + dt.timedelta(days=21)).date().isoformat()
    )
    page.get_by_role("button", name="Launch the production run").click()
    expect(page.get_by_text("Production run launched")).to_be_visible()
    page.get_by_role("button", name="Mark ordered from the manufacturer").click()
    page.get_by_role("button", name="Mark in production").click()
    for row in page.locator("tr[id^=order-]").all():
        order = row.get_attribute("id").removeprefix("order-")
        page.get_by_label(f"Tracking for order {order}").fill(f"COLIS-{order}")
        page.locator(f"#order-{order}").get_by_role("button", name="Shipped").click()
        expect(page.get_by_text(f"Order {order} marked shipped.")).to_be_visible()
    page.get_by_role("button", name="Mark the run shipped").click()
    page.get_by_role("button", name="Mark delivered").click()
    expect(page.get_by_text("Run delivered")).to_be_visible()
    logout(page)

    login(page, live_server, "ben@example.com")
    page.goto(live_server + "/pledges/")
    pledges = page.locator("main").inner_text()
    assert "Paid and delivered." in pledges
    assert "Delivered on " in pledges and "Tracking COLIS-" in pledges
    logout(page)

    # 3 paid units × €3.50: the designer's balance is €10.50 exactly.
    login(page, live_server, "ada@example.com")
    page.goto(live_server + "/account/earnings")
    assert page.get_by_test_id("balance-EUR").inner_text() == "€10.50"
    with ctx():
        assert ledger.balances(ada) == {"EUR": 1050}
        assert db.session.scalar(sa.select(ProductionRun.state)) == RunState.DELIVERED
        assert db.session.get(Campaign, campaign_id).state == CampaignState.DELIVERED
