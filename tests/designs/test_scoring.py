"""Quality check, scoring, closing, ranking and selection, through the pages and the jobs."""

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from designs import jobs, services
from designs.models import Design, DesignState, Vote
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent, OutboxMail
from marketplace.kernel.queues import get_queue
from tests.helpers import post


@pytest.fixture
def operator(make_user):
    return make_user("staff@example.com", operator=True, name="Staff")


def as_operator(auth):
    auth.login("staff@example.com")


def test_operator_approves_a_submitted_design_and_scoring_opens_for_seven_days(
    app, client, auth, ctx, operator, make_design
):
    design_id = make_design(state=DesignState.SUBMITTED, title="Waves")
    as_operator(auth)
    page = client.get("/operator/designs/review").get_data(as_text=True)
    assert "Waves" in page
    before = utcnow()
    resp = post(client, f"/operator/designs/{design_id}/approve", "/operator/designs/review")
    assert resp.status_code == 302
    with ctx():
        design = db.session.get(Design, design_id)
        assert design.state == DesignState.VOTING
        assert design.voting_closes_at - design.voting_opens_at == dt.timedelta(days=7)
        assert design.voting_opens_at >= before
        mail = db.session.scalar(sa.select(OutboxMail).where(OutboxMail.kind == "design_update"))
        assert "open for scoring" in mail.subject
        # The close is scheduled with RQ for the window's end.
        scheduled = get_queue("default").scheduled_job_registry
        job_ids = scheduled.get_job_ids()
        assert len(job_ids) == 1
        job = get_queue("default").fetch_job(job_ids[0])
        assert job.func_name == "designs.jobs.close_voting" and job.args == (design_id,)
        when = scheduled.get_scheduled_time(job)
        assert abs((when - design.voting_closes_at).total_seconds()) < 1


def test_decline_needs_a_listed_reason_and_shows_it_to_the_designer(
    app, client, auth, ctx, operator, make_user, make_design
):
    designer = make_user("artist@example.com", designer=True)
    design_id = make_design(designer, state=DesignState.SUBMITTED, title="Logo copy")
    as_operator(auth)
    bad = post(
        client,
        f"/operator/designs/{design_id}/decline",
        "/operator/designs/review",
        reason="because",
    )
    assert bad.status_code == 422
    resp = post(
        client,
        f"/operator/designs/{design_id}/decline",
        "/operator/designs/review",
        reason="ip_concern",
        message="The swoosh belongs to someone else.",
    )
    assert resp.status_code == 302
    auth.logout()
    auth.login("artist@example.com")
    dashboard = client.get("/designs/mine").get_data(as_text=True)
    assert "IP concern" in dashboard and "The swoosh belongs to someone else." in dashboard
    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert "Declined:" in page and "The swoosh belongs to someone else." in page
    with ctx():
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "design.decline")
        )
        assert event.actor_id == operator and "swoosh" in event.reason
    # Declined designs are not public.
    assert app.test_client().get(f"/designs/{design_id}").status_code == 404


def test_approving_twice_is_a_conflict_not_a_second_window(
    client, auth, ctx, operator, make_design
):
    design_id = make_design(state=DesignState.SUBMITTED)
    as_operator(auth)
    post(client, f"/operator/designs/{design_id}/approve", "/operator/designs/review")
    again = post(client, f"/operator/designs/{design_id}/approve", "/operator/designs/review")
    assert again.status_code == 409


@pytest.mark.parametrize(
    "path",
    [
        "/operator/designs/review",
        "/operator/designs/shortlist",
        "/operator/designs/comments",
        "/operator/designs/products",
    ],
)
def test_operator_pages_refuse_members(client, auth, make_user, path):
    make_user("member@example.com")
    auth.login("member@example.com")
    assert client.get(path).status_code == 403


