"""Stripe's webhook events: stored once, then processed by a job.

An event is only a hint that something changed: processing asks Stripe where the
PaymentIntent stands now and records that through the same function as the charge job. So a
duplicate does nothing new, and an event that arrives late (a ``payment_failed`` after the
retry that succeeded) cannot move a pledge backwards.
"""

from __future__ import annotations

import sqlalchemy as sa

from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.queues import enqueue_after_commit

from . import charging
from .models import ChargeAttempt, WebhookEvent

#: The events settlement acts on; others are stored and marked ignored.
HANDLED = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.requires_action",
    "payment_intent.canceled",
}


def store(event) -> WebhookEvent | None:
    """Keep the event and queue its processing; None when it was already received."""
    data = event.to_dict()
    obj = (data.get("data") or {}).get("object") or {}
    row = WebhookEvent(
        event_id=event.id,
        type=event.type,
        object_id=obj.get("id"),
        payload=data,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except sa.exc.IntegrityError:
        return None  # delivered twice: the first delivery is already queued
    enqueue_after_commit("settlement", "payments.jobs.process_webhook_event", row.id)
    return row


def process(event_row_id: int) -> str | None:
    row = db.session.scalar(
        sa.select(WebhookEvent).where(WebhookEvent.id == event_row_id).with_for_update()
    )
    if row is None or row.processed_at is not None:
        return None
    if row.type not in HANDLED:
        result = "ignored: not a settlement event"
    else:
        attempt_id = db.session.scalar(
            sa.select(ChargeAttempt.id).where(ChargeAttempt.payment_intent_id == row.object_id)
        )
        if attempt_id is None:
            result = "ignored: not one of our charges"
        else:
            state = charging.refresh_attempt(attempt_id)
            result = f"attempt {attempt_id}: pledge {state.value if state else 'unchanged'}"
    row.processed_at, row.result = utcnow(), result[:200]
    return row.result
