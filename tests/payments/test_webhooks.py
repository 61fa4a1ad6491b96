"""POST /webhooks/stripe: the signature over the raw body decides, each event is stored once,
and processing moves pledges only to where Stripe says they are."""

import hashlib
import hmac
import json
import time

import pytest
import sqlalchemy as sa

from dev.services import register_localstripe_webhook
from marketplace.campaigns.models import Pledge, PledgeState
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditEvent
from payments import gateway
from payments.models import ChargeAttempt, WebhookEvent
from tests.helpers import add_pledges, authenticate, close_and_settle


def signed(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's scheme: HMAC-SHA256 over "{t}.{body}" with the endpoint's secret."""
    t = timestamp or int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(event_id: str, kind: str, pi_id: str) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "data": {"object": {"id": pi_id, "object": "payment_intent"}},
        }
    ).encode()


def post(client, payload: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/webhooks/stripe", data=payload, headers=headers)


@pytest.fixture
def waiting_pledge(ctx, make_user, make_campaign, stripe_server, run_jobs):
    """A pledge whose charge waits for 3-D Secure: (pledge id, its PaymentIntent id)."""
    campaign_id = make_campaign(goal=1)
    (pledge_id,) = add_pledges(
        ctx, campaign_id, [(make_user("hook@example.com"), "S", 1, "needs_authentication")]
    )
    close_and_settle(ctx, run_jobs, campaign_id)
    with ctx():
        assert db.session.get(Pledge, pledge_id).state == PledgeState.ACTION_REQUIRED
        pi_id = db.session.scalar(
            sa.select(ChargeAttempt.payment_intent_id).where(ChargeAttempt.pledge_id == pledge_id)
        )
    return pledge_id, pi_id


def pledge_state(ctx, pledge_id):
    with ctx():
        return db.session.get(Pledge, pledge_id).state


@pytest.mark.parametrize(
    "signature",
    [None, "t=1,v1=deadbeef", "garbage", "wrong-secret"],
    ids=["missing", "forged", "malformed", "other-secret"],
)
def test_a_bad_signature_is_refused_and_changes_nothing(
    app, client, ctx, waiting_pledge, run_jobs, signature
):
    pledge_id, pi_id = waiting_pledge
    authenticate(ctx, pi_id)  # Stripe has the money: a real event would collect the pledge
    payload = event("evt_bad", "payment_intent.succeeded", pi_id)
    if signature == "wrong-secret":
        signature = signed(payload, "whsec_someone_else")
    resp = post(client, payload, signature)
    assert resp.status_code == 400
    run_jobs()
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 0
    assert pledge_state(ctx, pledge_id) == PledgeState.ACTION_REQUIRED


@pytest.mark.parametrize(
    "payload",
    [b"{}", b"[1, 2]", b'{"id": "evt_x"}', b'{"id": "evt_x", "type": 3}', b'"text"', b"null"],
    ids=["empty-object", "list", "no-type", "type-not-text", "string", "null"],
)
def test_a_signed_body_that_is_no_event_is_refused_and_stores_nothing(app, client, ctx, payload):
    resp = post(client, payload, signed(payload, app.config["STRIPE_WEBHOOK_SECRET"]))
    assert resp.status_code == 400
    with ctx():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 0


def test_a_signature_over_another_body_is_refused(app, client, ctx, waiting_pledge):
    _, pi_id = waiting_pledge
    secret = app.config["STRIPE_WEBHOOK_SECRET"]
    signature = signed(event("evt_1", "payment_intent.succeeded", pi_id), secret)
    tampered = event("evt_1", "payment_intent.succeeded", "pi_someone_else")
    assert post(client, tampered, signature).status_code == 400


def test_a_stale_signature_is_refused(app, client, ctx, waiting_pledge):
    _, pi_id = waiting_pledge
    payload = event("evt_old", "payment_intent.succeeded", pi_id)
    old = signed(payload, app.config["STRIPE_WEBHOOK_SECRET"], int(time.time()) - 3600)
    assert post(client, payload, old).status_code == 400


def test_the_same_event_twice_has_one_effect(app, client, ctx, waiting_pledge, run_jobs):
    pledge_id, pi_id = waiting_pledge
    authenticate(ctx, pi_id)
    payload = event("evt_twice", "payment_intent.succeeded", pi_id)
    signature = signed(payload, app.config["STRIPE_WEBHOOK_SECRET"])
    first = post(client, payload, signature)
    second = post(client, payload, signature)
    assert (first.status_code, first.json["duplicate"]) == (200, False)
    assert (second.status_code, second.json["duplicate"]) == (200, True)
    assert run_jobs(("settlement",))["settlement"] == 1  # one processing job
    assert pledge_state(ctx, pledge_id) == PledgeState.COLLECTED
    with ctx():
        rows = db.session.scalars(sa.select(WebhookEvent)).all()
        assert len(rows) == 1 and rows[0].processed_at is not None
        assert "collected" in rows[0].result
        succeeded = db.session.scalars(
            sa.select(AuditEvent).where(
                AuditEvent.subject_id == pledge_id, AuditEvent.action == "pledge.succeed"
            )
        ).all()
        assert len(succeeded) == 1


def test_a_late_failure_event_cannot_undo_a_payment(app, client, ctx, waiting_pledge, run_jobs):
    pledge_id, pi_id = waiting_pledge
    authenticate(ctx, pi_id)
    secret = app.config["STRIPE_WEBHOOK_SECRET"]
    ok = event("evt_ok", "payment_intent.succeeded", pi_id)
    late = event("evt_late", "payment_intent.payment_failed", pi_id)
    post(client, ok, signed(ok, secret))
    run_jobs(("settlement",))
    post(client, late, signed(late, secret))
    run_jobs(("settlement",))
    assert pledge_state(ctx, pledge_id) == PledgeState.COLLECTED


def test_a_failure_event_arriving_first_is_checked_with_stripe(
    app, client, ctx, waiting_pledge, run_jobs
):
    """Out of order: the failure of the 3-D Secure step is reported, but by the time the job
    runs the backer has passed it; Stripe's current answer wins."""
    pledge_id, pi_id = waiting_pledge
    authenticate(ctx, pi_id)
    payload = event("evt_failed_first", "payment_intent.payment_failed", pi_id)
    post(client, payload, signed(payload, app.config["STRIPE_WEBHOOK_SECRET"]))
    run_jobs(("settlement",))
    assert pledge_state(ctx, pledge_id) == PledgeState.COLLECTED


def test_events_about_other_objects_are_stored_and_ignored(app, client, ctx, run_jobs):
    secret = app.config["STRIPE_WEBHOOK_SECRET"]
    for event_id, kind, object_id in [
        ("evt_a", "payment_intent.succeeded", "pi_not_ours"),
        ("evt_b", "customer.created", "cus_123"),
    ]:
        payload = event(event_id, kind, object_id)
        assert post(client, payload, signed(payload, secret)).status_code == 200
    run_jobs(("settlement",))
    with ctx():
        results = {
            row.event_id: row.result
            for row in db.session.execute(sa.select(WebhookEvent.event_id, WebhookEvent.result))
        }
    assert results == {
        "evt_a": "ignored: not one of our charges",
        "evt_b": "ignored: not a settlement event",
    }


@pytest.mark.live_db
def test_localstripe_delivers_signed_events_that_collect_the_pledge(
    app, ctx, live_server, waiting_pledge, run_jobs, stripe_server
):
    """The real sender: localstripe signs with the secret and posts to our endpoint over HTTP."""
    pledge_id, pi_id = waiting_pledge
    register_localstripe_webhook(
        stripe_server, f"{live_server}/webhooks/stripe", app.config["STRIPE_WEBHOOK_SECRET"]
    )
    authenticate(ctx, pi_id)  # localstripe now sends payment_intent.succeeded
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with ctx():
            if db.session.scalar(
                sa.select(WebhookEvent.id).where(
                    WebhookEvent.type == "payment_intent.succeeded", WebhookEvent.object_id == pi_id
                )
            ):
                break
        time.sleep(0.1)
    else:
        pytest.fail("localstripe's payment_intent.succeeded never arrived")
    run_jobs(("settlement",))
    assert pledge_state(ctx, pledge_id) == PledgeState.COLLECTED
    with ctx():
        assert gateway.retrieve_payment_intent(pi_id).status == "succeeded"
