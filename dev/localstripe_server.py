"""Run localstripe, the Stripe API emulator, for development and tests.

Started this way rather than with the ``localstripe`` command because that one listens on
every interface and pickles its store to a fixed ``/tmp/localstripe.pickle`` shared by every
run on the machine; here it listens on loopback only and keeps its store in memory. It also
lists PaymentIntents as Stripe does (see ``list_payment_intents_like_stripe``).
"""

from __future__ import annotations

import argparse
import logging


def list_payment_intents_like_stripe(resources) -> None:
    """Stripe lists PaymentIntents newest first and filters them by ``customer`` and by
    ``created`` (``gt``, ``gte``, ``lt``, ``lte``, or an exact timestamp); localstripe 1.15
    lists them oldest first and answers 400 "Unexpected" to either filter. The sweep of
    orphaned intents (``payments.dunning.cancel_orphan_intents``) pages through the recent
    ones with ``created[gte]``."""
    from localstripe.errors import UserError

    payment_intent = resources.PaymentIntent
    comparisons = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }

    def _api_list_all(
        cls, url, customer=None, created=None, limit=None, starting_after=None, **kwargs
    ):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        try:
            if created is None:
                bounds = {}
            elif isinstance(created, dict):
                assert created and set(created) <= set(comparisons)
                bounds = {op: int(value) for op, value in created.items()}
            else:
                bounds = {"exact": int(created)}
            assert customer is None or isinstance(customer, str)
        except (AssertionError, TypeError, ValueError):
            raise UserError(400, "Bad request") from None
        listed = super(payment_intent, cls)._api_list_all(
            url, limit=limit, starting_after=starting_after
        )
        kept = [
            pi
            for pi in listed._list
            if (customer is None or pi.customer == customer)
            and all(
                pi.created == value if op == "exact" else comparisons[op](pi.created, value)
                for op, value in bounds.items()
            )
        ]
        # The store keeps creation order: reversed, the newest come first, as at Stripe.
        listed._list = kept[::-1]
        return listed

    payment_intent._api_list_all = classmethod(_api_list_all)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)

    from aiohttp import web
    from localstripe import resources, server

    resources.Store.dump_to_disk = lambda self: None
    list_payment_intents_like_stripe(resources)
    logging.basicConfig(level=logging.INFO, format="localstripe %(levelname)s %(message)s")
    access_log = logging.getLogger("aiohttp.access") if args.access_log else None
    web.run_app(
        server.app,
        host=args.host,
        port=args.port,
        access_log=access_log,
        print=lambda *_: logging.info("listening on http://%s:%s", args.host, args.port),
    )


if __name__ == "__main__":
    main()
