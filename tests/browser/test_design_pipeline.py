"""In Chromium: a designer submits a design with an image, an operator approves it, two
backers score it, the close job ends the window, the ranking and the shortlist show it."""

import datetime as dt

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from designs.models import Design, DesignState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.queues import get_queue
from tests.helpers import login, logout, png_bytes, save_design_draft

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def test_submit_approve_score_close_and_shortlist(
    app, ctx, page, live_server, pipeline_cast, run_jobs, tmp_path
):
    artwork = tmp_path / "lighthouse.png"
    artwork.write_bytes(png_bytes(900, 600, (20, 80, 160, 255)))

    # The designer submits.
    login(page, live_server, "ada@example.com")
    save_design_draft(
        page, live_server, artwork, "Lighthouse at dusk", "Hand-drawn.\nTwo colours.", "sea, night"
    )
    expect(page.get_by_text("This is a draft")).to_be_visible()
    expect(page.get_by_role("img", name="Lighthouse at dusk")).to_be_visible()
    # Ada accepted the designer terms, licence included: it is not asked again.
    expect(page.get_by_text("Submitting grants the licence of the designer terms")).to_be_visible()
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Waiting for the quality check")).to_be_visible()
    logout(page)

    # The operator approves it from the quality-check queue.
    login(page, live_server, "olivia@example.com")
    page.get_by_role("link", name="Operator console").click()
    page.get_by_role("link", name="Quality check").first.click()
    page.get_by_role("button", name="Approve “Lighthouse at dusk”").click()
    expect(page.get_by_text("Approved: scoring is open.")).to_be_visible()
    logout(page)

    # Two backers score it; each sees the average only after scoring.
    with ctx():
        design_id = db.session.scalar(sa.select(Design.id))
    for email, score in (("ben@example.com", "5"), ("chloe@example.com", "4")):
        login(page, live_server, email)
        page.goto(f"{live_server}/designs/")
        page.get_by_role("link", name="Lighthouse at dusk").first.click()
        expect(page.get_by_text("stays hidden until you have scored")).to_be_visible()
        page.locator("label.score-option", has_text=score).click()  # the visible button
        assert page.get_by_label(score, exact=True).is_checked()
        page.get_by_label("I'd buy it").check()
        page.get_by_label("Variant").select_option(label="M")
        page.get_by_role("button", name="Save my score").click()
        expect(page.get_by_text("Your score is saved.")).to_be_visible()
        expect(page.get_by_text("would buy it")).to_be_visible()
        logout(page)

    # Seven days pass: the job scheduled at approval runs on a real RQ worker.
    with ctx():
        design = db.session.get(Design, design_id)
        design.voting_closes_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
        queue = get_queue("default")
        registry = queue.scheduled_job_registry
        [job_id] = registry.get_job_ids()
        job = queue.fetch_job(job_id)
        assert job.func_name == "designs.jobs.close_voting"
        registry.remove(job)
        queue.enqueue_job(job)
    assert run_jobs(("default",))["default"] == 1
    with ctx():
        assert db.session.get(Design, design_id).state == DesignState.SHORTLISTED

    page.goto(live_server + "/designs/?status=closed&sort=top")
    card = page.locator(".design-card", has_text="Lighthouse at dusk")
    expect(card.get_by_text("shortlisted")).to_be_visible()
    expect(card.get_by_text("2 votes")).to_be_visible()
    page.get_by_role("link", name="Lighthouse at dusk").first.click()
    expect(page.get_by_text("average of 2 votes")).to_be_visible()
    assert page.get_by_text("Shortlisted").first.is_visible()

    login(page, live_server, "olivia@example.com")
    page.goto(live_server + "/operator/designs/shortlist")
    row = page.locator("tr", has_text="Lighthouse at dusk")
    expect(row.get_by_text("M: 2")).to_be_visible()
    expect(row.get_by_role("button", name="Select “Lighthouse at dusk”")).to_be_visible()