def test_operator_actions_refuse_members(client, auth, ctx, make_user, make_design):
    design_id = make_design(state=DesignState.SUBMITTED)
    make_user("member@example.com")
    auth.login("member@example.com")
    resp = post(client, f"/operator/designs/{design_id}/approve", "/account/")
    assert resp.status_code == 403
    with ctx():
        assert db.session.get(Design, design_id).state == DesignState.SUBMITTED


def vote(client, design_id, score, would_buy=False, variant_id=None):
    data = {"score": score}
    if would_buy:
        data["would_buy"] = "y"
    if variant_id:
        data["variant_id"] = variant_id
    return post(client, f"/designs/{design_id}/vote", f"/designs/{design_id}", **data)


def test_scores_are_hidden_until_you_have_voted_and_votes_can_change(
    app, client, auth, ctx, make_user, make_design
):
    voters = [make_user(f"v{i}@example.com") for i in range(3)]
    design_id = make_design(votes=((voters[0], 5, True), (voters[1], 1, False)))
    make_user("me@example.com")
    auth.login("me@example.com")
    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert "stays hidden until you have scored" in page
    assert "average of" not in page

    with ctx():
        medium = next(v.id for v in db.session.get(Design, design_id).variants if v.label == "M")
    assert vote(client, design_id, 3, would_buy=True, variant_id=medium).status_code == 302
    page = client.get(f"/designs/{design_id}").get_data(as_text=True)
    assert "average of 3 votes" in page
    assert re.search(r"stat-value\">3\.0<", page)
    assert "67%" in page  # 2 of 3 would buy

    assert vote(client, design_id, 0).status_code == 302  # changed: no longer buying
    with ctx():
        design = db.session.get(Design, design_id)
        assert (design.vote_count, design.score_sum, design.buy_count) == (3, 6, 1)
        mine = db.session.scalar(
            sa.select(Vote).where(Vote.design_id == design_id, Vote.score == 0)
        )
        assert mine.would_buy is False and mine.variant_id is None
    # Anonymous visitors see no scores while voting is open.
    assert "average of" not in app.test_client().get(f"/designs/{design_id}").get_data(as_text=True)


def test_who_may_not_score(app, client, auth, ctx, make_user, make_design):
    designer = make_user("artist@example.com", designer=True)
    design_id = make_design(designer)
    anonymous = app.test_client().post(f"/designs/{design_id}/vote", data={"score": 4})
    assert anonymous.status_code in (302, 400)

    auth.login("artist@example.com")
    assert vote(client, design_id, 5).status_code == 403  # own design
    auth.logout()

    make_user("new@example.com", verified=False)
    auth.login("new@example.com")
    assert vote(client, design_id, 5).status_code == 403  # unverified
    auth.logout()

    make_user("voter@example.com")
    auth.login("voter@example.com")
    assert vote(client, design_id, 6).status_code == 422
    assert vote(client, design_id, 4, would_buy=True, variant_id=999999).status_code == 422
    other_id = make_design()
    with ctx():
        others_variant = db.session.get(Design, other_id).variants[0].id
    assert vote(client, design_id, 4, would_buy=True, variant_id=others_variant).status_code == 422
    # A design not published yet is not there for voters; one that does not exist neither.
    submitted_id = make_design(state=DesignState.SUBMITTED)
    assert vote(client, submitted_id, 4).status_code == 404
    assert vote(client, 999999, 4).status_code == 404
    auth.logout()
    # An operator sees it, but it is not open for scoring.
    make_user("op@example.com", operator=True)
    auth.login("op@example.com")
    assert vote(client, submitted_id, 4).status_code == 409
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Vote)) == 0


def test_no_score_after_the_window_closes(client, auth, ctx, make_user, make_design):
    design_id = make_design(closes_in=dt.timedelta(seconds=-1))
    make_user("late@example.com")
    auth.login("late@example.com")
    resp = vote(client, design_id, 4)
    assert resp.status_code == 409
    assert "Scoring for this design is closed." in resp.get_data(as_text=True)


