"""The badges, each at its rule's edges: scout (a score of 4 or 5 within 48 hours of a design
opening for scoring, on a design then selected), early backer (among the first 10 %, rounded
up, of the backers of a funded campaign), reviewer (a review everyone can read) and
redesigner (a redesign that passed the quality check)."""

import datetime as dt
import secrets

import pytest
import sqlalchemy as sa

from designs.models import Design, DesignState, Vote
from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.extensions import db
from marketplace.production.models import Order
from marketplace.recognition import badges
from marketplace.reviews.models import Rating
from tests.helpers import made_campaign, pledge_row

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)


def _scored(ctx, make_user, make_design, state, score, after, changed_after=None):
    """A design in ``state`` that ``fan`` scored ``score`` at ``after`` past its opening (and
    last changed at ``changed_after``, if given). Returns (fan id, design id)."""
    fan = make_user("fan@example.com", name="Fan")
    design_id = make_design(state=state, votes=((fan, score, False),))
    with ctx():
        design = db.session.get(Design, design_id)
        vote = db.session.scalar(sa.select(Vote).where(Vote.design_id == design_id))
        vote.created_at = design.voting_opens_at + after
        vote.updated_at = design.voting_opens_at + (changed_after or after)
        db.session.commit()
    return fan, design_id


@pytest.mark.parametrize(
    ("after", "score", "state", "earned"),
    [
        (47 * H + 59 * M, 4, DesignState.SELECTED, True),
        (48 * H + 1 * M, 4, DesignState.SELECTED, False),
        (48 * H, 4, DesignState.SELECTED, True),
        (47 * H + 59 * M, 3, DesignState.SELECTED, False),
        (1 * M, 3, DesignState.CAMPAIGN, False),
        (1 * M, 5, DesignState.CAMPAIGN, True),
        (1 * M, 5, DesignState.SHORTLISTED, False),
        (1 * M, 5, DesignState.NOT_SELECTED, False),
        (1 * M, 5, DesignState.SCORED, False),
        (1 * M, 5, DesignState.VOTING, False),
    ],
)
def test_scout(ctx, make_user, make_design, after, score, state, earned):
    fan, design_id = _scored(ctx, make_user, make_design, state, score, after)
    with ctx():
        assert [d.id for d in badges.scout(fan)] == ([design_id] if earned else [])


def test_a_score_raised_after_48_hours_is_not_scouting(ctx, make_user, make_design):
    # Cast early, changed to a 5 on day 5: the score that stands was given late.
    fan, _ = _scored(ctx, make_user, make_design, DesignState.SELECTED, 5, H, 5 * 24 * H)
    with ctx():
        assert badges.scout(fan) == []


def test_only_the_scorer_is_the_scout(ctx, make_user, make_design):
    _fan, _design = _scored(ctx, make_user, make_design, DesignState.SELECTED, 5, H)
    someone = make_user("someone@example.com")
    with ctx():
        assert badges.scout(someone) == []


@pytest.mark.parametrize(
    ("backers", "places"), [(1, 1), (9, 1), (10, 1), (11, 2), (19, 2), (20, 2), (21, 3)]
)
def test_early_places_round_up_with_at_least_one(backers, places):
    assert badges.early_places(backers) == places


def _backed(ctx, make_user, make_campaign, state, backers, pledge_state=PledgeState.COLLECTED):
    """A campaign in ``state`` with ``backers`` backers who pledged an hour apart, in order.
    Returns (campaign id, backer ids in pledge order)."""
    campaign_id = make_campaign(state=state, goal=1)
    people = [make_user(f"b{i}@example.com") for i in range(backers)]
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        start = campaign.starts_at
        for i, person in enumerate(people):
            pledge = pledge_row(
                campaign,
                campaign.variants[0],
                person,
                1,
                state=pledge_state,
                idempotency_key=secrets.token_urlsafe(24),
            )
            pledge.created_at = start + i * H
            db.session.add(pledge)
        db.session.commit()
    return campaign_id, people


def _early(ctx, people) -> list[int]:
    """Positions (1-based) of those who hold the badge."""
    with ctx():
        return [i + 1 for i, person in enumerate(people) if badges.early_backer(person)]


@pytest.mark.parametrize(
    ("backers", "state", "early"),
    [
        (1, CampaignState.FUNDED, [1]),
        (9, CampaignState.SETTLED, [1]),
        (10, CampaignState.SETTLED, [1]),
        (11, CampaignState.SETTLED, [1, 2]),
        (20, CampaignState.DELIVERED, [1, 2]),
        (10, CampaignState.FAILED, []),
        (10, CampaignState.LIVE, []),
        (11, CampaignState.CANCELLED, []),
    ],
)
def test_early_backer(ctx, make_user, make_campaign, backers, state, early):
    pledge_state = PledgeState.COLLECTED
    if state in (CampaignState.FUNDED, CampaignState.LIVE):
        pledge_state = PledgeState.ACTIVE
    elif state in (CampaignState.FAILED, CampaignState.CANCELLED):
        pledge_state = (
            PledgeState.CANCELLED if state == CampaignState.FAILED else PledgeState.REFUNDED
        )
    _campaign, people = _backed(ctx, make_user, make_campaign, state, backers, pledge_state)
    assert _early(ctx, people) == early


