"""The one place that talks to Stripe, through the official library.

``STRIPE_API_BASE`` points it at localstripe in development and tests. Every call has a
timeout, waits for its turn under a rate limit that all processes share in Redis, and is
retried with jittered exponential backoff when Stripe answers 429 or 5xx or the network
fails, except where a retry could act twice (see ``create_refund``).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import stripe
from flask import current_app
from flask_babel import gettext as _
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from marketplace.kernel.i18n import N_
from marketplace.kernel.queues import redis_connection


class GatewayError(Exception):
    """Stripe could not be reached or refused the call; the message is safe to show."""


class OutcomeUnknown(GatewayError):
    """The call may or may not have acted at Stripe (timeout, dropped connection, 5xx):
    the caller must find out from Stripe before doing anything that could act twice.

    ``answered``: Stripe itself answered (its 500, or a 429 after the last try), so the
    request is over there: if nothing it made can be found, it made nothing. Without such an
    answer (a timeout, a dropped connection, a gateway's 502-504) it may still be running at
    Stripe."""

    answered = False


class Refused(GatewayError):
    """Stripe refused this request for good (invalid or missing card, declined): repeating
    it would get the same answer. ``code`` is Stripe's, ``message`` safe to show."""

    #: The intent a declined charge left, when Stripe names it.
    payment_intent_id: str | None = None

    def __init__(self, message: str, code: str | None):
        super().__init__(message)
        self.message, self.code = message, code


def client() -> stripe.StripeClient:
    app = current_app._get_current_object()
    cached = app.extensions.get("stripe_client")
    if cached is None:
        cfg = app.config
        base = cfg["STRIPE_API_BASE"]
        cached = stripe.StripeClient(
            cfg["STRIPE_SECRET_KEY"],
            base_addresses={"api": base} if base else None,
            # Seconds to connect, seconds to read: a hung Stripe must not hang a worker.
            http_client=stripe.RequestsClient(
                timeout=(cfg["STRIPE_CONNECT_TIMEOUT"], cfg["STRIPE_READ_TIMEOUT"])
            ),
            # Retries are ours (below): they share the rate limit and know which calls are
            # safe to repeat.
            max_network_retries=0,
        )
        app.extensions["stripe_client"] = cached
    return cached


def preload(_app=None) -> None:
    """Receives ``worker_warming_up``. The Stripe library imports its resource modules on
    first use; a forking worker calls this once so that each work-horse does not import
    them again."""
    client().v1.payment_intents  # noqa: B018
    client().v1.refunds  # noqa: B018
    _ = (stripe.PaymentIntent, stripe.Refund, stripe.SetupIntent, stripe.Charge)


#: Every call to Stripe, from any thread of any process, takes the next free slot, one
#: ``1 / STRIPE_RATE_LIMIT`` second after the one before, on Redis' clock and in one script
#: (so atomically). A window that counts calls (the ``limits`` library's strategies) lets a
#: second's worth go at once whenever the window frees up; with many threads waiting, the
#: requests of such a burst leave unevenly, and some seconds see more than the limit arrive
#: at Stripe. Slots spread evenly keep every second at the limit; no maintained library
#: spaces calls this way, hence the script. A 429 (Stripe asking everyone to slow down)
#: pushes the next free slot out for every process at once (``_pause_everyone``).
_NEXT_SLOT = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now_us, free)
redis.call('SET', KEYS[1], string.format('%d', slot + tonumber(ARGV[1])), 'PX', 60000)
return slot - now_us
"""
_PAUSE = """
local now = redis.call('TIME')
local until_us = tonumber(now[1]) * 1000000 + tonumber(now[2]) + tonumber(ARGV[1])
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_us > free then
  redis.call('SET', KEYS[1], string.format('%d', until_us), 'PX', 60000)
