"""In Chromium, the dead ends of issue #15 walked as the person meets them: a designer revises
a declined design beside its reason and submits it again; an operator closes a scoring window
early, hears that the design met the bar short of votes, shortlists it anyway, and must tick a
box before Select and before closing a campaign now (no JavaScript involved: the box is
required, and the server checks it too)."""

import pytest
from playwright.sync_api import expect

from designs.models import Design, DesignState
from marketplace.campaigns.models import Campaign, CampaignState
from marketplace.kernel.extensions import db
from tests.helpers import login, logout

pytestmark = [pytest.mark.browser, pytest.mark.live_db]


def test_a_designer_revises_a_declined_design_and_submits_it_again(
    ctx, page, live_server, pipeline_cast, make_design
):
    design_id = make_design(pipeline_cast, state=DesignState.DECLINED, title="Foggy harbour")
    with ctx():
        design = db.session.get(Design, design_id)
        design.decision_reason, design.decision_message = "quality", "The fog hides the boats."
        db.session.commit()

    login(page, live_server, "ada@example.com")
    page.goto(f"{live_server}/designs/{design_id}")
    expect(page.get_by_text("Declined:")).to_be_visible()
    assert page.get_by_role("heading", name="Scores").count() == 0  # no empty card
    page.get_by_role("link", name="Revise this design").click()
    reason = page.locator("#decline-reason")
    assert "Quality: the artwork would not print well. The fog hides the boats." in (
        reason.inner_text()
    )
    page.get_by_label("Title").fill("Clear harbour")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved. Submit it again when ready.")).to_be_visible()
    assert page.get_by_role("heading", name="Scores").count() == 0
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Waiting for the quality check")).to_be_visible()
    expect(page.get_by_text("Revised by the designer")).to_be_visible()
    with ctx():
        design = db.session.get(Design, design_id)
        assert design.state == DesignState.SUBMITTED and design.title == "Clear harbour"


def test_an_operator_closes_scoring_early_shortlists_and_confirms_before_acting(
    ctx, page, live_server, pipeline_cast, make_user, make_design, make_campaign
):
    voter = make_user("vera@example.com")
    design_id = make_design(votes=((voter, 5, True),), title="Paper moon")
    campaign_id = make_campaign(goal=5)

    login(page, live_server, "olivia@example.com")
    page.goto(live_server + "/operator/designs/review")
    page.get_by_text("Close scoring now…").click()
    close = page.get_by_role("button", name="Close scoring of “Paper moon” now")
    close.click()  # no reason: the browser asks for one, nothing is sent
    assert page.locator(f"#close-reason-{design_id}").evaluate("e => e.validity.valueMissing")
    with ctx():
        assert db.session.get(Design, design_id).state == DesignState.VOTING
    page.locator(f"#close-reason-{design_id}").fill("The spring call ends today.")
    close.click()
    said = page.get_by_text("its score meets the bar, but it has 1 of the 2 votes")
    assert said.is_visible()

    page.goto(live_server + "/operator/designs/shortlist")
    page.get_by_text("Shortlist anyway…").click()
    page.locator(f"#anyway-reason-{design_id}").fill("One vote, but a strong one.")
    page.get_by_role("button", name="Shortlist “Paper moon”").click()
    expect(page.get_by_text("Shortlisted, on your judgement")).to_be_visible()

    select = page.get_by_role("button", name="Select “Paper moon”")
    select.click()  # the box is not ticked: the browser holds the form back
    assert page.locator(f"#confirm-select-{design_id}").evaluate("e => e.validity.valueMissing")
    with ctx():
        assert db.session.get(Design, design_id).state == DesignState.SHORTLISTED
    page.get_by_label("Select it for a campaign (final)").check()
    select.click()
    expect(page.get_by_text("Selected: the design is ready for a campaign.")).to_be_visible()

    page.goto(f"{live_server}/operator/settlements/{campaign_id}")
    close_now = page.get_by_role("button", name="Close the campaign now")
    close_now.click()
    assert page.locator("#confirm-close").evaluate("e => e.validity.valueMissing")
    with ctx():
        assert db.session.get(Campaign, campaign_id).state == CampaignState.LIVE
    page.get_by_label("I understand: closing now fails the campaign").check()
    close_now.click()
    expect(page.get_by_text("Campaign closed: failed.")).to_be_visible()
    logout(page)
