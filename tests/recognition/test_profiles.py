"""Public contributor profiles: who a person is and what they did, in public facts only (no
score's value, no amount pledged), with their badges and the rules behind them; and what a
designer's page says about who scored and backed each design."""

import datetime as dt
import html
import re
import secrets

import pytest
import sqlalchemy as sa

from designs.models import Comment, Design, DesignState, Vote
from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, CampaignState, PledgeState
from marketplace.kernel.extensions import db
from tests.helpers import login_as, pledge_row
from tests.recognition.test_badges import _rated


def _page(client, user_id: int) -> str:
    resp = client.get(f"/people/{user_id}")
    assert resp.status_code == 200
    return html.unescape(resp.get_data(as_text=True))


def _pledge(ctx, campaign_id: int, backer_id: int, state=PledgeState.COLLECTED, at=None):
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        pledge = pledge_row(
            campaign,
            campaign.variants[0],
            backer_id,
            3,
            state=state,
            idempotency_key=secrets.token_urlsafe(24),
        )
        pledge.created_at = at or campaign.starts_at
        db.session.add(pledge)
        db.session.commit()


def _early_vote(ctx, design_id: int, user_id: int) -> None:
    with ctx():
        design = db.session.get(Design, design_id)
        vote = db.session.scalar(
            sa.select(Vote).where(Vote.design_id == design_id, Vote.user_id == user_id)
        )
        vote.updated_at = design.voting_opens_at + dt.timedelta(hours=2)
        db.session.commit()


@pytest.fixture
def zoe(ctx, make_user, make_design, make_campaign):
    """Zoé scored three designs (5 on a selected one within its first hours, 4 on one still
    in scoring, 2 on one not selected), backed a settled campaign first of four backers, backs
    a live one, and her pledge on a failed one was released."""
    zoe = make_user("zoe@example.com", name="Zoé Martin")
    with ctx():
        db.session.get(User, zoe).bio = "I pick the winners.\nSometimes."
        db.session.commit()
    picked = make_design(state=DesignState.SELECTED, title="Picked early", votes=((zoe, 5, True),))
    _early_vote(ctx, picked, zoe)
    make_design(state=DesignState.VOTING, title="Still scoring", votes=((zoe, 4, False),))
    make_design(state=DesignState.NOT_SELECTED, title="Left out", votes=((zoe, 2, False),))
    settled = make_campaign(state=CampaignState.SETTLED)
    _pledge(ctx, settled, zoe)
    for i in range(3):
        _pledge(
            ctx,
            settled,
            make_user(f"later{i}@example.com"),
            at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        )
    live = make_campaign(state=CampaignState.LIVE)
    _pledge(ctx, live, zoe, state=PledgeState.ACTIVE)
    failed = make_campaign(state=CampaignState.FAILED)
    _pledge(ctx, failed, zoe, state=PledgeState.CANCELLED)
    return {"id": zoe, "picked": picked, "settled": settled, "live": live, "failed": failed}


def test_a_profile_shows_what_a_person_did_and_their_badges(client, zoe):
    page = _page(client, zoe["id"])
    assert "Zoé Martin" in page
    assert "I pick the winners.\nSometimes." in page
    assert "Member since" in page
    assert 'data-testid="scores-count">3<' in page
    assert 'data-testid="scouted-count">1<' in page
    assert 'data-testid="backed-count">2<' in page  # the failed campaign's pledge was released
    assert 'data-testid="designs-count">0<' in page
    # The scouting record links the selected design; the others are not named.
    assert f'href="/designs/{zoe["picked"]}">Picked early</a>' in page
    assert "Still scoring" not in page and "Left out" not in page
    assert f'href="/campaigns/{zoe["settled"]}"' in page
    assert f'href="/campaigns/{zoe["live"]}"' in page
    assert f'href="/campaigns/{zoe["failed"]}"' not in page
    # Both badges, with what they were earned for, and every rule in words.
    assert 'data-testid="badge-scout"' in page
    assert 'data-testid="badge-early_backer"' in page
    assert "within the first 48 hours" in page
    assert "Among the first 10 percent of the backers" in page


def test_a_profile_never_shows_a_score_or_an_amount(client, zoe):
    page = _page(client, zoe["id"])
    # Zoé's pledges were 3 units at €25.00; her scores 5, 4 and 2.
    assert "75" not in page and "25.00" not in page and "€" not in page
    # A score reads "4/5" or "4 / 5"; an id in a link ("/campaigns/5") is no score.
    assert "out of 5" not in page and not re.search(r"\d\s?/\s?5\b", page)


