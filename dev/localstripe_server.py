"""Run localstripe, the Stripe API emulator, for development and tests.

Started this way rather than with the ``localstripe`` command because that one listens on
every interface and pickles its store to a fixed ``/tmp/localstripe.pickle`` shared by every
run on the machine; here it listens on loopback only and keeps its store in memory.
"""

from __future__ import annotations

import argparse
import logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)

    from aiohttp import web
    from localstripe import resources, server

    resources.Store.dump_to_disk = lambda self: None
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
