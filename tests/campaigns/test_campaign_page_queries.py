"""A member's campaign page: the part every reader with the same roles sees is rendered once
and kept (kernel.fragments), so a request reads the account, the campaign's counters with what
the member holds on it, the member's pledges and the banner: 4 statements, whatever the
pledges, backers, updates, reviews and pictures. What that shared part shows follows every
change at once, and what is the member's own never reaches anyone else."""

from __future__ import annotations

import datetime as dt
import re
import secrets

import pytest

from marketplace.accounts.models import User
from marketplace.campaigns import services
from marketplace.campaigns.models import (
    Campaign,
    CampaignFaq,
    CampaignImage,
    CampaignUpdate,
    PledgeState,
)
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent
from marketplace.production import services as production
from marketplace.production.models import Order, OrderState, ProductionRun, RunState
from marketplace.reviews.models import Rating, RatingPhoto
from tests.helpers import Auth, count_queries, pledge_row

#: A steady request's statements in all: the account, the campaign's counters, the member's
#: pledges, the survey banner.
LIMIT = 4


@pytest.fixture
def kept(app, monkeypatch):
    """Shared parts kept as in production; one process, one clock (tests/kernel/
    test_pagecache.py): a part rendered right after a change is kept."""
    monkeypatch.setitem(app.config, "PAGE_CACHE_TAGGED_SECONDS", 300)
    monkeypatch.setattr("marketplace.kernel.pagecache.CLOCK_SKEW_SECONDS", 0.0)


@pytest.fixture
def member(app, make_user):
    """A new member, logged in on a client of their own: (client, account id). The login's
    message is shown already (a page with a message waiting is rendered, not kept)."""

    def log_in(email: str, **user):
        user_id = make_user(email, **user)
        client = app.test_client()
        Auth(client).login(email)
        client.get("/")
        return client, user_id

    return log_in


