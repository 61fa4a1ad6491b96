"""``make run``: the whole product on one machine, for development and demos.

Migrates, loads the demo data, then starts the web app, a worker, localstripe (when no real
Stripe key is configured) and a Redis server (when none is configured or answering), and stops
everything it started on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

from dev.services import (
    answers_200,
    localstripe,
    redis_answers,
    redis_server,
    register_localstripe_webhook,
    stop,
    wait_until,
)

LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _unwind(signum, _frame) -> None:
    # SIGTERM (an IDE's stop button, `kill`) and SIGHUP (the terminal closed) would end this
    # process on the spot and leave the web app, worker, Redis and localstripe running;
    # unwinding like Ctrl-C lets the cleanup below stop them.
    raise SystemExit(128 + signum)


def main() -> int:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _unwind)
    env = dict(os.environ)
    env.setdefault("MARKETPLACE_ENV", "development")
    port = int(env.get("PORT", "5000"))
    if not port_is_free(port):
        print(f"Port {port} is already in use: stop what runs there or use PORT=8000 make run")
        return 1
    env.setdefault("SERVER_BASE_URL", f"http://127.0.0.1:{port}")
    # The dev mail page lists every reset link: it opens to this run's printed link only.
    env["MAIL_DEV_VIEWER_TOKEN"] = secrets.token_urlsafe(24)

    with contextlib.ExitStack() as services:
        if env.get("REDIS_URL"):
            if not redis_answers(env["REDIS_URL"]):
                print(f"REDIS_URL={env['REDIS_URL']} does not answer.")
                return 1
            redis_note = env["REDIS_URL"]
        elif redis_answers(LOCAL_REDIS):
            env["REDIS_URL"] = LOCAL_REDIS
            redis_note = f"{LOCAL_REDIS} (already running)"
        else:
            env["REDIS_URL"] = services.enter_context(redis_server())
            redis_note = f"{env['REDIS_URL']} (started for this run)"

        if env.get("STRIPE_SECRET_KEY"):
            stripe_note = "Stripe API with your STRIPE_SECRET_KEY"
        else:
            base = services.enter_context(localstripe())
            env.update(
                STRIPE_SECRET_KEY="sk_test_localstripe",
                STRIPE_PUBLISHABLE_KEY="pk_test_localstripe",
                STRIPE_WEBHOOK_SECRET=env.get("STRIPE_WEBHOOK_SECRET") or "whsec_localstripe",
                STRIPE_API_BASE=base,
                STRIPE_JS_URL=base + "/js.stripe.com/v3/",
            )
            # localstripe sends signed events like Stripe does; they arrive at our endpoint.
            register_localstripe_webhook(
                base, f"http://127.0.0.1:{port}/webhooks/stripe", env["STRIPE_WEBHOOK_SECRET"]
            )
            stripe_note = f"localstripe at {base} (webhooks to /webhooks/stripe)"

        subprocess.run(flask("db", "upgrade"), env=env, check=True)
        seeded = subprocess.run(
            [sys.executable, "-m", "dev.demo"], env=env, check=True, capture_output=True, text=True
        ).stdout

        children = [
            subprocess.Popen(flask("worker"), env=env),
            subprocess.Popen(flask("cron"), env=env),
            subprocess.Popen(
                flask("run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"), env=env
            ),
        ]
        url = f"http://127.0.0.1:{port}/"
        try:
            wait_until(lambda: answers_200(url + "healthz", 2), 60, "the web app", children[-1])
            print(
                "\n"
                f"  Cocréa is running at {url}\n"
                f"  Redis:  {redis_note}\n"
                f"  Stripe: {stripe_note}\n"
                f"  Mail:   printed by the worker, and listed at "
                f"{url}dev/mail?token={env['MAIL_DEV_VIEWER_TOKEN']}\n\n"
                + "\n".join("  " + line for line in seeded.strip().splitlines())
                + "\n\n  Press Ctrl-C to stop everything.\n",
                flush=True,
            )
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            print("A process of the stack exited; stopping the others.")
            return 1
        except KeyboardInterrupt:
            print("\nStopping...")
            return 0
        finally:
            # Ctrl-C reached the whole process group already; this covers the other exits.
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)
            for child in children:
                stop(child)


if __name__ == "__main__":
    sys.exit(main())
