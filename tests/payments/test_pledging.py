"""Pledging with a saved card, against a real localstripe: what activates a pledge, what never
does, and that pledging never charges anyone."""

import re
import secrets

import pytest
import sqlalchemy as sa

from marketplace.campaigns.models import CampaignState, CampaignVariant, Pledge, PledgeState
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from payments import gateway
from payments.models import CardSetup, StripeCustomer
from tests.helpers import browser_confirms, csrf_token, variant_id


def start_pledge(client, campaign_id, variant, quantity=1, key=None):
    key = key or secrets.token_urlsafe(24)
    token = csrf_token(client, f"/campaigns/{campaign_id}")
    return client.post(
        f"/campaigns/{campaign_id}/pledge",
        data={
            "csrf_token": token,
            "variant_id": variant,
            "quantity": quantity,
            "idempotency_key": key,
        },
    )


def card_page(client, pledge_id):
    html = client.get(f"/pledges/{pledge_id}/card").get_data(as_text=True)
    secret = re.search(r'data-client-secret="([^"]+)"', html).group(1)
    return html, secret.split("_secret_")[0]


def confirm(client, pledge_id, setup_intent_id):
    token = csrf_token(client, "/pledges/")
    return client.post(
        f"/pledges/{pledge_id}/card", data={"csrf_token": token, "setup_intent_id": setup_intent_id}
    )


@pytest.fixture
def backer(make_user, auth):
    user_id = make_user("backer@example.com", name="Backer")
    auth.login("backer@example.com")
    return user_id


def only_pledge(ctx):
    with ctx():
        return db.session.scalar(sa.select(Pledge))


def test_pledge_saves_a_card_and_counts_without_charging(
    app, client, ctx, backer, make_campaign, stripe_server, run_jobs, mailbox
):
    campaign_id = make_campaign(goal=10, price=2500)
    medium = variant_id(ctx, campaign_id, "M")
    resp = start_pledge(client, campaign_id, medium, quantity=2)
    assert resp.status_code == 303
    pledge = only_pledge(ctx)
    assert (pledge.state, pledge.amount_cents, pledge.currency) == (
        PledgeState.PENDING_CARD,
        5000,
        "EUR",
    )
    assert resp.headers["Location"].endswith(f"/pledges/{pledge.id}/card")

    html, setup_intent_id = card_page(client, pledge.id)
    assert app.config["STRIPE_JS_URL"] in html  # Stripe.js from the configured origin
    assert browser_confirms(ctx, setup_intent_id) == "succeeded"
    resp = confirm(client, pledge.id, setup_intent_id)
    assert resp.status_code == 302

    with ctx():
        pledge = db.session.get(Pledge, pledge.id)
        assert pledge.state == PledgeState.ACTIVE
        assert pledge.payment_method_id.startswith("pm_")
        assert pledge.card_summary == "Visa •••• 4242"
        assert db.session.get(CampaignVariant, medium).reserved_units == 2
        customer = db.session.scalar(sa.select(StripeCustomer))
        assert gateway.retrieve_customer_email(customer.customer_id) == "backer@example.com"
        assert db.session.scalar(
            sa.select(OutboxMail.kind).where(OutboxMail.kind == "pledge_confirmed")
        )
        # Pledging never charges: Stripe holds no PaymentIntent at all.
        assert gateway.list_payment_intents() == []
    page = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert 'data-testid="pledged-units">2<' in page
    assert "20%" in page


def test_second_pledge_reuses_the_stripe_customer(
    client, ctx, backer, make_campaign, stripe_server
):
    campaign_id = make_campaign()
    small = variant_id(ctx, campaign_id, "S")
    for _ in range(2):
        start_pledge(client, campaign_id, small)
    with ctx():
        pledge_ids = db.session.scalars(sa.select(Pledge.id).order_by(Pledge.id)).all()
    for pledge_id in pledge_ids:
        card_page(client, pledge_id)
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeCustomer)) == 1
        assert len(gateway.client().v1.customers.list().data) == 1


def test_the_same_form_submitted_twice_makes_one_pledge(
    client, ctx, backer, make_campaign, stripe_server
):
    campaign_id = make_campaign()
    small = variant_id(ctx, campaign_id, "S")
    key = secrets.token_urlsafe(24)
    first = start_pledge(client, campaign_id, small, key=key)
    second = start_pledge(client, campaign_id, small, key=key)
    assert first.headers["Location"] == second.headers["Location"]
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Pledge)) == 1