end
return 0
"""
_SLOT_KEY = "cocrea-stripe:next-slot"
#: Slots come this much further apart than the limit alone would put them: a request leaves
#: a little after its slot (a few milliseconds, more on a busy machine), and limit + 1
#: requests exactly a limit's interval apart would otherwise span one second to the
#: microsecond, so that the least delay puts them in the same second at Stripe.
_SPACING_MARGIN = 1.03


def _scripts():
    app = current_app._get_current_object()
    cached = app.extensions.get("stripe_limiter")
    if cached is None:
        conn = redis_connection(app)
        cached = (conn.register_script(_NEXT_SLOT), conn.register_script(_PAUSE))
        app.extensions["stripe_limiter"] = cached
    return cached


def _wait_for_turn() -> None:
    """Block until this call's slot under the shared per-second limit comes."""
    next_slot, _pause = _scripts()
    limit = max(1, current_app.config["STRIPE_RATE_LIMIT"])
    interval_us = round(1_000_000 * _SPACING_MARGIN / limit)
    wait_us = int(next_slot(keys=[_SLOT_KEY], args=[interval_us]))
    if wait_us > 0:
        time.sleep(wait_us / 1_000_000)


def _pause_everyone(seconds: float) -> None:
    """Stripe answered 429: no process sends anything for ``seconds``."""
    _next_slot, pause = _scripts()
    pause(keys=[_SLOT_KEY], args=[round(seconds * 1_000_000)])


def _transient(exc: BaseException) -> bool:
    """Worth another try: Stripe asked us to slow down, failed on its side, or the
    network did."""
    if isinstance(exc, (stripe.RateLimitError, stripe.APIConnectionError)):
        return True
    status = getattr(exc, "http_status", None)
    return isinstance(exc, stripe.APIError) and (status is None or status >= 500)


def _answered_by_stripe(exc: BaseException) -> bool:
    """Stripe itself answered, so the request is over there: a 429 (it did nothing) or its
    own 500. A 502-504 may come from a proxy in front of Stripe while the request still runs
    behind it, and a timeout or a dropped connection says nothing: not answered."""
    if isinstance(exc, stripe.RateLimitError):
        return True
    return isinstance(exc, stripe.APIError) and getattr(exc, "http_status", None) == 500


def _call(what: str, fn, *args, retry_unknown: bool = True, **kwargs):
    """Call Stripe under the rate limit, retrying transient failures.

    With ``retry_unknown=False`` only 429s are retried (Stripe did nothing); any other
    transient failure raises :class:`OutcomeUnknown` at once.
    """
    cfg = current_app.config

    def retryable(exc: BaseException) -> bool:
        if isinstance(exc, stripe.RateLimitError):
            return True
        return retry_unknown and _transient(exc)

    def attempt():
        _wait_for_turn()
        try:
            return fn(*args, **kwargs)
        except stripe.RateLimitError:
            _pause_everyone(cfg["STRIPE_BACKOFF_SECONDS"])
            raise

    retrying = Retrying(
        retry=retry_if_exception(retryable),
        stop=stop_after_attempt(cfg["STRIPE_MAX_ATTEMPTS"]),
        wait=wait_random_exponential(multiplier=cfg["STRIPE_BACKOFF_SECONDS"], max=20),
        reraise=True,
    )
    try:
        return retrying(attempt)
    except stripe.CardError:
        raise
    except stripe.StripeError as exc:
        current_app.logger.warning("stripe %s failed: %s", what, exc)
        error = OutcomeUnknown if _transient(exc) else GatewayError
        raised = error(
            _(
                "Our payment provider did not answer as expected. Nothing was charged; "
                "please try again."
            )
        )
        if error is OutcomeUnknown:
            raised.answered = _answered_by_stripe(exc)
        raise raised from exc


def create_customer(email: str, user_id: int) -> str:
    """A Stripe Customer for an account; returns its id."""
    customer = _call(
        "customer create",
        client().v1.customers.create,
        params={"email": email, "metadata": {"user_id": str(user_id)}},
    )
    return customer.id


def retrieve_customer_email(customer_id: str) -> str | None:
    return _call("customer retrieve", client().v1.customers.retrieve, customer_id).email