def _page(client, campaign_id: int) -> str:
    resp = client.get(f"/campaigns/{campaign_id}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _pledge(ctx, campaign_id, backer_id, quantity=1, *, variant=0, state=PledgeState.ACTIVE):
    """A pledge as pledging leaves it (its units reserved if it counts): no page forgotten."""
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        chosen = campaign.variants[variant]
        db.session.add(
            pledge_row(
                campaign,
                chosen,
                backer_id,
                quantity,
                state=state,
                idempotency_key=secrets.token_urlsafe(24),
            )
        )
        if state == PledgeState.ACTIVE:
            chosen.reserved_units += quantity
        db.session.commit()


def _with(ctx, make_user, make_campaign, backer_id, *, n: int, variants: int = 1):
    """A live campaign with ``n`` of everything its page lists: pictures, questions, backers
    (``backer_id`` among them, with ``n`` pledges), public and backers-only updates, ratings
    with a photo each, production events; written straight to the database (the page shows
    ratings and runs in any state)."""
    others = [make_user(f"backer{n}-{i}@example.com", name=f"Backer {i}") for i in range(n)]
    campaign_id = make_campaign(goal=1000, variants=tuple((f"V{i}", 500) for i in range(variants)))
    now = utcnow()
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        campaign.story, campaign.risks = "A **bold** story, long enough.", "Late stock, maybe."
        campaign.delivery_month = (now + dt.timedelta(days=60)).date().replace(day=1)
        campaign.images = [
            CampaignImage(image_key=f"img{i}", width=90, height=60, position=i) for i in range(n)
        ]
        campaign.faqs = [
            CampaignFaq(question=f"Question {i}?", answer="An answer.", position=i)
            for i in range(n)
        ]
        run = ProductionRun(
            campaign_id=campaign.id,
            state=RunState.PLANNED,
            manufacturer="Atelier Lyon",
            reference=f"Q-{n}",
            expected_ship_date=now.date(),
            created_by_id=campaign.created_by_id,
        )
        db.session.add(run)
        db.session.flush()
        for i, backer in enumerate(others):
            pledge = pledge_row(
                campaign,
                campaign.variants[i % variants],
                backer,
                1,
                state=PledgeState.COLLECTED,
                idempotency_key=secrets.token_urlsafe(24),
            )
            campaign.variants[i % variants].reserved_units += 1
            db.session.add(pledge)
            db.session.flush()
            order = Order(run_id=run.id, pledge_id=pledge.id, state=OrderState.DELIVERED)
            db.session.add(order)
            db.session.flush()
            rating = Rating(
                order_id=order.id,
                user_id=backer,
                campaign_id=campaign.id,
                design_id=campaign.design_id,
                score=1 + i % 5,
                review=f"Review {i}",
            )
            rating.photos.append(RatingPhoto(image_key=f"photo{i}", position=0))
            db.session.add(rating)
            for update in range(2):
                db.session.add(
                    CampaignUpdate(
                        campaign_id=campaign.id,
                        author_id=campaign.design.designer_id,
                        title=f"Update {i}-{update}",
                        body="News.",
                        backers_only=bool(update),
                    )
                )
            db.session.add(
                AuditEvent(
                    action="production_run.order",
                    subject_type="production_run",
                    subject_id=run.id,
                )
            )
        db.session.commit()
    for i in range(n):
        _pledge(ctx, campaign_id, backer_id, 1 + i % 3, variant=i % variants)
    return campaign_id


def test_the_campaign_page_runs_the_same_few_statements_whatever_the_data(
    app, ctx, kept, member, make_user, make_campaign
):
    bea, bea_id = member("bea@example.com", name="Bea")
    small = _with(ctx, make_user, make_campaign, bea_id, n=1)
    large = _with(ctx, make_user, make_campaign, bea_id, n=12, variants=8)
    first, then = [], []
    for campaign_id in (small, large):
        for counts in (first, then):
            with count_queries(app) as queries:
                page = _page(bea, campaign_id)
            # Every part is there, so that every one is counted: the member's pledges and the
            # form, backers-only updates, reviews with their photos, pictures, the timeline.
            for text in (
                "Your pledges here",
                "Pledge and save my card",
                "Update 0-1",
                'class="comment review"',
                "/photos/",
                "/images/",
                "Question 0?",
                "Ordered from the manufacturer",
            ):
                assert text in page, text
            counts.append(len(queries))
    assert first[0] == first[1] <= 14, first
    assert then[0] == then[1] <= LIMIT, then


def test_a_new_public_update_shows_on_the_next_request(ctx, kept, member, make_campaign):
    nob, _ = member("nob@example.com")
    campaign_id = make_campaign()
    assert "No updates yet." in _page(nob, campaign_id)
    assert "No updates yet." in _page(nob, campaign_id)  # kept
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        services.post_update(
            campaign_id, campaign.design.designer, "Printing starts", "Monday.", False
        )
        db.session.commit()
    page = _page(nob, campaign_id)
    assert "Printing starts" in page and "No updates yet." not in page


def test_a_state_change_shows_on_the_next_request(ctx, kept, member, make_user, make_campaign):
    nob, _ = member("nob@example.com")
    operator = make_user("staff@example.com", operator=True)
    campaign_id = make_campaign()
    assert '<span class="badge badge-info">live</span>' in _page(nob, campaign_id)
    with ctx():
        services.cancel_campaign(campaign_id, db.session.get(User, operator), "The printer shut")
        db.session.commit()
    page = _page(nob, campaign_id)
    # The badge and the timeline are in the shared part; the outcome is read each time.
    assert '<span class="badge badge-danger">cancelled</span>' in page
    assert "<strong>Cancelled</strong>: The printer shut" in page
    assert "Cancelled: The printer shut." in page


def test_a_production_step_shows_on_the_timeline_at_once(
    ctx, kept, member, make_user, make_campaign
):
    nob, _ = member("nob@example.com")
    operator = make_user("staff@example.com", operator=True)
    campaign_id = make_campaign()
    with ctx():
        run = ProductionRun(
            campaign_id=campaign_id,
            manufacturer="Atelier Lyon",
            reference="Q-1",
            expected_ship_date=utcnow().date(),
            created_by_id=operator,
        )
        db.session.add(run)
        db.session.commit()
        run_id = run.id
    assert "Ordered from the manufacturer" not in _page(nob, campaign_id)
    with ctx():
        production.move_run(run_id, db.session.get(User, operator), "order")
        db.session.commit()
    assert "Ordered from the manufacturer" in _page(nob, campaign_id)


def _units(page: str) -> str:
    return re.search(r'data-testid="pledged-units">(\d+)<', page)[1]


def test_a_pledge_changes_the_counters_at_once(ctx, kept, member, make_user, make_campaign):
    nob, _ = member("nob@example.com")
    campaign_id = make_campaign(goal=10)  # S, M, and L limited to 5
    page = _page(nob, campaign_id)
    assert _units(page) == "0" and '<option value="' in page and "L (5 left)" in page
    _pledge(ctx, campaign_id, make_user("ben@example.com"), 3, variant=2)
    page = _page(nob, campaign_id)
    assert _units(page) == "3"
    assert '<span class="stat-value">1</span><span class="stat-label">backer</span>' in page
    assert "<strong>€75.00</strong> pledged of a €250.00 goal" in page
    assert "30% funded" in page
    assert "L (2 left)" in page  # the pledge form
    assert '<tr><td>L</td><td class="num">3</td><td class="num">2</td></tr>' in page


def test_backers_only_updates_show_to_backers_and_no_one_else(
    ctx, kept, member, make_user, make_campaign
):
    (bea, bea_id), (nob, _) = member("bea@example.com"), member("nob@example.com")
    pending, pending_id = member("pending@example.com")
    campaign_id = make_campaign()
    _pledge(ctx, campaign_id, bea_id)
    # A pledge still waiting for its card does not count: not a backer yet.
    _pledge(ctx, campaign_id, pending_id, state=PledgeState.PENDING_CARD)
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        services.post_update(campaign_id, campaign.design.designer, "For backers", "Hi.", True)
        db.session.commit()
    # Each in turn renders the shared part first, then gets the one kept.
    for client, sees in ((bea, True), (nob, False), (pending, False), (bea, True), (nob, False)):
        assert ("For backers" in _page(client, campaign_id)) is sees


def test_a_members_own_pledges_and_form_are_theirs_alone(
    ctx, kept, member, make_user, make_campaign
):
    (bea, bea_id), (ben, ben_id) = member("bea@example.com"), member("ben@example.com")
    campaign_id = make_campaign()
    # Both backers, so the same shared part: only what is read per request tells them apart.
    _pledge(ctx, campaign_id, bea_id, 2, variant=0)
    _pledge(ctx, campaign_id, ben_id, 3, variant=1)
    first, second = _page(bea, campaign_id), _page(bea, campaign_id)
    theirs = _page(ben, campaign_id)
    assert "2 × S" in first and "3 × M" not in first
    assert "3 × M" in theirs and "2 × S" not in theirs
    # Every form carries this request's CSRF token (the reader's session's), and the pledge
    # form a new idempotency key each time.
    tokens = [
        set(re.findall(r'name="csrf_token" type="hidden" value="([^"]+)"', p))
        for p in (first, second, theirs)
    ]
    assert all(len(found) == 1 for found in tokens) and tokens[1].isdisjoint(tokens[2])
    keys = [
        re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', p)[1]
        for p in (first, second, theirs)
    ]
    assert len(set(keys)) == 3


def test_a_designers_new_bio_shows_at_once(ctx, kept, member, make_user, make_campaign):
    nob, _ = member("nob@example.com")
    designer = make_user("dee@example.com", designer=True, name="Dee")
    campaign_id = make_campaign(designer_id=designer)
    with ctx():  # the designer is introduced beside the story
        db.session.get(Campaign, campaign_id).story = "A story told at some length."
        db.session.commit()
    page = _page(nob, campaign_id)
    assert "About the designer" in page and 'data-testid="designer-bio"' not in page
    with ctx():
        db.session.get(User, designer).bio = "Screen prints from Lyon."
        db.session.commit()
    assert "Screen prints from Lyon." in _page(nob, campaign_id)
