"""The home page shows what is going on: campaigns ending soon, designs open for scoring, the
latest designs produced and the platform's figures, live (within the page cache's window)."""

import datetime as dt
import re
import time

import pytest
import sqlalchemy as sa

from designs.models import DesignState
from marketplace.campaigns.models import Campaign, CampaignState, PledgeState
from marketplace.kernel.extensions import db
from payments.models import LedgerEntry, LedgerKind
from tests.helpers import made_campaign, pledge_row


def _section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    end = html.find("<section", start)
    return html[start : end if end >= 0 else None]


def _figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}"><span class="stat-value">([^<]*)</span>', html)
    assert found, f"no {name} figure"
    return found.group(1)


def _titled(ctx, campaign_id: int, title: str) -> None:
    """Name the campaign's product, which its cards show."""
    with ctx():
        db.session.get(Campaign, campaign_id).product_name = title
        db.session.commit()


def test_a_fresh_install_says_what_will_show_instead_of_zeros(client):
    html = client.get("/").get_data(as_text=True)
    assert "Nothing has been made yet" in html
    assert "data-figure" not in html
    assert "No campaign is live right now" in _section(html, "ending-soon")
    assert "No design is being scored right now" in _section(html, "open-for-scoring")
    assert "No design has been produced yet" in _section(html, "produced")


def test_home_lists_what_is_live_and_the_figures(
    app, client, ctx, make_user, make_design, make_campaign
):
    operator = make_user("olivia@example.com", operator=True)
    backers = [make_user(f"backer{n}@example.com") for n in range(3)]
    later = make_campaign(deadline_in=dt.timedelta(days=9))
    sooner = make_campaign(deadline_in=dt.timedelta(hours=5))
    failed = make_campaign(state=CampaignState.FAILED)
    delivered = make_campaign(state=CampaignState.DELIVERED)
    shipped = make_campaign(state=CampaignState.SHIPPED)
    in_production = make_campaign(state=CampaignState.IN_PRODUCTION)
    for campaign_id, title in (
        (later, "Later campaign"),
        (sooner, "Sooner campaign"),
        (failed, "Failed campaign"),
        (delivered, "Delivered design"),
        (shipped, "Shipped design"),
        (in_production, "Being made"),
    ):
        _titled(ctx, campaign_id, title)
    make_design(title="Closing tomorrow", closes_in=dt.timedelta(days=1))
    make_design(title="Closing next week", closes_in=dt.timedelta(days=6))
    make_design(title="A draft", state=DesignState.DRAFT)
    make_design(title="Scored already", state=DesignState.SCORED)
    # Two made campaigns, a backer on both: three people, counted once each.
    made_campaign(ctx, delivered, backers[:2], operator, royalty_cents=1250)
    made_campaign(ctx, shipped, backers[1:], operator, royalty_cents=300)
    with ctx():
        live = db.session.get(Campaign, sooner)
        # A pledge still waiting for its card is nobody's backing yet.
        db.session.add(
            pledge_row(
                live,
                live.variants[0],
                make_user("undecided@example.com"),
                1,
                state=PledgeState.PENDING_CARD,
                idempotency_key="k-1",
            )
        )
        db.session.commit()

    html = client.get("/").get_data(as_text=True)
    ending = _section(html, "ending-soon")
    assert ending.index("Sooner campaign") < ending.index("Later campaign")
    assert "Failed campaign" not in ending and "Delivered design" not in ending
    assert "5 hours left" in ending or "4 hours left" in ending
    scoring = _section(html, "open-for-scoring")
    assert scoring.index("Closing tomorrow") < scoring.index("Closing next week")
    assert "A draft" not in scoring and "Scored already" not in scoring
    produced = _section(html, "produced")
    assert produced.index("Shipped design") < produced.index("Delivered design")
    assert "delivered to backers" in produced and "shipped to backers" in produced
    assert "Being made" not in produced  # not made yet
    assert _figure(html, "produced") == "2"
    assert _figure(html, "backers") == "3"
    assert _figure(html, "royalties") == "€15.50"

    # A refund's reversal comes off what the designers earned; a payout does not.
    with ctx():
        entry = db.session.scalars(
            sa.select(LedgerEntry).where(LedgerEntry.amount_cents == 1250)
        ).one()
        for kind, cents, extra in (
            (LedgerKind.REVERSAL, -250, {"reverses_id": entry.id, "run_id": entry.run_id}),
            (LedgerKind.PAYOUT, -500, {}),
        ):
            db.session.add(
                LedgerEntry(
                    designer_id=entry.designer_id,
                    kind=kind,
                    amount_cents=cents,
                    currency="EUR",
                    note=kind.value,
                    **extra,
                )
            )
        db.session.commit()
    assert _figure(client.get("/").get_data(as_text=True), "royalties") == "€13.00"


def test_the_figures_are_in_french_for_a_french_reader(client, ctx, make_user, make_campaign):
    operator = make_user("olivia@example.com", operator=True)
    delivered = make_campaign(state=CampaignState.DELIVERED, price=250_000)
    made_campaign(ctx, delivered, [make_user("b@example.com")], operator, royalty_cents=123_450)
    html = client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert _figure(html, "royalties") == "1\u202f234,50\u00a0€"


@pytest.fixture
def short_cache(app, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 1)
    monkeypatch.setitem(app.config, "PAGE_CACHE_TAGGED_SECONDS", 300)


def test_anonymous_visitors_see_figures_at_most_the_cache_window_old(
    app, ctx, short_cache, make_user, make_campaign
):
    operator = make_user("olivia@example.com", operator=True)
    first = make_campaign(state=CampaignState.DELIVERED)
    made_campaign(ctx, first, [make_user("b1@example.com")], operator, royalty_cents=100)
    resp = app.test_client().get("/")
    assert resp.headers["X-Cache"] == "miss" and "max-age=1" in resp.headers["Cache-Control"]
    assert _figure(resp.get_data(as_text=True), "produced") == "1"

    second = make_campaign(state=CampaignState.SHIPPED)
    made_campaign(ctx, second, [make_user("b2@example.com")], operator, royalty_cents=100)
    assert app.test_client().get("/").headers["X-Cache"] == "hit"
    time.sleep(1.2)
    fresh = app.test_client().get("/")
    assert fresh.headers["X-Cache"] == "miss"
    assert _figure(fresh.get_data(as_text=True), "produced") == "2"