def test_closing_shortlists_a_design_above_the_bar(app, ctx, make_user, make_design, monkeypatch):
    monkeypatch.setitem(app.config, "SHORTLIST_MIN_VOTES", 3)
    voters = [make_user(f"v{i}@example.com") for i in range(4)]
    design_id = make_design(
        votes=tuple((v, 5, True) for v in voters), closes_in=dt.timedelta(seconds=-1)
    )
    with ctx():
        assert jobs.close_voting(design_id) is True
        assert jobs.close_voting(design_id) is False  # a second run changes nothing
        design = db.session.get(Design, design_id)
        assert design.state == DesignState.SHORTLISTED
        prior = 5.0  # the only votes anywhere
        assert design.bayes_score == pytest.approx(5.0)
        assert design.rank_score == pytest.approx(
            0.7 * prior / 5 + 0.3 * services.ranking.wilson_lower_bound(4, 4)
        )
        actions = db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.subject_type == "design")
            .order_by(AuditEvent.id)
        ).all()
        assert actions == ["design.close_voting", "design.shortlist"]


def test_closing_explains_why_a_design_is_not_selected(
    app, client, ctx, make_user, make_design, monkeypatch
):
    monkeypatch.setitem(app.config, "SHORTLIST_MIN_VOTES", 3)
    voters = [make_user(f"v{i}@example.com") for i in range(4)]
    good = make_design(
        votes=tuple((v, 5, True) for v in voters), closes_in=dt.timedelta(seconds=-1)
    )
    few = make_design(
        votes=((voters[0], 5, True),), closes_in=dt.timedelta(seconds=-1), title="Lonely"
    )
    weak = make_design(
        votes=tuple((v, 0, False) for v in voters), closes_in=dt.timedelta(seconds=-1)
    )
    with ctx():
        assert jobs.close_due_windows() == 3
        states = {d.id: d for d in db.session.scalars(sa.select(Design))}
        assert states[good].state == DesignState.SHORTLISTED
        assert states[few].state == DesignState.NOT_SELECTED
        assert states[few].decision_reason == "too_few_votes"
        assert states[weak].state == DesignState.NOT_SELECTED
        assert states[weak].decision_reason == "below_bar"
    page = client.get(f"/designs/{few}").get_data(as_text=True)
    assert "Too few votes to judge" in page and "1 vote; the shortlist needs 3." in page
    assert "average of 1 vote" in page  # closed: scores are public
    page = client.get(f"/designs/{weak}").get_data(as_text=True)
    bar = app.config["SHORTLIST_MIN_RANK"]
    assert "Score below the shortlist bar" in page
    assert f"; the shortlist bar is {bar:.2f}." in page


def test_a_window_not_yet_due_is_not_closed(ctx, make_design):
    design_id = make_design()
    with ctx():
        assert jobs.close_voting(design_id) is False
        assert jobs.close_due_windows() == 0
        assert db.session.get(Design, design_id).state == DesignState.VOTING


def test_one_perfect_vote_does_not_outrank_many_good_ones(
    app, ctx, make_user, make_design, monkeypatch
):
    monkeypatch.setitem(app.config, "SHORTLIST_MIN_VOTES", 1)
    voters = [make_user(f"v{i}@example.com") for i in range(30)]
    lucky = make_design(votes=((voters[0], 5, True),), closes_in=dt.timedelta(seconds=-1))
    solid = make_design(
        votes=tuple((v, 5 if i % 3 else 4, i % 2 == 0) for i, v in enumerate(voters)),
        closes_in=dt.timedelta(seconds=-1),
    )
    mediocre = make_design(
        votes=tuple((v, 2, False) for v in voters[:20]), closes_in=dt.timedelta(seconds=-1)
    )
    with ctx():
        jobs.close_due_windows()
        ranked = db.session.scalars(sa.select(Design.id).order_by(Design.rank_score.desc())).all()
    assert ranked == [solid, lucky, mediocre]


