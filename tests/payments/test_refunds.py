"""Refunds against localstripe: a collected pledge is refunded once, for what it paid; a whole
campaign's production can be cancelled with everyone refunded; only operators can."""

import pytest
import sqlalchemy as sa

from marketplace.campaigns.models import Campaign, CampaignState, Pledge, PledgeState
from marketplace.kernel.extensions import db
from marketplace.kernel.models import OutboxMail
from payments import gateway, jobs, refunds
from payments.models import ChargeAttempt, Refund, RefundStatus
from tests.helpers import add_pledges, close_and_settle, csrf_token


@pytest.fixture
def settled(ctx, make_user, make_campaign, stripe_server, run_jobs):
    """A settled campaign: (campaign id, pledge ids), two collected and one dropped-to-be."""
    campaign_id = make_campaign(goal=1, price=3000)
    backers = [make_user(f"paid{i}@example.com") for i in range(2)]
    pledge_ids = add_pledges(
        ctx, campaign_id, [(backers[0], "S", 1, "visa"), (backers[1], "M", 2, "visa")]
    )
    close_and_settle(ctx, run_jobs, campaign_id)
    with ctx():
        assert db.session.get(Campaign, campaign_id).state == CampaignState.SETTLED
    return campaign_id, pledge_ids


@pytest.fixture
def operator(make_user, auth):
    make_user("ops@example.com", operator=True)
    auth.login("ops@example.com")


def stripe_refunds(ctx, pledge_id):
    with ctx():
        pi_id = db.session.scalar(
            sa.select(ChargeAttempt.payment_intent_id).where(
                ChargeAttempt.pledge_id == pledge_id, ChargeAttempt.status == "succeeded"
            )
        )
        return gateway.client().v1.refunds.list(params={"payment_intent": pi_id}).data


def refund_form(client, campaign_id, pledge_id, reason="Misprinted batch, sorry"):
    token = csrf_token(client, f"/operator/settlements/{campaign_id}")
    return client.post(
        f"/operator/settlements/pledges/{pledge_id}/refund",
        data={"csrf_token": token, "reason": reason},
    )


def test_an_operator_refunds_a_collected_pledge_once(
    client, ctx, settled, operator, run_jobs, mailbox
):
    campaign_id, (first, second) = settled
    # Too short a reason: the settlement page again, the words kept on that pledge's form.
    short = refund_form(client, campaign_id, second, reason="Sorry")
    assert short.status_code == 422
    assert "Give the backer a reason of at least 10 characters." in short.text
    assert f'id="refund-{second}"' in short.text and "Sorry</textarea>" in short.text
    resp = refund_form(client, campaign_id, second)
    assert resp.status_code == 302
    again = refund_form(client, campaign_id, second)
    assert again.status_code == 409  # never twice
    assert "flash-error" in again.text  # said on top: the pledge has no refund form now
    run_jobs()
    with ctx():
        assert db.session.get(Pledge, second).state == PledgeState.REFUNDED
        assert db.session.get(Pledge, first).state == PledgeState.COLLECTED
        refund = db.session.scalar(sa.select(Refund).where(Refund.pledge_id == second))
        assert (refund.status, refund.amount_cents) == (RefundStatus.SUCCEEDED, 6000)
    made = stripe_refunds(ctx, second)
    assert [(r.amount, r.status) for r in made] == [(6000, "succeeded")]
    assert "Misprinted batch" in mailbox.body(mailbox.wait_for("paid1@example.com", "Refunded"))
    # Refunded: nothing more to refund.
    assert refund_form(client, campaign_id, second).status_code == 409


def test_a_refund_needs_a_reason_and_collected_money(client, ctx, settled, operator):
    campaign_id, (first, _) = settled
    assert refund_form(client, campaign_id, first, reason="short").status_code == 422
    with ctx():
        db.session.get(Pledge, first).state = PledgeState.DROPPED
        db.session.commit()
    assert refund_form(client, campaign_id, first).status_code == 409
    assert refund_form(client, campaign_id, 999_999).status_code == 404
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0


def test_members_cannot_refund(client, ctx, settled, make_user, auth):
    campaign_id, (first, _) = settled
    make_user("member@example.com")
    auth.login("member@example.com")
    token = csrf_token(client, "/account/")
    resp = client.post(
        f"/operator/settlements/pledges/{first}/refund",
        data={"csrf_token": token, "reason": "I would like my money"},
    )
    assert resp.status_code == 403
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0


def test_a_refund_job_run_twice_or_after_a_lost_answer_refunds_once(ctx, settled, make_user):
    _, (first, _) = settled
    with ctx():
        operator_id = make_user("ops2@example.com", operator=True)
        from marketplace.accounts.models import User

        refund = refunds.request_refund(first, db.session.get(User, operator_id), "Cancelled order")
        db.session.commit()
        attempt = db.session.get(ChargeAttempt, refund.attempt_id)
        # Stripe refunded, but the answer never reached us (the job died before recording).
        gateway.create_refund(
            attempt.payment_intent_id, refund.amount_cents, refund.idempotency_key
        )
        assert jobs.execute_refund(refund.id) == "succeeded"
        assert jobs.execute_refund(refund.id) == "succeeded"
    assert len(stripe_refunds(ctx, first)) == 1


def test_cancelling_production_refunds_every_collected_pledge(
    client, ctx, settled, operator, run_jobs, mailbox
):
    campaign_id, pledge_ids = settled
    token = csrf_token(client, f"/operator/settlements/{campaign_id}")
    short = client.post(
        f"/operator/settlements/{campaign_id}/cancel-production",
        data={"csrf_token": token, "reason": "Closed"},
    )
    assert short.status_code == 422
    assert "Give backers a public reason of at least 10 characters." in short.text
    assert 'id="cancel-reason"' in short.text and "Closed</textarea>" in short.text
    resp = client.post(
        f"/operator/settlements/{campaign_id}/cancel-production",
        data={"csrf_token": token, "reason": "The manufacturer closed down"},
    )
    assert resp.status_code == 302
    run_jobs(("settlement",))
    run_jobs(("settlement",))
    with ctx():
        campaign = db.session.get(Campaign, campaign_id)
        assert campaign.state == CampaignState.CANCELLED
        assert campaign.cancel_reason == "The manufacturer closed down"
        assert {db.session.get(Pledge, p).state for p in pledge_ids} == {PledgeState.REFUNDED}
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).where(OutboxMail.kind == "pledge_refunded")
            )
            == 2
        )
    for pledge_id in pledge_ids:
        assert len(stripe_refunds(ctx, pledge_id)) == 1
    # Nothing left to cancel.
    again = client.post(
        f"/operator/settlements/{campaign_id}/cancel-production",
        data={"csrf_token": token, "reason": "The manufacturer closed down"},
    )
    assert again.status_code == 409


def test_a_live_campaign_is_not_cancelled_through_refunds(client, ctx, make_campaign, operator):
    campaign_id = make_campaign()
    token = csrf_token(client, f"/operator/settlements/{campaign_id}")
    resp = client.post(
        f"/operator/settlements/{campaign_id}/cancel-production",
        data={"csrf_token": token, "reason": "Changed our minds entirely"},
    )
    assert resp.status_code == 409
