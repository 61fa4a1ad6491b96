"""One backer cannot take a whole limited edition: an account holds at most
LIMITED_UNITS_PER_ACCOUNT units of a limited variant across all its pledges, however it
spreads them (new pledges, activations, changes); unlimited variants have no such cap."""

import secrets

import sqlalchemy as sa

from marketplace.accounts.models import User
from marketplace.campaigns import services
from marketplace.campaigns.models import Campaign, CampaignVariant, Pledge, PledgeState
from marketplace.kernel.extensions import db
from tests.helpers import Auth, csrf_token, pledge_row


def start_pledge(client, campaign_id, variant_id, quantity):
    return client.post(
        f"/campaigns/{campaign_id}/pledge",
        data={
            "csrf_token": csrf_token(client, f"/campaigns/{campaign_id}"),
            "variant_id": variant_id,
            "quantity": quantity,
            "idempotency_key": secrets.token_urlsafe(24),
        },
    )


def variants(ctx, campaign_id):
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        return {v.label: v.id for v in campaign.variants}


def held(ctx, variant_id) -> tuple[int, int]:
    """(units reserved on the variant, units of its active pledges)."""
    with ctx():
        counted = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Pledge.quantity), 0)).where(
                Pledge.variant_id == variant_id, Pledge.state == PledgeState.ACTIVE
            )
        )
        return db.session.get(CampaignVariant, variant_id).reserved_units, counted


def pending(ctx, campaign_id, backer, label, quantity):
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        variant = next(v for v in campaign.variants if v.label == label)
        row = pledge_row(
            campaign, variant, backer, quantity, idempotency_key=secrets.token_urlsafe(24)
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def activate(ctx, pledge_id, backer):
    with ctx():
        pledge = db.session.get(Pledge, pledge_id)
        try:
            services.activate_pledge(
                pledge, db.session.get(User, backer), "pm_card_visa", "Visa •••• 4242"
            )
        except services.CampaignError as exc:
            db.session.rollback()
            return exc
        db.session.commit()
        return None


def test_three_pledges_of_ten_cannot_take_a_limited_edition_of_thirty(
    ctx, make_user, make_campaign
):
    campaign_id = make_campaign(variants=(("Gold", 30), ("Plain", None)))
    gold = variants(ctx, campaign_id)["Gold"]
    hoarder = make_user("hoarder@example.com")
    first, second, third = (pending(ctx, campaign_id, hoarder, "Gold", q) for q in (10, 10, 10))

    assert activate(ctx, first, hoarder) is None
    refused = activate(ctx, second, hoarder)
    assert refused is not None and refused.status == 409
    assert "at most 10 units" in refused.message and "You hold 10 already" in refused.message
    assert activate(ctx, third, hoarder) is not None
    assert held(ctx, gold) == (10, 10)
    # Someone else still finds the other twenty.
    other = make_user("fan@example.com")
    assert activate(ctx, pending(ctx, campaign_id, other, "Gold", 10), other) is None
    assert held(ctx, gold) == (20, 20)


def test_a_new_pledge_past_the_share_is_refused_at_once(
    app, client, ctx, make_user, make_campaign, monkeypatch
):
    monkeypatch.setitem(app.config, "LIMITED_UNITS_PER_ACCOUNT", 3)
    campaign_id = make_campaign(variants=(("Gold", 30), ("Plain", None)))
    ids = variants(ctx, campaign_id)
    backer = make_user("fan@example.com")
    assert activate(ctx, pending(ctx, campaign_id, backer, "Gold", 2), backer) is None
    Auth(client).login("fan@example.com")

    refused = start_pledge(client, campaign_id, ids["Gold"], 2)
    assert refused.status_code == 409
    assert "one backer can hold at most 3 units" in refused.get_data(as_text=True)
    assert start_pledge(client, campaign_id, ids["Gold"], 1).status_code == 303
    # Unlimited variants are not capped.
    assert start_pledge(client, campaign_id, ids["Plain"], 10).status_code == 303
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Pledge)) == 3


def test_changing_a_pledge_cannot_move_past_the_share(
    app, client, ctx, make_user, make_campaign, monkeypatch
):
    monkeypatch.setitem(app.config, "LIMITED_UNITS_PER_ACCOUNT", 3)
    campaign_id = make_campaign(variants=(("Gold", 30), ("Plain", None)))
    ids = variants(ctx, campaign_id)
    backer = make_user("fan@example.com")
    assert activate(ctx, pending(ctx, campaign_id, backer, "Gold", 2), backer) is None
    plain = pending(ctx, campaign_id, backer, "Plain", 2)
    assert activate(ctx, plain, backer) is None
    Auth(client).login("fan@example.com")

    def change(pledge_id, variant_id, quantity):
        return client.post(
            f"/pledges/{pledge_id}/change",
            data={
                "csrf_token": csrf_token(client, "/pledges/"),
                "variant_id": variant_id,
                "quantity": quantity,
            },
        )

    refused = change(plain, ids["Gold"], 2)
    assert refused.status_code == 409
    assert held(ctx, ids["Gold"]) == (2, 2) and held(ctx, ids["Plain"]) == (2, 2)
    assert change(plain, ids["Gold"], 1).status_code == 302
    assert held(ctx, ids["Gold"]) == (3, 3) and held(ctx, ids["Plain"]) == (0, 0)
    # Its own units are not counted twice: the same pledge may change within the share.
    with ctx():
        gold_pledge = db.session.scalar(
            sa.select(Pledge.id).where(Pledge.variant_id == ids["Gold"], Pledge.quantity == 2)
        )
    assert change(gold_pledge, ids["Gold"], 1).status_code == 302
    assert held(ctx, ids["Gold"]) == (2, 2)
