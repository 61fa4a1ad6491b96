"""``make run``: the whole product on one machine, for development and demos.

Migrates, loads the demo data, then starts the web app, a worker, ``flask cron``, localstripe
(when no real Stripe key is configured) and a Redis server (when none is configured or
answering). A worker or cron that dies is started again after a short wait; the web app dying
stops the stack. Ctrl-C (or SIGTERM, SIGHUP) stops everything it started, down to what those
processes forked.
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
from dataclasses import dataclass, field

from dev.services import (
    answers_200,
    become_subreaper,
    descendants,
    localstripe,
    reap_orphans,
    redis_answers,
    redis_server,
    register_localstripe_webhook,
    spawn,
    stop,
    stop_all,
    wait_until,
)

LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


#: Seconds before the first, second, third... restart in a row of a process that keeps dying.
RESTART_BACKOFF = (1, 2, 5, 10)
#: A process that ran this long before dying is not crash-looping: its backoff starts over.
STEADY_SECONDS = 30


@dataclass
class Child:
    """A process of the stack: the web app, whose exit stops the stack, or a worker or cron,
    which are started again."""

    name: str
    args: list[str]
    restart: bool
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    crashes: int = 0
    restart_at: float | None = field(default=None, repr=False)

    def start(self, env: dict) -> None:
        self.proc = spawn(self.args, env=env)
        self.started_at = time.monotonic()
        self.restart_at = None


def supervise(children: list[Child], env: dict) -> Child:
    """Watch the children until the web app exits, which it returns; a worker or cron that
    exits has what it left in its group stopped (RQ's scheduler process outlives a killed
    worker) and is started again after its backoff."""
    while True:
        now = time.monotonic()
        for child in children:
            if child.proc is not None and child.proc.poll() is not None:
                code = child.proc.returncode
                stop(child.proc, timeout=5)
                if not child.restart:
                    return child
                steady = now - child.started_at >= STEADY_SECONDS
                child.crashes = 1 if steady else child.crashes + 1
                delay = RESTART_BACKOFF[min(child.crashes, len(RESTART_BACKOFF)) - 1]
                print(
                    f"The {child.name} exited with code {code}; starting it again in {delay} s.",
                    flush=True,
                )
                child.proc, child.restart_at = None, now + delay
            elif child.proc is None and child.restart_at is not None and now >= child.restart_at:
                child.start(env)
                print(f"The {child.name} is running again (pid {child.proc.pid}).", flush=True)
        reap_orphans()
        time.sleep(0.5)


def stop_leftovers() -> None:
    """Whatever our children forked and left behind, found as ours by ``become_subreaper``
    (a work horse has a process group of its own): SIGTERM, then SIGKILL."""
    for signum, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        left = descendants(os.getpid())
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        deadline = time.monotonic() + wait
        while descendants(os.getpid()) and time.monotonic() < deadline:
            reap_orphans()
            time.sleep(0.1)
        reap_orphans()


def _unwind(signum, _frame) -> None:
    # SIGTERM (an IDE's stop button, `kill`) and SIGHUP (the terminal closed) would end this
    # process on the spot and leave the web app, worker, Redis and localstripe running;
    # unwinding like Ctrl-C lets the cleanup below stop them.
    raise SystemExit(128 + signum)


def main() -> int:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _unwind)
    become_subreaper()
    try:
        return run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        stop_leftovers()


def run() -> int:
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

        localstripe_base = None
        if env.get("STRIPE_SECRET_KEY"):
            stripe_note = "Stripe API with your STRIPE_SECRET_KEY"
        else:
            base = localstripe_base = services.enter_context(localstripe())
            env.update(
                STRIPE_SECRET_KEY="sk_test_localstripe",
                STRIPE_PUBLISHABLE_KEY="pk_test_localstripe",
                STRIPE_WEBHOOK_SECRET=env.get("STRIPE_WEBHOOK_SECRET") or "whsec_localstripe",
                STRIPE_API_BASE=base,
                STRIPE_JS_URL=base + "/js.stripe.com/v3/",
            )
            stripe_note = f"localstripe at {base} (webhooks to /webhooks/stripe)"

        subprocess.run(flask("db", "upgrade"), env=env, check=True)
        seeding = subprocess.run(
            [sys.executable, "-m", "dev.demo"], env=env, capture_output=True, text=True
        )
        if seeding.returncode != 0:
            print("Loading the demo data failed:\n" + seeding.stdout + seeding.stderr, flush=True)
            return 1
        seeded = seeding.stdout

        web = Child(
            "web app",
            flask("run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"),
            restart=False,
        )
        children = [
            Child("worker", flask("worker"), restart=True),
            Child("cron", flask("cron"), restart=True),
            web,
        ]
        url = f"http://127.0.0.1:{port}/"
        try:
            # The web app first, and localstripe told of its endpoint once it answers: an
            # event posted before would print "webhook ... failed: Cannot connect". Events of
            # the demo's seeding (which wrote their outcome itself) go nowhere; the worker,
            # started next, charges with the endpoint up.
            web.start(env)
            wait_until(lambda: answers_200(url + "healthz", 2), 60, "the web app", web.proc)
            if localstripe_base:
                register_localstripe_webhook(
                    localstripe_base, url + "webhooks/stripe", env["STRIPE_WEBHOOK_SECRET"]
                )
            for child in children:
                if child is not web:
                    child.start(env)
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
            ended = supervise(children, env)
            print(
                f"The {ended.name} exited with code {ended.proc.returncode}; stopping the others.",
                flush=True,
            )
            return 1
        except KeyboardInterrupt:
            print("\nStopping...", flush=True)
            return 0
        finally:
            # Each child has a session of its own, so no Ctrl-C reached them: stop them all
            # (and their groups) here, whichever way the stack ends.
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)
            stop_all(child.proc for child in children if child.proc is not None)


if __name__ == "__main__":
    sys.exit(main())
