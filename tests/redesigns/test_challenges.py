"""Redesign challenges: who may open one and when, what the original designer and the public
see, closing at the deadline, the selected redesign as outcome, and the suggestions."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from designs import services as designs
from designs.models import Design, DesignState
from marketplace.accounts.models import User
from marketplace.campaigns.models import CampaignState
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent, OutboxMail
from marketplace.redesigns import queries, services
from marketplace.redesigns.jobs import close_due_challenges
from marketplace.redesigns.models import ChallengeState, RedesignChallenge
from tests.helpers import login_as, post

BRIEF = "Buyers say the print fades after a few washes: keep the idea, make it last."


def open_form(produced, **overrides):
    prefix = f"design-{produced.design_id}-"
    deadline = (utcnow() + dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    data = {"brief": BRIEF, "deadline": deadline, "reviews": produced.rating_ids[:2]}
    data.update(overrides)
    return {prefix + key: value for key, value in data.items()}


def post_open(client, produced, **overrides):
    return post(
        client,
        f"/operator/redesigns/designs/{produced.design_id}/open",
        "/operator/redesigns/",
        **open_form(produced, **overrides),
    )


def challenges(ctx) -> list[RedesignChallenge]:
    with ctx():
        return db.session.scalars(sa.select(RedesignChallenge)).all()


# --- opening ----------------------------------------------------------------------------------


def test_an_operator_opens_a_challenge_and_the_designer_is_told_first(
    client, auth, ctx, make_produced
):
    produced = make_produced()
    with ctx():
        designer_email = db.session.get(User, produced.designer_id).email
        operator_email = db.session.get(User, produced.operator_id).email
    login_as(client, auth, operator_email)
    resp = post_open(client, produced)
    assert resp.status_code == 302
    [challenge] = challenges(ctx)
    assert resp.location.endswith(f"/redesigns/{challenge.id}")
    assert challenge.state == ChallengeState.OPEN

    with ctx():
        mails = db.session.scalars(
            sa.select(OutboxMail).where(OutboxMail.kind == "redesign_challenge")
        ).all()
        assert [m.to_address for m in mails] == [designer_email]
        assert BRIEF in mails[0].body_text
        assert f"/designs/new?redesign_of={produced.design_id}" in mails[0].body_text
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "redesign_challenge.opened")
        )
        assert event.actor_id == produced.operator_id and event.reason == BRIEF

    # The public page: the brief, the reviews it draws on, the deadline; no button for
    # visitors who are not designers.
    auth.logout()
    page = client.get(f"/redesigns/{challenge.id}").get_data(as_text=True)
    assert BRIEF in page and "the print faded after two washes" in page
    assert "Redesigns are accepted until" in page

    # The original's page links it, and its timeline says it opened.
    design_page = client.get(f"/designs/{produced.design_id}").get_data(as_text=True)
    assert f'href="/redesigns/{challenge.id}"' in design_page
    assert "Redesign challenge opened" in design_page

    # The designer sees it in "My designs", with the way to submit a redesign.
    login_as(client, auth, designer_email)
    mine = client.get("/designs/mine").get_data(as_text=True)
    assert f"/redesigns/{challenge.id}" in mine
    assert f"/designs/new?redesign_of={produced.design_id}" in mine
    page = client.get(f"/redesigns/{challenge.id}").get_data(as_text=True)
    assert f'href="/designs/new?redesign_of={produced.design_id}"' in page


@pytest.mark.parametrize(
    "state", [CampaignState.LIVE, CampaignState.FUNDED, CampaignState.SETTLED, None]
)
def test_a_design_whose_product_was_not_made_cannot_get_a_challenge(
    client, auth, ctx, make_user, make_design, make_produced, state
):
    if state is None:
        produced = make_produced()
        with ctx():
            produced.design_id = make_design(state=DesignState.SCORED)
    else:
        produced = make_produced(state=state)
    login_as(client, auth, make_email(ctx, produced.operator_id))
    resp = post_open(client, produced)
    assert resp.status_code == 409
    assert "Only a design whose product was made" in resp.get_data(as_text=True)
    assert challenges(ctx) == []


def make_email(ctx, user_id):
    with ctx():
        return db.session.get(User, user_id).email


def test_a_challenge_on_a_design_not_produced_is_refused_by_the_service(
    ctx, make_produced, make_design
):
    produced = make_produced(state=CampaignState.SETTLED)
    with ctx(), pytest.raises(services.ChallengeError) as refused:
        services.open_challenge(
            produced.design_id,
            db.session.get(User, produced.operator_id),
            BRIEF,
            utcnow() + dt.timedelta(days=5),
            produced.rating_ids[:1],
        )
    assert refused.value.status == 409


def test_a_second_challenge_cannot_open_while_one_is_open(
    client, auth, ctx, make_produced, open_challenge
):
    produced = make_produced()
    first = open_challenge(produced)
    login_as(client, auth, make_email(ctx, produced.operator_id))
    resp = post_open(client, produced)
    assert resp.status_code == 409
    assert "already open" in resp.get_data(as_text=True)
    assert [c.id for c in challenges(ctx)] == [first]

    # Once closed, a new one may open.
    with ctx():
        services.close_challenge(first, None)
        db.session.commit()
    assert post_open(client, produced).status_code == 302
    assert len(challenges(ctx)) == 2


def test_the_database_refuses_two_open_challenges_on_one_design(ctx, make_produced):
    produced = make_produced()
    with ctx():
        for _ in range(2):
            db.session.add(
                RedesignChallenge(
                    design_id=produced.design_id,
                    brief=BRIEF,
                    deadline=utcnow() + dt.timedelta(days=3),
                    opened_by_id=produced.operator_id,
                )
            )
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"brief": "Too short"}, "Give a brief"),
        ({"deadline": "2001-01-01T10:00"}, "The deadline is 1 to 90 days from now."),
        ({"reviews": []}, "Choose 1 to 10 reviews"),
        ({"reviews": ["foreign"]}, "Choose reviews of this design only."),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_opens_nothing(
    client, auth, ctx, make_produced, overrides, message
):
    produced = make_produced()
    if overrides.get("reviews") == ["foreign"]:
        other = make_produced(scores=(1,))
        overrides = {"reviews": [produced.rating_ids[0], other.rating_ids[0]]}
    login_as(client, auth, make_email(ctx, produced.operator_id))
    resp = post_open(client, produced, **overrides)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert challenges(ctx) == []
    with ctx():
        assert (
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMail)
                .where(OutboxMail.kind == "redesign_challenge")
            )
            == 0
        )


def test_members_cannot_open_or_close_challenges(client, auth, ctx, make_user, make_produced):
    produced = make_produced()
    make_user("someone@example.com")
    login_as(client, auth, "someone@example.com")
    assert post_open(client, produced).status_code == 403
    assert client.get("/operator/redesigns/").status_code == 403
    assert challenges(ctx) == []


# --- closing ----------------------------------------------------------------------------------


def test_the_cron_job_closes_challenges_past_their_deadline_once(
    client, ctx, make_produced, open_challenge
):
    due, later = make_produced(), make_produced()
    due_id, later_id = open_challenge(due), open_challenge(later, days=30)
    with ctx():
        db.session.get(RedesignChallenge, due_id).deadline = utcnow() - dt.timedelta(minutes=1)
        db.session.commit()
    with ctx():
        assert close_due_challenges() == 1
    with ctx():
        assert close_due_challenges() == 0
        assert db.session.get(RedesignChallenge, due_id).state == ChallengeState.CLOSED
        assert db.session.get(RedesignChallenge, later_id).state == ChallengeState.OPEN
        closes = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "redesign_challenge.close")
        ).all()
        assert [(e.subject_id, e.actor_id) for e in closes] == [(due_id, None)]
    page = client.get(f"/designs/{due.design_id}").get_data(as_text=True)
    assert "Redesign challenge closed" in page and "Closed at its deadline" in page
    # Closed: no more "Submit a redesign".
    challenge_page = client.get(f"/redesigns/{due_id}").get_data(as_text=True)
    assert "No redesign has been selected." in challenge_page
    assert "Submit a redesign" not in challenge_page


def test_an_operator_closes_a_challenge_early(client, auth, ctx, make_produced, open_challenge):
    produced = make_produced()
    challenge_id = open_challenge(produced)
    login_as(client, auth, make_email(ctx, produced.operator_id))
    console = client.get("/operator/redesigns/").get_data(as_text=True)
    assert f"/operator/redesigns/{challenge_id}/close" in console
    resp = post(client, f"/operator/redesigns/{challenge_id}/close", "/operator/redesigns/")
    assert resp.status_code == 302
    again = post(client, f"/operator/redesigns/{challenge_id}/close", "/operator/redesigns/")
    assert again.status_code == 409
    with ctx():
        challenge = db.session.get(RedesignChallenge, challenge_id)
        assert challenge.state == ChallengeState.CLOSED and challenge.closed_at is not None


# --- the outcome ------------------------------------------------------------------------------


def _redesign(ctx, produced, designer_id, state=DesignState.SHORTLISTED, *, created_at=None):
    """A redesign of the produced design, in ``state``, begun at ``created_at`` (now)."""
    from designs.models import DesignTag  # noqa: F401  (the model's relationships load)

    with ctx():
        original = db.session.get(Design, produced.design_id)
        redesign = Design(
            designer_id=designer_id,
            product_id=original.product_id,
            title="Lasting sunset",
            description="",
            state=state,
            artwork_key=original.artwork_key,
            artwork_width=original.artwork_width,
            artwork_height=original.artwork_height,
            artwork_format=original.artwork_format,
            redesign_of_id=original.id,
            what_changed="Screen printing instead of transfer, two colours fewer.",
            created_at=created_at or utcnow(),
            voting_opens_at=utcnow() - dt.timedelta(days=8),
            voting_closes_at=utcnow() - dt.timedelta(days=1),
        )
        db.session.add(redesign)
        db.session.commit()
        return redesign.id


def test_the_redesign_selected_is_the_challenges_outcome(
    client, ctx, make_produced, open_challenge
):
    produced = make_produced()
    challenge_id = open_challenge(produced)
    first = _redesign(ctx, produced, produced.designer_id)
    second = _redesign(ctx, produced, produced.designer_id)
    with ctx():
        services.close_challenge(challenge_id, None)
        db.session.commit()
    with ctx():
        operator = db.session.get(User, produced.operator_id)
        designs.select(second, operator)
        db.session.commit()
        designs.select(first, operator)  # selected later: the outcome stays the first chosen
        db.session.commit()
    with ctx():
        challenge = db.session.get(RedesignChallenge, challenge_id)
        assert challenge.state == ChallengeState.REDESIGNED
        assert challenge.outcome_design_id == second
    page = client.get(f"/designs/{produced.design_id}").get_data(as_text=True)
    assert "Redesign challenge: a redesign was selected" in page
    assert f'href="/designs/{second}"' in page
    challenge_page = client.get(f"/redesigns/{challenge_id}").get_data(as_text=True)
    assert "was selected for a campaign" in challenge_page


def test_a_redesign_begun_outside_a_challenge_is_not_its_outcome(
    ctx, make_produced, open_challenge
):
    produced = make_produced()
    before = _redesign(ctx, produced, produced.designer_id)
    challenge_id = open_challenge(produced)
    with ctx():
        designs.select(before, db.session.get(User, produced.operator_id))
        db.session.commit()
        challenge = db.session.get(RedesignChallenge, challenge_id)
        assert challenge.state == ChallengeState.OPEN and challenge.outcome_design_id is None


# --- suggestions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scores, settings, suggested",
    [
        ((2,) * 5 + (3,) * 4 + (4,), {}, True),  # 10 ratings, average 2.6
        ((3,) * 9 + (2,), {}, True),  # average 2.9: just under 3.0
        ((3,) * 10, {}, False),  # exactly 3.0 is not under it
        ((1,) * 9, {}, False),  # 9 ratings: one short
        ((1,) * 9, {"REDESIGN_MIN_RATINGS": 9}, True),
        ((3,) * 10, {"REDESIGN_BELOW": 3.01}, True),
        ((4,) * 9 + (3,), {"REDESIGN_BELOW": 3.9}, False),  # an average of 3.9 is not under 3.9
        ((4,) * 8 + (3, 2), {"REDESIGN_BELOW": 3.9}, True),  # 3.8
        ((4,) * 9 + (5,), {"REDESIGN_BELOW": 4.1}, False),  # 4.1 is not under 4.1
    ],
)
def test_the_suggestion_threshold_at_its_edges(
    app, client, auth, ctx, make_produced, scores, settings, suggested, monkeypatch
):
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    produced = make_produced(scores)
    with ctx():
        found = [s.design.id for s in queries.redesign_suggestions()]
        assert (produced.design_id in found) is suggested
        assert queries.redesign_suggestion_count() == int(suggested)
    login_as(client, auth, make_email(ctx, produced.operator_id))
    console = client.get("/operator/redesigns/").get_data(as_text=True)
    assert (f'id="suggestion-{produced.design_id}"' in console) is suggested


def test_the_threshold_at_exactly_the_bar_with_the_default_config(app):
    assert app.config["REDESIGN_BELOW"] == 3.0
    assert app.config["REDESIGN_MIN_RATINGS"] == 10


@pytest.mark.parametrize("state", [CampaignState.SETTLED, CampaignState.CANCELLED])
def test_designs_not_produced_are_not_suggested(ctx, make_produced, state):
    make_produced((1,) * 10, state=state)
    with ctx():
        assert queries.redesign_suggestions() == []


def test_a_design_with_an_open_challenge_is_not_suggested_and_the_console_counts(
    client, auth, ctx, make_produced, open_challenge
):
    low, other = make_produced((1,) * 10), make_produced((2,) * 10)
    login_as(client, auth, make_email(ctx, low.operator_id))
    front = client.get("/operator/").get_data(as_text=True)
    assert 'href="/operator/redesigns/"' in front
    with ctx():
        assert queries.redesign_suggestion_count() == 2
        assert [s.design.id for s in queries.redesign_suggestions()] == [
            low.design_id,
            other.design_id,
        ]
        [first] = [s for s in queries.redesign_suggestions() if s.design.id == low.design_id]
        assert (first.count, first.average) == (10, 1.0)
    console = client.get("/operator/redesigns/").get_data(as_text=True)
    assert "Average 1.00 of 10 ratings" in console
    open_challenge(low)
    with ctx():
        assert [s.design.id for s in queries.redesign_suggestions()] == [other.design_id]
        assert queries.redesign_suggestion_count() == 1