@dataclass(frozen=True)
class SetupIntentInfo:
    id: str
    client_secret: str
    status: str
    customer: str | None
    payment_method: str | None
    metadata: dict


def _info(si) -> SetupIntentInfo:
    return SetupIntentInfo(
        id=si.id,
        client_secret=si.client_secret,
        status=si.status,
        customer=si.customer,
        payment_method=si.payment_method,
        metadata=si.metadata.to_dict() if si.metadata else {},
    )


def create_setup_intent(customer_id: str, pledge_id: int) -> SetupIntentInfo:
    """A SetupIntent that saves a card for charges made later, with nobody present
    (``usage=off_session``): authentication happens now, in the backer's browser."""
    si = _call(
        "setup intent create",
        client().v1.setup_intents.create,
        params={
            "customer": customer_id,
            "usage": "off_session",
            "payment_method_types": ["card"],
            "metadata": {"pledge_id": str(pledge_id)},
        },
    )
    return _info(si)


def retrieve_setup_intent(setup_intent_id: str) -> SetupIntentInfo:
    return _info(
        _call("setup intent retrieve", client().v1.setup_intents.retrieve, setup_intent_id)
    )


def card_summary(payment_method_id: str) -> str:
    """'Visa •••• 4242', for the backer's pledge list."""
    pm = _call("payment method retrieve", client().v1.payment_methods.retrieve, payment_method_id)
    card = getattr(pm, "card", None)
    if not card:
        return "card"
    return f"{str(card.brand).title()} •••• {card.last4}"


@dataclass(frozen=True)
class PaymentIntentInfo:
    id: str
    status: str
    amount: int
    amount_received: int
    currency: str
    client_secret: str
    metadata: dict
    #: Stripe's decline or error code and message from the last failed try, if any.
    error_code: str | None
    error_message: str | None


def _pi_info(pi) -> PaymentIntentInfo:
    data = pi.to_dict()
    error = data.get("last_payment_error") or {}
    received = data.get("amount_received")
    if received is None:  # localstripe leaves it out
        received = pi.amount if pi.status == "succeeded" else 0
    return PaymentIntentInfo(
        id=pi.id,
        status=pi.status,
        amount=pi.amount,
        amount_received=received,
        currency=pi.currency.upper(),
        client_secret=pi.client_secret,
        metadata=dict(data.get("metadata") or {}),
        error_code=error.get("decline_code") or error.get("code"),
        error_message=error.get("message"),
    )


def create_payment_intent(
    *,
    customer_id: str,
    payment_method_id: str,
    amount_cents: int,
    currency: str,
    metadata: dict[str, str],
    idempotency_key: str,
) -> PaymentIntentInfo:
    """An unconfirmed PaymentIntent: it charges nobody until ``confirm_payment_intent``, so
    creating another after a lost answer is harmless (the key makes the gateway's own
    retries of this call give back the same one). Raises :class:`Refused` when Stripe
    refuses the request for good."""
    pi = _refusals_raised(
        "payment intent create",
        client().v1.payment_intents.create,
        params=_intent_params(customer_id, payment_method_id, amount_cents, currency, metadata),
        options={"idempotency_key": idempotency_key},
    )
    return _pi_info(pi)


def _intent_params(
    customer_id: str,
    payment_method_id: str,
    amount_cents: int,
    currency: str,
    metadata: dict[str, str],
) -> dict:
    """A PaymentIntent for the customer's saved card, whichever way it is then confirmed."""
    return {
        "amount": amount_cents,
        "currency": currency.lower(),
        "customer": customer_id,
        "payment_method": payment_method_id,
        "payment_method_types": ["card"],
        "metadata": metadata,
    }