def test_a_failed_campaign_earns_nothing_even_with_counted_pledges(ctx, make_user, make_campaign):
    _campaign, people = _backed(
        ctx, make_user, make_campaign, CampaignState.FAILED, 3, PledgeState.ACTIVE
    )
    assert _early(ctx, people) == []


def test_a_dropped_pledge_leaves_the_ranking_and_the_count(ctx, make_user, make_campaign):
    _campaign, people = _backed(ctx, make_user, make_campaign, CampaignState.SETTLED, 11)
    assert _early(ctx, people) == [1, 2]
    with ctx():
        dropped = db.session.scalar(sa.select(Pledge).where(Pledge.backer_id == people[0]))
        dropped.state = PledgeState.DROPPED
        db.session.commit()
    # 10 backers left: one early place, which the second to pledge now holds.
    assert _early(ctx, people) == [2]


def test_a_backer_with_two_pledges_counts_once_from_their_first(ctx, make_user, make_campaign):
    campaign_id, people = _backed(ctx, make_user, make_campaign, CampaignState.SETTLED, 11)
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        # The 11th backer adds a pledge before everyone: they are first now, and still one of
        # 11 backers (two places).
        again = pledge_row(
            campaign,
            campaign.variants[0],
            people[10],
            1,
            state=PledgeState.COLLECTED,
            idempotency_key=secrets.token_urlsafe(24),
        )
        again.created_at = campaign.starts_at - H
        db.session.add(again)
        db.session.commit()
        assert (
            db.session.scalar(
                sa.select(sa.func.count(sa.distinct(Pledge.backer_id))).where(
                    Pledge.campaign_id == campaign_id
                )
            )
            == 11
        )
    assert _early(ctx, people) == [1, 11]


def _rated(ctx, make_user, make_campaign, review: str, hidden: bool):
    """A delivered campaign whose backer rated their order 4 with ``review``. Returns (backer
    id, campaign id)."""
    backer = make_user("rater@example.com")
    operator = make_user("ops@example.com", operator=True)
    campaign_id = make_campaign(state=CampaignState.DELIVERED)
    made_campaign(ctx, campaign_id, [backer], operator, royalty_cents=100)
    with ctx():
        order = db.session.scalar(sa.select(Order))
        campaign = db.session.get(Campaign, campaign_id)
        db.session.add(
            Rating(
                order_id=order.id,
                user_id=backer,
                campaign_id=campaign_id,
                design_id=campaign.design_id,
                score=4,
                review=review,
                hidden=hidden,
            )
        )
        db.session.commit()
    return backer, campaign_id


@pytest.mark.parametrize(
    ("review", "hidden", "earned"),
    [
        ("Soft cotton, the print held after ten washes.", False, True),
        ("Soft cotton, the print held after ten washes.", True, False),
        ("", False, False),
        ("   ", False, False),
    ],
)
def test_reviewer(ctx, make_user, make_campaign, review, hidden, earned):
    backer, campaign_id = _rated(ctx, make_user, make_campaign, review, hidden)
    someone = make_user("someone@example.com")
    with ctx():
        assert [c.id for c in badges.reviewer(backer)] == ([campaign_id] if earned else [])
        assert badges.reviewer(someone) == []


@pytest.mark.parametrize(
    ("state", "is_redesign", "earned"),
    [
        (DesignState.VOTING, True, True),
        (DesignState.NOT_SELECTED, True, True),
        (DesignState.CAMPAIGN, True, True),
        (DesignState.SUBMITTED, True, False),
        (DesignState.DECLINED, True, False),
        (DesignState.DRAFT, True, False),
        (DesignState.VOTING, False, False),
    ],
)
def test_redesigner(ctx, make_user, make_design, make_campaign, state, is_redesign, earned):
    original = make_design(state=DesignState.CAMPAIGN, title="The original")
    redesigner = make_user("redo@example.com", designer=True)
    design_id = make_design(redesigner, state=state, title="The redesign")
    if is_redesign:
        with ctx():
            design = db.session.get(Design, design_id)
            design.redesign_of_id = original
            design.what_changed = "A thicker line, a brighter ink."
            db.session.commit()
    with ctx():
        assert [d.id for d in badges.redesigner(redesigner)] == ([design_id] if earned else [])
