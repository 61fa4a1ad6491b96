"""The operators' settlement pages: a forecast before closing, then where each payment
stands, attempt by attempt."""

import pytest

from marketplace.campaigns.models import Campaign, CampaignState
from marketplace.kernel.extensions import db
from tests.helpers import add_pledges, csrf_token


@pytest.fixture
def operator(make_user, auth):
    make_user("ops@example.com", operator=True)
    auth.login("ops@example.com")


def test_forecast_then_close_now_then_attempts(
    client, ctx, make_user, make_campaign, operator, stripe_server, run_jobs
):
    campaign_id = make_campaign(goal=3, price=2000)
    backers = [make_user(f"b{i}@example.com", name=f"Backer {i}") for i in range(3)]
    add_pledges(
        ctx,
        campaign_id,
        [
            (backers[0], "S", 2, "visa"),
            (backers[1], "M", 1, "declined_at_charge"),
            (backers[2], "M", 1, "needs_authentication"),
        ],
    )
    page = client.get(f"/operator/settlements/{campaign_id}").get_data(as_text=True)
    assert "If it closed now" in page
    assert "<strong>Funded.</strong> 3 pledges (4 of 3 units)" in page
    assert "€80.00" in page  # 4 units × €20 would be charged

    token = csrf_token(client, f"/operator/settlements/{campaign_id}")
    # Closing now charges every card: the box must be ticked, or the page asks again.
    unconfirmed = client.post(
        f"/operator/settlements/{campaign_id}/close", data={"csrf_token": token}
    )
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm: closing now charges every card at once." in unconfirmed.text
    assert "If it closed now" in unconfirmed.text
    with ctx():
        assert db.session.get(Campaign, campaign_id).state == CampaignState.LIVE
    resp = client.post(
        f"/operator/settlements/{campaign_id}/close", data={"csrf_token": token, "confirm": "y"}
    )
    assert resp.status_code == 302
    run_jobs(("settlement",))
    with ctx():
        assert db.session.get(Campaign, campaign_id).state == CampaignState.SETTLING

    page = client.get(f"/operator/settlements/{campaign_id}").get_data(as_text=True)
    assert "If it closed now" not in page
    for text in ("collected", "errored", "action required", "card_declined", "Backer 1"):
        assert text in page
    assert page.count("#1 settlement") == 3  # one attempt each, with its outcome
    errored = client.get(f"/operator/settlements/{campaign_id}?state=errored").get_data(
        as_text=True
    )
    assert "Backer 1" in errored and "Backer 0" not in errored

    overview = client.get("/operator/settlements/").get_data(as_text=True)
    assert "Test tee" in overview
    console = client.get("/operator/").get_data(as_text=True)
    assert "settlements in progress" in console and "pledges whose payment failed" in console


def test_closing_twice_is_refused(client, ctx, make_campaign, operator, stripe_server):
    campaign_id = make_campaign(goal=50)
    token = csrf_token(client, f"/operator/settlements/{campaign_id}")
    first = client.post(
        f"/operator/settlements/{campaign_id}/close", data={"csrf_token": token, "confirm": "y"}
    )
    assert first.status_code == 302
    with ctx():
        assert db.session.get(Campaign, campaign_id).state == CampaignState.FAILED
    second = client.post(
        f"/operator/settlements/{campaign_id}/close", data={"csrf_token": token, "confirm": "y"}
    )
    assert second.status_code == 409