def charge_off_session(
    *,
    customer_id: str,
    payment_method_id: str,
    amount_cents: int,
    currency: str,
    metadata: dict[str, str],
    idempotency_key: str,
) -> PaymentIntentInfo:
    """Charge a saved card with nobody present, in one request: the PaymentIntent is created
    and confirmed at once (``off_session``: Stripe then declines, or applies an exemption,
    rather than waiting for the backer; a card that insists on authenticating comes back as
    ``requires_action``). The key is the attempt's, so repeating the request after a lost
    answer gives back the same intent rather than a second charge.

    A decline raises :class:`Refused` with Stripe's code (and the intent's id in
    ``payment_intent_id`` when Stripe gives it); an unknown outcome raises
    :class:`OutcomeUnknown`, to be settled with ``find_attempt_intent``."""
    try:
        pi = _call(
            "payment intent charge",
            client().v1.payment_intents.create,
            params={
                **_intent_params(customer_id, payment_method_id, amount_cents, currency, metadata),
                "confirm": True,
                "off_session": True,
            },
            options={"idempotency_key": idempotency_key},
        )
    except stripe.CardError as exc:
        error = exc.error
        # The decline code ("insufficient_funds") says more than the code ("card_declined").
        code = (getattr(error, "decline_code", None) if error else None) or exc.code
        refused = Refused(exc.user_message or N_("Your card was declined."), code)
        intent = getattr(error, "payment_intent", None) if error else None
        refused.payment_intent_id = getattr(intent, "id", None)
        raise refused from exc
    except GatewayError as exc:
        cause = exc.__cause__
        if not isinstance(exc, OutcomeUnknown) and isinstance(cause, stripe.InvalidRequestError):
            raise Refused(
                cause.user_message or N_("Your saved card can no longer be charged."), cause.code
            ) from cause
        raise
    return _pi_info(pi)


def find_attempt_intent(
    customer_id: str, attempt_key: str, since: dt.datetime
) -> PaymentIntentInfo | None:
    """The PaymentIntent made for a charge attempt (its metadata names the attempt), among
    the customer's intents created since ``since``; None when Stripe has none. What settles
    an unknown outcome before anything that could charge again."""
    params = {"customer": customer_id, "created": {"gte": int(since.timestamp())}, "limit": 100}
    while True:
        page = _call("payment intent search", client().v1.payment_intents.list, params=params)
        for pi in page.data:
            info = _pi_info(pi)
            if info.metadata.get("attempt") == attempt_key:
                return info
        if not page.has_more or not page.data:
            return None
        params = {**params, "starting_after": page.data[-1].id}


def _refusals_raised(what: str, fn, *args, **kwargs):
    """``_call``, with Stripe's definite refusals of the request itself (400, 402, 404) raised
    as :class:`Refused`; authentication and permission errors stay GatewayErrors, because a
    wrong key is ours to fix, not the backer's."""
    try:
        return _call(what, fn, *args, **kwargs)
    except stripe.CardError as exc:
        raise Refused(exc.user_message or N_("Your card was declined."), exc.code) from exc
    except GatewayError as exc:
        cause = exc.__cause__
        if isinstance(cause, stripe.InvalidRequestError):
            raise Refused(
                cause.user_message or N_("Your saved card can no longer be charged."), cause.code
            ) from cause
        raise


def _off_session() -> dict:
    # Stripe wants off_session=true when it confirms a charge with nobody present (it then
    # declines rather than asking for authentication, or applies an exemption). localstripe
    # refuses the parameter on confirm, so it is only sent to Stripe itself.
    return {} if current_app.config["STRIPE_API_BASE"] else {"off_session": True}


def confirm_payment_intent(payment_intent_id: str) -> PaymentIntentInfo:
    """Charge the saved card. Safe to repeat: confirming an intent that already succeeded
    or failed is refused by Stripe, and we then read where it stands. A refusal that leaves
    the intent unconfirmed (nothing charged, nothing to wait for) raises :class:`Refused`."""
    try:
        pi = _call(
            "payment intent confirm",
            client().v1.payment_intents.confirm,
            payment_intent_id,
            params=_off_session(),
        )
    except stripe.CardError:
        return retrieve_payment_intent(payment_intent_id)
    except GatewayError as exc:
        if isinstance(exc, OutcomeUnknown):
            raise
        info = retrieve_payment_intent(payment_intent_id)
        cause = exc.__cause__
        if info.status == "requires_confirmation" and isinstance(cause, stripe.InvalidRequestError):
            raise Refused(
                cause.user_message or N_("Your saved card can no longer be charged."), cause.code
            ) from cause
        return info
    return _pi_info(pi)