def test_operator_selects_or_rejects_from_the_shortlist(
    client, auth, ctx, operator, make_user, make_design
):
    voters = [make_user(f"v{i}@example.com") for i in range(2)]
    first = make_design(
        state=DesignState.SHORTLISTED,
        rank_score=0.8,
        title="First pick",
        votes=((voters[0], 5, True),),
    )
    second = make_design(state=DesignState.SHORTLISTED, rank_score=0.7, title="Second pick")
    with ctx():
        size_m = next(v.id for v in db.session.get(Design, first).variants if v.label == "M")
        vote_row = db.session.scalar(sa.select(Vote).where(Vote.design_id == first))
        vote_row.variant_id = size_m
        db.session.commit()
    as_operator(auth)
    page = client.get("/operator/designs/shortlist").get_data(as_text=True)
    assert page.index("First pick") < page.index("Second pick")
    assert "M: 1" in page
    # Select asks for a ticked box first: without it, nothing is selected and the page says so.
    unconfirmed = post(client, f"/operator/designs/{first}/select", "/operator/designs/shortlist")
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm the selection: it cannot be undone." in unconfirmed.text
    assert f'id="confirm-select-{first}" name="confirm" required' in unconfirmed.text
    with ctx():
        assert db.session.get(Design, first).state == DesignState.SHORTLISTED
    assert (
        post(
            client, f"/operator/designs/{first}/select", "/operator/designs/shortlist", confirm="y"
        ).status_code
        == 302
    )
    resp = post(
        client,
        f"/operator/designs/{second}/reject",
        "/operator/designs/shortlist",
        reason="production",
        message="Seven colours cost too much to screen-print.",
    )
    assert resp.status_code == 302
    with ctx():
        assert db.session.get(Design, first).state == DesignState.SELECTED
        assert db.session.get(Design, second).state == DesignState.NOT_SELECTED
    public = client.get(f"/designs/{second}").get_data(as_text=True)
    assert "Cannot be produced at a fair price" in public and "Seven colours" in public
    # Selecting something no longer on the shortlist is a conflict.
    gone = post(
        client, f"/operator/designs/{second}/select", "/operator/designs/shortlist", confirm="y"
    )
    assert gone.status_code == 409
    assert "This design is not selected, not shortlisted." in gone.text


def test_an_operator_closes_scoring_early_with_a_reason_recorded(
    app, client, auth, ctx, operator, make_user, make_design, monkeypatch
):
    monkeypatch.setitem(app.config, "SHORTLIST_MIN_VOTES", 3)
    voters = [make_user(f"v{i}@example.com") for i in range(4)]
    design_id = make_design(votes=tuple((v, 5, True) for v in voters), title="Early bird")
    as_operator(auth)
    review = "/operator/designs/review"
    assert "Close scoring of “Early bird” now" in client.get(review).text
    # No reason: the page comes back saying so, the window stays open.
    resp = post(client, f"/operator/designs/{design_id}/close-scoring", review, reason="soon")
    assert resp.status_code == 422
    assert "Give a reason of 10 to 500 characters." in resp.text and "soon</textarea>" in resp.text
    with ctx():
        assert db.session.get(Design, design_id).state == DesignState.VOTING

    why = "The call for autumn designs ended early."
    resp = post(client, f"/operator/designs/{design_id}/close-scoring", review, reason=why)
    assert resp.status_code == 302
    assert "the design passed the bar and is on the shortlist" in client.get(review).text
    with ctx():
        design = db.session.get(Design, design_id)
        assert design.state == DesignState.SHORTLISTED
        assert design.voting_closes_at <= utcnow()
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "design.close_voting")
        )
        assert event.actor_id == operator and event.reason == why and event.data["early"]
        # The scheduled close, when it comes, finds nothing to do.
        assert jobs.close_voting(design_id) is False
    assert f"Scoring closed</strong>: {why}" in client.get(f"/designs/{design_id}").text
    # Closed already: a conflict, said on the page.
    again = post(client, f"/operator/designs/{design_id}/close-scoring", review, reason=why)
    assert again.status_code == 409 and "This design is shortlisted, not open for scoring." in (
        again.text
    )
    auth.logout()
    auth.login("v0@example.com")
    assert (
        post(
            client, f"/operator/designs/{design_id}/close-scoring", "/account/", reason=why
        ).status_code
        == 403
    )