def test_a_person_without_badges_reads_the_rules_they_could_earn(client, make_user):
    newcomer = make_user("new@example.com", name="New Person")
    page = _page(client, newcomer)
    assert 'data-testid="badge-' not in page
    assert 'data-testid="rule-scout"' in page and 'data-testid="rule-early_backer"' in page
    assert 'data-testid="scores-count">0<' in page


def test_unknown_and_unverified_accounts_have_no_profile(client, make_user):
    hidden = make_user("hidden@example.com", verified=False)
    assert client.get(f"/people/{hidden}").status_code == 404
    assert client.get(f"/people/{hidden + 1000}").status_code == 404


def test_a_designer_profile_links_their_designer_page(client, make_user, make_design):
    dee = make_user("dee@example.com", designer=True, name="Dee")
    make_design(dee, title="Birds")
    page = _page(client, dee)
    assert 'data-testid="designs-count">1<' in page
    assert f'href="/designs/by/{dee}"' in page
    designer_page = client.get(f"/designs/by/{dee}").get_data(as_text=True)
    assert f'href="/people/{dee}"' in designer_page


def test_profiles_are_cached_for_anonymous_visitors(app, monkeypatch, make_user):
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 10)
    person = make_user("cached@example.com")
    first = app.test_client().get(f"/people/{person}")
    assert first.headers["X-Cache"] == "miss" and "public" in first.headers["Cache-Control"]
    assert app.test_client().get(f"/people/{person}").headers["X-Cache"] == "hit"


def test_comment_authors_and_the_account_page_link_to_profiles(
    client, ctx, auth, make_user, make_design
):
    ann = make_user("ann@example.com", name="Ann")
    design_id = make_design()
    with ctx():
        db.session.add(Comment(design_id=design_id, author_id=ann, body="Lovely"))
        db.session.commit()
    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert f'<a href="/people/{ann}">Ann</a>' in page
    login_as(client, auth, "ann@example.com")
    account = client.get("/account/").get_data(as_text=True)
    assert f'href="/people/{ann}">See your public profile' in account


def test_the_designer_page_says_how_many_scored_and_backed_each_design(
    client, ctx, make_user, make_design, make_campaign
):
    dee = make_user("dee@example.com", designer=True, name="Dee")
    fans = [make_user(f"f{i}@example.com") for i in range(4)]
    open_design = make_design(dee, title="Open", votes=((fans[0], 4, False),))
    closed = make_design(
        dee,
        state=DesignState.NOT_SELECTED,
        title="Closed",
        votes=tuple((f, 3, False) for f in fans[:3]),
    )
    campaign_id = make_campaign(state=CampaignState.LIVE, designer_id=dee)
    with ctx():
        campaign_design = db.session.get(Campaign, campaign_id).design_id
    _pledge(ctx, campaign_id, fans[0], state=PledgeState.ACTIVE)
    _pledge(ctx, campaign_id, fans[0], state=PledgeState.ACTIVE)
    _pledge(ctx, campaign_id, fans[1], state=PledgeState.ACTIVE)
    _pledge(ctx, campaign_id, fans[2], state=PledgeState.CANCELLED)

    page = client.get(f"/designs/by/{dee}").get_data(as_text=True)
    assert "Chosen and backed by the community" in page

    def row(design_id):
        start = page.index(f'data-testid="counts-{design_id}"')
        return page[start : page.index("</tr>", start)]

    # While scoring is open the count stays hidden, as on the design's page.
    assert "scoring open" in row(open_design)
    assert "<td>3</td>" in row(closed)
    assert "<td>2</td>" in row(campaign_design)  # two backers, one with two pledges


def test_a_french_visitor_reads_the_profile_and_its_rules_in_french(client, zoe):
    resp = client.get(f"/people/{zoe['id']}", headers={"Accept-Language": "fr"})
    page = html.unescape(resp.get_data(as_text=True))
    assert "Ce qu’a fait Zoé Martin" in page
    assert "Éclaireur" in page and "Contributeur de la première heure" in page
    assert "dans les 48 premières heures" in page
    assert '3</span><span class="stat-label">notes données' in page


def test_a_reviewer_and_a_redesigner_show_their_badges(
    ctx, client, make_user, make_campaign, make_design
):
    backer, campaign_id = _rated(ctx, make_user, make_campaign, "Held after ten washes.", False)
    with ctx():
        original = db.session.get(Campaign, campaign_id).design_id
    redesign = make_design(backer, title="Brighter ink")
    with ctx():
        design = db.session.get(Design, redesign)
        design.redesign_of_id = original
        design.what_changed = "A brighter ink."
        db.session.commit()
    page = _page(client, backer)
    assert 'data-testid="reviews-count">1<' in page
    assert 'data-testid="badge-reviewer"' in page and 'data-testid="badge-redesigner"' in page
    assert f'href="/designs/{redesign}">Brighter ink</a>' in page