def retrieve_payment_intent(payment_intent_id: str) -> PaymentIntentInfo:
    return _pi_info(
        _call("payment intent retrieve", client().v1.payment_intents.retrieve, payment_intent_id)
    )


def cancel_payment_intent(payment_intent_id: str) -> PaymentIntentInfo:
    """Withdraw an intent that has not succeeded; one that already has (or is already
    cancelled) is returned as it stands."""
    try:
        pi = _call("payment intent cancel", client().v1.payment_intents.cancel, payment_intent_id)
    except GatewayError as exc:
        if isinstance(exc, OutcomeUnknown):
            raise
        return retrieve_payment_intent(payment_intent_id)
    return _pi_info(pi)


def payment_intents_created_since(since: dt.datetime) -> Iterator[list[PaymentIntentInfo]]:
    """The PaymentIntents created at or after ``since``, newest first, a page at a time;
    each page is one call under the rate limit and the retries."""
    params = {"created": {"gte": int(since.timestamp())}, "limit": 100}
    while True:
        page = _call("payment intent list", client().v1.payment_intents.list, params=params)
        if page.data:
            yield [_pi_info(pi) for pi in page.data]
        if not page.has_more or not page.data:
            return
        params = {**params, "starting_after": page.data[-1].id}


@dataclass(frozen=True)
class RefundInfo:
    id: str
    status: str
    amount: int


def create_refund(payment_intent_id: str, amount_cents: int, refund_key: str) -> RefundInfo:
    """Refund an intent once. The refunds already made on it are read first, and one that
    carries ``refund_key`` is ours from an earlier try; the create itself is never retried
    on an unknown outcome, because localstripe would refund twice."""
    for refund in _call(
        "refund list",
        client().v1.refunds.list,
        params={"payment_intent": payment_intent_id, "limit": 100},
    ).data:
        if (refund.to_dict().get("metadata") or {}).get("refund_key") == refund_key:
            return RefundInfo(refund.id, refund.status, refund.amount)
    refund = _call(
        "refund create",
        client().v1.refunds.create,
        params={
            "payment_intent": payment_intent_id,
            "amount": amount_cents,
            "metadata": {"refund_key": refund_key},
        },
        # The key is this try's own: Stripe keeps a key's first answer for a day, a 500
        # included, and the lookup above is what finds an earlier try's refund.
        options={"idempotency_key": f"{refund_key}-{secrets.token_hex(4)}"},
        retry_unknown=False,
    )
    return RefundInfo(refund.id, refund.status, refund.amount)


def construct_event(payload: bytes, signature: str | None) -> stripe.Event:
    """The event, if its signature is Stripe's over this very body and the body is an event
    (an object with a text id and type); ValueError otherwise. A signed body can still be
    malformed (a leaked secret, a test tool), and must be refused, not crash the endpoint."""
    secret = (current_app.config["STRIPE_WEBHOOK_SECRET"] or "").strip()
    if not secret:
        # Allowed in production only deliberately (ALLOW_INSECURE_WEBHOOK_SECRET): a blank
        # key is one anybody can sign with, so no event is believed.
        raise ValueError("no webhook secret configured")
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature or "", secret, tolerance=stripe.Webhook.DEFAULT_TOLERANCE
        )
    except stripe.SignatureVerificationError as exc:
        raise ValueError("bad signature") from exc
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("not JSON") from exc
    if not (
        isinstance(data, dict)
        and isinstance(data.get("id"), str)
        and isinstance(data.get("type"), str)
    ):
        raise ValueError("not an event")
    return stripe.Webhook.construct_event(payload, signature or "", secret)


def list_payment_intents(limit: int = 100) -> list:
    """For tests and operators' checks: the PaymentIntents Stripe knows of."""
    return list(
        _call("payment intent list", client().v1.payment_intents.list, params={"limit": limit}).data
    )