def test_a_setup_intent_that_has_not_succeeded_never_activates(
    client, ctx, backer, make_campaign, stripe_server
):
    campaign_id = make_campaign()
    start_pledge(client, campaign_id, variant_id(ctx, campaign_id, "S"))
    pledge = only_pledge(ctx)
    _, setup_intent_id = card_page(client, pledge.id)
    # Not confirmed at all, then confirmed with a card that needs authentication.
    resp = confirm(client, pledge.id, setup_intent_id)
    assert resp.status_code == 422
    assert "Your card is not saved yet" in resp.get_data(as_text=True)
    assert browser_confirms(ctx, setup_intent_id, "needs_authentication") == "requires_action"
    assert confirm(client, pledge.id, setup_intent_id).status_code == 422
    assert only_pledge(ctx).state == PledgeState.PENDING_CARD


def test_a_declined_card_is_refused_at_setup(client, ctx, backer, make_campaign, stripe_server):
    campaign_id = make_campaign()
    start_pledge(client, campaign_id, variant_id(ctx, campaign_id, "S"))
    pledge = only_pledge(ctx)
    _, setup_intent_id = card_page(client, pledge.id)
    assert browser_confirms(ctx, setup_intent_id, "declined_at_setup").startswith("error")
    assert confirm(client, pledge.id, setup_intent_id).status_code == 422
    assert only_pledge(ctx).state == PledgeState.PENDING_CARD


def test_a_setup_intent_of_another_customer_never_activates(
    app, client, ctx, backer, make_user, make_campaign, stripe_server
):
    campaign_id = make_campaign()
    start_pledge(client, campaign_id, variant_id(ctx, campaign_id, "S"))
    pledge = only_pledge(ctx)
    card_page(client, pledge.id)  # the backer's own customer exists
    with ctx():
        # A SetupIntent made outside our flow, for somebody else, confirmed with a good card,
        # then slipped into this pledge's records.
        other = gateway.create_customer("other@example.com", 999)
        foreign = gateway.create_setup_intent(other, pledge.id)
        db.session.add(
            CardSetup(pledge_id=pledge.id, setup_intent_id=foreign.id, client_secret="x")
        )
        db.session.commit()
    assert browser_confirms(ctx, foreign.id) == "succeeded"
    resp = confirm(client, pledge.id, foreign.id)
    assert resp.status_code == 422
    assert "does not belong to your account" in resp.get_data(as_text=True)
    assert only_pledge(ctx).state == PledgeState.PENDING_CARD


def test_a_setup_intent_replayed_for_a_second_pledge_never_activates_it(
    client, ctx, backer, make_campaign, stripe_server
):
    campaign_id = make_campaign()
    small = variant_id(ctx, campaign_id, "S")
    start_pledge(client, campaign_id, small)
    start_pledge(client, campaign_id, small)
    with ctx():
        first_id, second_id = db.session.scalars(sa.select(Pledge.id).order_by(Pledge.id)).all()
    _, first_si = card_page(client, first_id)
    card_page(client, second_id)
    browser_confirms(ctx, first_si)
    assert confirm(client, first_id, first_si).status_code == 302
    replay = confirm(client, second_id, first_si)
    assert replay.status_code == 422
    assert "does not belong to this pledge" in replay.get_data(as_text=True)
    # And the same confirmation posted twice for its own pledge is harmless.
    assert confirm(client, first_id, first_si).status_code == 302
    with ctx():
        states = db.session.scalars(sa.select(Pledge.state).order_by(Pledge.id)).all()
        assert states == [PledgeState.ACTIVE, PledgeState.PENDING_CARD]
        assert (
            db.session.scalar(
                sa.select(CampaignVariant.reserved_units).where(CampaignVariant.id == small)
            )
            == 1
        )


def test_someone_elses_pledge_is_not_found(
    app, client, ctx, backer, make_user, make_campaign, stripe_server
):
    campaign_id = make_campaign()
    start_pledge(client, campaign_id, variant_id(ctx, campaign_id, "S"))
    pledge = only_pledge(ctx)
    make_user("nosy@example.com")
    other = app.test_client()
    token = csrf_token(other, "/account/login")
    other.post(
        "/account/login",
        data={
            "email": "nosy@example.com",
            "password": "correct horse battery",
            "csrf_token": token,
        },
    )
    assert other.get(f"/pledges/{pledge.id}/card").status_code == 404


@pytest.mark.parametrize(
    "state", [CampaignState.SCHEDULED, CampaignState.FUNDED, CampaignState.CANCELLED]
)
def test_no_pledge_on_a_campaign_that_is_not_live(client, ctx, backer, make_campaign, state):
    campaign_id = make_campaign(state=state)
    resp = start_pledge(client, campaign_id, variant_id(ctx, campaign_id, "S"))
    assert resp.status_code == 409
    assert "not taking pledges" in resp.get_data(as_text=True)
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Pledge)) == 0