def test_a_design_short_of_votes_but_above_the_bar_is_said_and_can_be_shortlisted(
    app, client, auth, ctx, operator, make_user, make_design, monkeypatch
):
    monkeypatch.setitem(app.config, "SHORTLIST_MIN_VOTES", 3)
    monkeypatch.setitem(app.config, "SHORTLIST_MIN_RANK", 0.4)
    voter = make_user("v0@example.com")
    lonely = make_design(votes=((voter, 5, True),), title="Lonely star")
    weak = make_design(votes=((voter, 0, False),), title="Weak one")
    as_operator(auth)
    review, shortlist = "/operator/designs/review", "/operator/designs/shortlist"
    post(client, f"/operator/designs/{lonely}/close-scoring", review, reason="Rushing the call.")
    said = client.get(review).text
    assert "its score meets the bar, but it has 1 of the 3 votes the shortlist needs" in said
    post(client, f"/operator/designs/{weak}/close-scoring", review, reason="Rushing the call.")
    with ctx():
        assert db.session.get(Design, lonely).decision_reason == "too_few_votes"

    page = client.get(shortlist).text
    section = page[page.index("Met the bar, short of votes") :]
    assert "Lonely star" in section and "1 of the 3 votes needed" in section
    assert "Weak one" not in section
    resp = post(client, f"/operator/designs/{lonely}/shortlist-anyway", shortlist, reason="")
    assert resp.status_code == 422 and "Give a reason of 10 to 500 characters." in resp.text
    why = "One vote, but our team loves it."
    resp = post(client, f"/operator/designs/{lonely}/shortlist-anyway", shortlist, reason=why)
    assert resp.status_code == 302
    with ctx():
        design = db.session.get(Design, lonely)
        assert design.state == DesignState.SHORTLISTED and design.decision_reason is None
        event = db.session.scalar(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "design.shortlist", AuditEvent.subject_id == lonely)
            .order_by(AuditEvent.id.desc())
        )
        assert (event.from_state, event.actor_id, event.reason) == ("not_selected", operator, why)
    # A design below the bar is not shortlisted this way.
    resp = post(client, f"/operator/designs/{weak}/shortlist-anyway", shortlist, reason=why)
    assert resp.status_code == 409
    with ctx():
        assert db.session.get(Design, weak).state == DesignState.NOT_SELECTED


def test_flask_designs_close_scoring_needs_a_reason(app, ctx, make_user, make_design):
    voter = make_user("v0@example.com")
    design_id = make_design(votes=((voter, 4, True),))
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["designs", "close-scoring", str(design_id)])
    assert missing.exit_code != 0 and "--reason" in missing.output
    short = runner.invoke(args=["designs", "close-scoring", str(design_id), "--reason", "no"])
    assert short.exit_code != 0 and "Give a reason of 10 to 500 characters." in short.output
    result = runner.invoke(
        args=["designs", "close-scoring", str(design_id), "--reason", "Closed from the shell."]
    )
    assert result.exit_code == 0, result.output
    assert f"design {design_id}: not_selected (too_few_votes)" in result.output
    with ctx():
        assert db.session.get(Design, design_id).state == DesignState.NOT_SELECTED
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "design.close_voting")
        )
        assert event.actor_id is None and event.reason == "Closed from the shell."
    again = runner.invoke(
        args=["designs", "close-scoring", str(design_id), "--reason", "Closed from the shell."]
    )
    assert again.exit_code != 0
