"""In Chromium: an operator reads the dashboard, changes its period, sets a target and meets
it on the console's home, and downloads a table as CSV; an anonymous visitor reads /impact."""

from __future__ import annotations

import csv
import os

import pytest
from playwright.sync_api import expect

from marketplace.kernel.extensions import db
from marketplace.kpis import rollup
from tests.helpers import login

from .conftest import TODAY

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def test_an_operator_reads_the_dashboard_sets_a_target_and_exports_it(
    browser, page, live_server, ctx, make_user, story
):
    make_user("boss@example.com", operator=True, name="Boss")
    with ctx():
        rollup.rebuild(today=TODAY)
        db.session.commit()

    login(page, live_server, "boss@example.com")
    page.goto(live_server + "/operator/")
    page.get_by_role("link", name="KPIs").click()
    expect(page.get_by_role("heading", name="Co-creation KPIs")).to_be_visible()
    expect(page.get_by_role("link", name="Last 30 days")).to_have_attribute("aria-current", "page")

    # June 2026, against May 2-31.
    page.get_by_role("textbox", name="From").fill("2026-06-01")
    page.get_by_role("textbox", name="To", exact=True).fill("2026-06-30")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/operator/kpis?from=2026-06-01&to=2026-06-30*")
    row = page.locator("#kpi-row-participants")
    expect(row.locator("td").nth(0)).to_have_text("6")
    expect(row.locator("td").nth(1)).to_have_text("3")
    expect(row.locator("td").nth(2)).to_have_text("+100.0 %")
    expect(row).to_contain_text("Distinct accounts that submitted a design")
    # Each chart is labelled, with its figures in a table.
    expect(page.get_by_role("img", name="Participants per day Distinct")).to_be_visible()
    expect(page.get_by_role("img", name="Returning participants per day")).to_be_visible()
    expect(page.get_by_role("img", name="Idea conversion funnel")).to_be_visible()
    expect(page.locator("#series-table tbody tr")).to_have_count(30)
    if os.environ.get("KPI_SCREENSHOTS"):
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=os.environ["KPI_SCREENSHOTS"] + "/kpis-1280.png", full_page=True)

    # A target the last 30 days miss: nobody took part in this test's recent days.
    page.get_by_label("Indicator", exact=True).select_option(label="Participants")
    page.get_by_label("A level to reach").check()
    page.get_by_label("Value").fill("3")
    page.get_by_role("button", name="Set the target").click()
    expect(page.get_by_text("Target set for Participants.")).to_be_visible()
    # The period chosen is kept, and June is on track.
    assert "from=2026-06-01" in page.url
    expect(page.locator("#kpi-row-participants")).to_contain_text("on track")

    # The CSV of the table under the charts, with the documented columns.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    path = download.value.path()
    assert download.value.suggested_filename == "kpis-series-2026-06-01-2026-06-30.csv"
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:10] == [
        "start",
        "end",
        "participants",
        "returning_percent",
        "ideas",
        "redesigns",
        "ratings",
        "average_rating",
        "nps",
        "units_made",
    ]
    assert len(rows) == 31

    # The console's home names the target off track over the last 30 days.
    page.get_by_role("link", name="Overview").click()
    off_track = page.locator("#off-track")
    expect(off_track).to_contain_text("1 target off track")
    expect(off_track).to_contain_text("needs 3, is 0")
    off_track.get_by_role("link", name="Participants").click()
    page.wait_for_url("**/operator/kpis#kpi-row-participants")

    # Anyone reads the impact page.
    visitor = browser.new_context(viewport={"width": 375, "height": 740})
    try:
        public = visitor.new_page()
        public.goto(live_server + "/")
        public.get_by_role("link", name="Our impact").click()
        expect(public.get_by_role("heading", name="Our impact")).to_be_visible()
        figures = public.locator("#impact-figures")
        expect(figures.locator('[data-figure="participants"]')).to_contain_text("7")
        expect(figures.locator('[data-figure="produced"]')).to_contain_text("1")
        expect(figures.locator('[data-figure="satisfaction"]')).to_contain_text("4.0 / 5")
        width = public.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, "the page scrolls sideways on a phone"
    finally:
        visitor.close()
