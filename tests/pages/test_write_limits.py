"""Writes a script could repeat are limited per client address: comments, reports, campaign
updates, pledges and sign-ups. Past the limit the answer is a 429 and nothing is written."""

import secrets

import sqlalchemy as sa

from designs.models import Comment, CommentReport
from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, CampaignUpdate, Pledge
from marketplace.kernel.extensions import db
from tests.helpers import Auth, csrf_token


def count(ctx, model) -> int:
    with ctx():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_comments_are_limited_per_address(app, client, ctx, make_user, make_design, monkeypatch):
    monkeypatch.setitem(app.config, "COMMENT_LIMIT", "3 per minute")
    design_id = make_design()
    make_user("fan@example.com")
    Auth(client).login("fan@example.com")
    token = csrf_token(client, f"/designs/{design_id}")

    def comment(n):
        return client.post(
            f"/designs/{design_id}/comments", data={"csrf_token": token, "body": f"Nice {n}"}
        )

    assert [comment(n).status_code for n in range(3)] == [302, 302, 302]
    blocked = comment(3)
    assert blocked.status_code == 429
    assert "3 per 1 minute" in blocked.get_data(as_text=True)
    assert count(ctx, Comment) == 3
    # Another address is not held back by this one.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    Auth(other).login("fan@example.com")
    other_token = csrf_token(other, f"/designs/{design_id}")
    resp = other.post(
        f"/designs/{design_id}/comments", data={"csrf_token": other_token, "body": "Again"}
    )
    assert resp.status_code == 302


def test_reports_are_limited_per_address(app, client, ctx, make_user, make_design, monkeypatch):
    monkeypatch.setitem(app.config, "REPORT_LIMIT", "2 per hour")
    design_id = make_design()
    author = make_user("author@example.com")
    make_user("reporter@example.com")
    with ctx():
        rows = [Comment(design_id=design_id, author_id=author, body=f"c{n}") for n in range(3)]
        db.session.add_all(rows)
        db.session.commit()
        comment_ids = [c.id for c in rows]
    Auth(client).login("reporter@example.com")
    token = csrf_token(client, f"/designs/{design_id}")
    statuses = [
        client.post(f"/designs/comments/{cid}/report", data={"csrf_token": token}).status_code
        for cid in comment_ids
    ]
    assert statuses == [302, 302, 429]
    assert count(ctx, CommentReport) == 2


def test_campaign_updates_are_limited_per_address(
    app, client, ctx, make_user, make_campaign, monkeypatch
):
    monkeypatch.setitem(app.config, "UPDATE_LIMIT", "1 per hour")
    designer = make_user("artist@example.com", designer=True)
    campaign_id = make_campaign(designer_id=designer)
    Auth(client).login("artist@example.com")
    token = csrf_token(client, f"/campaigns/{campaign_id}")

    def update(title):
        return client.post(
            f"/campaigns/{campaign_id}/updates",
            data={"csrf_token": token, "title": title, "body": "News from the workshop."},
        )

    assert update("Samples arrived").status_code == 302
    assert update("Samples again").status_code == 429
    assert count(ctx, CampaignUpdate) == 1


def test_pledges_are_limited_per_address(app, client, ctx, make_user, make_campaign, monkeypatch):
    monkeypatch.setitem(app.config, "PLEDGE_LIMIT", "2 per hour")
    campaign_id = make_campaign()
    with ctx():
        variant_id = db.session.get(Campaign, campaign_id).variants[0].id
    make_user("fan@example.com")
    Auth(client).login("fan@example.com")
    token = csrf_token(client, f"/campaigns/{campaign_id}")
    statuses = [
        client.post(
            f"/campaigns/{campaign_id}/pledge",
            data={
                "csrf_token": token,
                "variant_id": variant_id,
                "quantity": 1,
                "idempotency_key": secrets.token_urlsafe(24),
            },
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [303, 303, 429]
    assert count(ctx, Pledge) == 2


def test_sign_ups_are_limited_per_address(app, client, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTER_LIMIT", "2 per hour")
    statuses = []
    for n in range(3):
        fresh = app.test_client()  # a new visitor each time, from the same address
        statuses.append(
            fresh.post(
                "/account/register",
                data={
                    "csrf_token": csrf_token(fresh, "/account/register"),
                    "email": f"new{n}@example.com",
                    "display_name": f"New {n}",
                    "password": "a long enough password",
                    "confirm": "a long enough password",
                },
            ).status_code
        )
    assert statuses == [302, 302, 429]
    assert count(ctx, User) == 2
