"""Thanks, once per person and event: everyone who scored a design is told their score counted
when it is selected, every backer whose pledge was collected is told they made it happen when
the campaign is settled; a repeated event, or a job run twice, sends nothing more."""

import secrets

import pytest
import sqlalchemy as sa

from designs import services as designs
from designs.models import DesignState
from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, CampaignState, PledgeState
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from marketplace.recognition import jobs, services
from marketplace.recognition.models import SCORED, Thanks
from payments import charging
from tests.helpers import pledge_row


def _mails(ctx, kind: str) -> list[OutboxMail]:
    with ctx():
        return list(
            db.session.scalars(
                sa.select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id)
            )
        )


@pytest.fixture
def shortlisted(ctx, make_user, make_design):
    """A shortlisted design scored by five people (4, 5, 3, 2, 5), and an operator."""
    fans = [make_user(f"fan{i}@example.com", name=f"Fan {i}") for i in range(5)]
    scores = (4, 5, 3, 2, 5)
    design_id = make_design(
        state=DesignState.SHORTLISTED,
        title="Night owls",
        votes=tuple((fan, score, False) for fan, score in zip(fans, scores, strict=True)),
        rank_score=3.61,
    )
    return design_id, fans, make_user("ops@example.com", operator=True)


def _select(ctx, design_id: int, operator_id: int) -> None:
    with ctx():
        designs.select(design_id, db.session.get(User, operator_id))
        db.session.commit()


def test_everyone_who_scored_a_selected_design_is_thanked_once(ctx, run_jobs, shortlisted):
    design_id, fans, operator = shortlisted
    _select(ctx, design_id, operator)
    assert _mails(ctx, "thanks_scored") == []  # in a job, after the selection's commit
    assert run_jobs(("default",))["default"] == 1

    mails = _mails(ctx, "thanks_scored")
    with ctx():
        emails = {db.session.get(User, fan).email for fan in fans}
    assert {m.to_address for m in mails} == emails and len(mails) == 5
    body = mails[0].body_text
    assert mails[0].subject == "Your score counted: “Night owls” is selected"
    assert "5 people scored it." in body
    assert "Average score: 3.8 out of 5." in body
    assert "Rank score: 3.61." in body
    assert f"/designs/{design_id}" in body

    # The job again, the event again (as a sweep would see it), the job twice more.
    with ctx():
        jobs.thank_scorers(design_id)
        services.design_selected(db.session.get(designs.Design, design_id))
        db.session.commit()
    run_jobs(("default",))
    with ctx():
        assert jobs.sweep_thanks() == 0
    assert len(_mails(ctx, "thanks_scored")) == 5


def test_thanks_go_in_batches_and_a_job_that_died_halfway_resumes(ctx, monkeypatch, shortlisted):
    design_id, fans, operator = shortlisted
    _select(ctx, design_id, operator)
    with ctx():
        # A job that thanked the first two, committed, and was killed.
        assert services.thank_scorers(design_id, batch=2) == 2
        db.session.commit()
    assert len(_mails(ctx, "thanks_scored")) == 2
    monkeypatch.setattr(services, "BATCH", 2)
    with ctx():
        assert jobs.sweep_thanks() == 3  # found by the sweep, thanked two then one
    assert len(_mails(ctx, "thanks_scored")) == 5
    with ctx():
        rows = db.session.scalars(sa.select(Thanks.user_id).where(Thanks.event == SCORED))
        assert sorted(rows) == sorted(fans)


def test_the_database_refuses_a_second_thanks_for_the_same_event(ctx, shortlisted):
    design_id, fans, _operator = shortlisted
    with ctx():
        db.session.add(Thanks(user_id=fans[0], event=SCORED, subject_id=design_id))
        db.session.commit()
        db.session.add(Thanks(user_id=fans[0], event=SCORED, subject_id=design_id))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_a_design_not_selected_thanks_nobody(ctx, make_user, make_design):
    fan = make_user("fan@example.com")
    design_id = make_design(state=DesignState.SHORTLISTED, votes=((fan, 5, False),))
    with ctx():
        assert jobs.thank_scorers(design_id) == 0
    assert _mails(ctx, "thanks_scored") == []


@pytest.fixture
def settling(ctx, make_user, make_campaign):
    """A campaign for 10 units in settlement, its charges all done: ada paid 2 units and then
    3 more, ben 4, cy 1; dan's card failed and his pledge was dropped."""
    campaign_id = make_campaign(state=CampaignState.SETTLING, goal=10)
    people = {n: make_user(f"{n}@example.com", name=n.title()) for n in ("ada", "ben", "cy", "dan")}
    pledges = [("ada", 2), ("ada", 3), ("ben", 4), ("cy", 1), ("dan", 2)]
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        for name, units in pledges:
            state = PledgeState.DROPPED if name == "dan" else PledgeState.COLLECTED
            db.session.add(
                pledge_row(
                    campaign,
                    campaign.variants[0],
                    people[name],
                    units,
                    state=state,
                    idempotency_key=secrets.token_urlsafe(24),
                )
            )
        db.session.commit()
    return campaign_id, people


def test_every_paying_backer_is_thanked_once_when_the_campaign_is_settled(ctx, run_jobs, settling):
    campaign_id, people = settling
    with ctx():
        assert charging.finish_if_done(campaign_id)
        db.session.commit()
    run_jobs(("default",))

    mails = _mails(ctx, "thanks_backed")
    assert sorted(m.to_address for m in mails) == [
        "ada@example.com",
        "ben@example.com",
        "cy@example.com",
    ]
    body = mails[0].body_text
    assert mails[0].subject == "You made Test tee happen"
    assert "Backers: 3" in body
    assert "Units paid for: 10" in body
    assert "Share of the goal reached: 100%" in body
    assert f"/campaigns/{campaign_id}" in body

    # Settled again (a second charge job asking), the job twice, the sweep: nothing more.
    with ctx():
        assert not charging.finish_if_done(campaign_id)
        services.campaign_settled(db.session.get(Campaign, campaign_id))
        db.session.commit()
    run_jobs(("default",))
    with ctx():
        assert jobs.thank_backers(campaign_id) == 0
        assert jobs.sweep_thanks() == 0
    assert len(_mails(ctx, "thanks_backed")) == 3


def test_backers_are_not_thanked_before_the_campaign_is_settled(ctx, settling):
    campaign_id, _people = settling
    with ctx():
        assert jobs.thank_backers(campaign_id) == 0
    assert _mails(ctx, "thanks_backed") == []


def test_thanks_are_written_in_the_recipients_language(ctx, run_jobs, settling):
    campaign_id, people = settling
    with ctx():
        db.session.get(User, people["ben"]).locale = "fr"
        charging.finish_if_done(campaign_id)
        db.session.commit()
    run_jobs(("default",))
    (mail,) = [m for m in _mails(ctx, "thanks_backed") if m.to_address == "ben@example.com"]
    assert mail.subject == "Grâce à vous, Test tee va exister"
    assert "Unités payées\u00a0: 10" in mail.body_text