def test_unverified_accounts_and_bad_quantities_are_refused(
    client, ctx, auth, make_user, make_campaign
):
    campaign_id = make_campaign()
    small = variant_id(ctx, campaign_id, "S")
    make_user("new@example.com", verified=False)
    auth.login("new@example.com")
    assert start_pledge(client, campaign_id, small).status_code == 403
    auth.logout()
    make_user("ok@example.com")
    auth.login("ok@example.com")
    assert start_pledge(client, campaign_id, small, quantity=0).status_code == 422
    assert start_pledge(client, campaign_id, small, quantity=11).status_code == 422
    assert start_pledge(client, campaign_id, 999999).status_code == 422
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Pledge)) == 0


def activate(client, ctx, campaign_id, label, quantity=1):
    start_pledge(client, campaign_id, variant_id(ctx, campaign_id, label), quantity=quantity)
    with ctx():
        pledge_id = db.session.scalar(sa.select(Pledge.id).order_by(Pledge.id.desc()))
    _, si = card_page(client, pledge_id)
    browser_confirms(ctx, si)
    assert confirm(client, pledge_id, si).status_code == 302
    return pledge_id


def change(client, pledge_id, variant, quantity):
    token = csrf_token(client, "/pledges/")
    return client.post(
        f"/pledges/{pledge_id}/change",
        data={"csrf_token": token, "variant_id": variant, "quantity": quantity},
    )


def test_changing_a_pledge_moves_its_units_and_amount(
    client, ctx, backer, make_campaign, stripe_server
):
    campaign_id = make_campaign(price=2000)
    pledge_id = activate(client, ctx, campaign_id, "S", quantity=2)
    large = variant_id(ctx, campaign_id, "L")  # limited to 5
    assert change(client, pledge_id, large, 3).status_code == 302
    with ctx():
        pledge = db.session.get(Pledge, pledge_id)
        assert (pledge.variant_id, pledge.quantity, pledge.amount_cents) == (large, 3, 6000)
        units = dict(
            db.session.execute(
                sa.select(CampaignVariant.label, CampaignVariant.reserved_units)
            ).all()
        )
        assert units == {"S": 0, "M": 0, "L": 3}
    # More than is left: refused, and nothing moves.
    resp = change(client, pledge_id, large, 6)
    assert resp.status_code == 409
    with ctx():
        units = dict(
            db.session.execute(
                sa.select(CampaignVariant.label, CampaignVariant.reserved_units)
            ).all()
        )
        assert units == {"S": 0, "M": 0, "L": 3}


def test_cancelling_a_pledge_releases_its_units(client, ctx, backer, make_campaign, stripe_server):
    campaign_id = make_campaign()
    pledge_id = activate(client, ctx, campaign_id, "L", quantity=2)
    token = csrf_token(client, "/pledges/")
    assert (
        client.post(f"/pledges/{pledge_id}/cancel", data={"csrf_token": token}).status_code == 302
    )
    with ctx():
        assert db.session.get(Pledge, pledge_id).state == PledgeState.CANCELLED
        assert (
            db.session.scalar(
                sa.select(CampaignVariant.reserved_units).where(CampaignVariant.label == "L")
            )
            == 0
        )
    page = client.get("/pledges/").get_data(as_text=True)
    assert "Cancelled: nothing was charged." in page


def test_a_limited_variant_refuses_the_pledge_that_would_oversell_it(
    client, ctx, backer, make_campaign, stripe_server
):
    campaign_id = make_campaign()
    activate(client, ctx, campaign_id, "L", quantity=4)
    resp = start_pledge(client, campaign_id, variant_id(ctx, campaign_id, "L"), quantity=2)
    assert resp.status_code == 409
    assert "Only 1 of L left." in resp.get_data(as_text=True)


def test_my_pledges_lists_every_pledge_with_what_happens_next(
    client, ctx, backer, make_campaign, stripe_server
):
    campaign_id = make_campaign()
    activate(client, ctx, campaign_id, "S")
    start_pledge(client, campaign_id, variant_id(ctx, campaign_id, "M"))
    page = client.get("/pledges/").get_data(as_text=True)
    assert "You will be charged €25.00" in page
    assert "add your card to complete the pledge" in page


def test_replacing_the_card_of_an_active_pledge_keeps_its_units(
    client, ctx, backer, make_campaign, stripe_server
):
    campaign_id = make_campaign()
    pledge_id = activate(client, ctx, campaign_id, "M", quantity=2)
    with ctx():
        old_method = db.session.get(Pledge, pledge_id).payment_method_id
    html, new_si = card_page(client, pledge_id)
    assert "Replace your card" in html
    assert browser_confirms(ctx, new_si) == "succeeded"
    assert confirm(client, pledge_id, new_si).status_code == 302
    with ctx():
        pledge = db.session.get(Pledge, pledge_id)
        assert pledge.state == PledgeState.ACTIVE
        assert pledge.payment_method_id != old_method
        assert (
            db.session.scalar(
                sa.select(CampaignVariant.reserved_units).where(CampaignVariant.label == "M")
            )
            == 2
        )
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CardSetup)) == 2
        assert gateway.list_payment_intents() == []
