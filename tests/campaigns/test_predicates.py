"""The rules the model states once and every service, view and template asks: a campaign
taking pledges, a pledge that can still change, a pledge that counts."""

import datetime as dt
import itertools

import pytest
import sqlalchemy as sa

from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db

#: Written out rather than derived from the model's constants: the table is the spec.
CHANGEABLE = {
    (PledgeState.PENDING_CARD, CampaignState.LIVE),
    (PledgeState.ACTIVE, CampaignState.LIVE),
}
COUNTED = {
    PledgeState.ACTIVE,
    PledgeState.CHARGING,
    PledgeState.COLLECTED,
    PledgeState.ERRORED,
    PledgeState.ACTION_REQUIRED,
}
BEFORE, AFTER = dt.timedelta(hours=1), -dt.timedelta(seconds=1)


def _pledge(pledge_state: PledgeState, campaign_state: CampaignState, deadline_in: dt.timedelta):
    campaign = Campaign(state=campaign_state, deadline=utcnow() + deadline_in)
    return Pledge(state=pledge_state, campaign=campaign)


@pytest.mark.parametrize("campaign_state", list(CampaignState))
@pytest.mark.parametrize("deadline_in", [BEFORE, AFTER], ids=["before-deadline", "past-deadline"])
def test_a_campaign_takes_pledges_only_while_live_and_before_its_deadline(
    campaign_state, deadline_in
):
    campaign = Campaign(state=campaign_state, deadline=utcnow() + deadline_in)
    expected = campaign_state == CampaignState.LIVE and deadline_in == BEFORE
    assert campaign.is_open_for_pledges is expected


@pytest.mark.parametrize(
    ("pledge_state", "campaign_state"), list(itertools.product(PledgeState, CampaignState))
)
def test_a_pledge_can_change_until_charged_while_its_campaign_takes_pledges(
    pledge_state, campaign_state
):
    expected = (pledge_state, campaign_state) in CHANGEABLE
    assert _pledge(pledge_state, campaign_state, BEFORE).is_changeable is expected
    # The deadline passed but the close job has not run yet: the campaign is still live.
    assert _pledge(pledge_state, campaign_state, AFTER).is_changeable is False


@pytest.mark.parametrize("pledge_state", list(PledgeState))
def test_a_pledge_counts_once_its_card_is_saved_until_it_is_dropped_or_refunded(pledge_state):
    assert _pledge(pledge_state, CampaignState.LIVE, BEFORE).counts is (pledge_state in COUNTED)


def test_the_counted_rule_is_the_same_in_sql(ctx, make_user, make_campaign):
    campaign_id = make_campaign()
    backer_id = make_user("counted@example.com")
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        for i, state in enumerate(PledgeState):
            db.session.add(
                Pledge(
                    campaign_id=campaign_id,
                    backer_id=backer_id,
                    variant_id=campaign.variants[0].id,
                    quantity=1,
                    amount_cents=campaign.unit_price_cents,
                    currency=campaign.currency,
                    idempotency_key=f"predicate-key-{i:04d}-{state.value}",
                    state=state,
                )
            )
        db.session.flush()
        counted = db.session.scalars(
            sa.select(Pledge.state).where(Pledge.campaign_id == campaign_id, Pledge.counts)
        ).all()
        assert set(counted) == COUNTED
        db.session.rollback()
