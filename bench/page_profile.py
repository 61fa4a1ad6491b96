"""Where a logged-in request spends its time, in-process, on the page bench's data (issue 19).

``python -m bench.page_profile [--requests 200] [--top 0] [--only design,vote]`` builds the app
against the bench database (``BENCH_DATABASE_URL``, seeded by ``bench.seed``) and the page
bench's Redis db, logs members in through the login form of a test client, and for each of
the requests a logged-in member makes most:

- **design**: ``GET /designs/<id>``, rotating over the bench's public designs, as
  ``bench@example.com``;
- **campaign**: ``GET /campaigns/<id>``, rotating over every campaign, as the same account;
- **gallery**: ``GET /designs/``, the same account;
- **my pledges**: ``GET /pledges/`` as the seeded backer with the most pledges;
- **vote**: ``POST /designs/<id>/vote`` over designs open for scoring, as ``bench@example.com``;

it prints, per request: the wall time and the CPU time (without the profiler), the SQL
statements and the time spent in them (from the driver's call to its answer: the round trips),
then, with cProfile on, how the CPU divides between our code, SQLAlchemy, the database driver,
Jinja, Flask-Login, WTForms, Babel, Flask/Werkzeug and the Redis client. A built-in function's
time (a socket read, ``str.join``) is counted with whoever called it. ``--top N`` also lists
the N functions with the most own time.

Run it with the page bench stopped: the gunicorn servers would share the CPU with it.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import itertools
import pstats
import sys
import time
from pathlib import Path

from bench import seed as seeding
from bench.kpi_profile import logged_in_client, make_app

ROOT = Path(__file__).resolve().parent.parent

#: Where a function's file lies, to the share it counts in; the first that matches wins.
CATEGORIES = (
    ("Jinja", ("/jinja2/", "/templates/", "<template>", "/markupsafe/")),
    ("SQLAlchemy", ("/sqlalchemy/", "/flask_sqlalchemy/")),
    ("driver (psycopg)", ("/psycopg/", "/psycopg_binary/", "/psycopg_c/")),
    ("Flask-Login", ("/flask_login/",)),
    ("WTForms", ("/wtforms/", "/flask_wtf/")),
    ("Babel", ("/flask_babel/", "/babel/")),
    ("Redis client", ("/redis/",)),
    (
        "Flask/Werkzeug",
        ("/flask/", "/werkzeug/", "/itsdangerous/", "/flask_talisman/", "/flask_limiter/"),
    ),
    (
        "our code",
        tuple(f"{ROOT}/{part}" for part in ("marketplace/", "designs/", "payments/", "config.py")),
    ),
)
OTHER = "other (stdlib, ...)"
NAMES = [name for name, _ in CATEGORIES] + [OTHER]

#: Transaction control goes to the server too, but is not a statement a page asks for.
_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def category(filename: str) -> str | None:
    for name, marks in CATEGORIES:
        if any(mark in filename for mark in marks):
            return name
    return None if filename == "~" else OTHER


def shares(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of own time per category; a built-in's goes to its callers' categories, in
    the proportion each caller spent in it."""
    seconds = dict.fromkeys(NAMES, 0.0)
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, callers) in stats.stats.items():
        own = category(filename)
        if own is not None:
            seconds[own] += tottime
            continue
        spent = sum(caller[2] for caller in callers.values())
        for (caller_file, _l, _n), caller in callers.items():
            part = tottime * (caller[2] / spent) if spent else tottime / len(callers)
            seconds[category(caller_file) or OTHER] += part
        if not callers:
            seconds[OTHER] += tottime
    return seconds


@contextlib.contextmanager
def timed_statements(engine):
    """Each statement sent while the block runs, with the seconds until its answer."""
    import sqlalchemy as sa

    sent: list[list] = []

    def before(conn, cursor, statement, *args):
        conn.info["bench_sent"] = time.perf_counter()

    def after(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(_CONTROL):
            sent.append([statement, time.perf_counter() - conn.info.pop("bench_sent")])

    def on_driver(statement, connection):
        # Run straight on the driver (kernel.extensions): counted, its wait not timed.
        sent.append([statement, 0.0])

    from marketplace.kernel.extensions import statement_sent

    sa.event.listen(engine, "before_cursor_execute", before)
    sa.event.listen(engine, "after_cursor_execute", after)
    statement_sent.connect(on_driver)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        sa.event.remove(engine, "after_cursor_execute", after)
        statement_sent.disconnect(on_driver)


def samples(url: str) -> dict:
    """Ids to rotate over, and the busiest backer's address, from the bench database."""
    import psycopg

    from bench import run

    public, voting = run.sample_ids(url)
    with psycopg.connect(seeding.conninfo(url)) as conn:
        campaigns = [r[0] for r in conn.execute("SELECT id FROM campaigns ORDER BY id")]
        backer = conn.execute(
            "SELECT u.email, count(*) FROM pledges p JOIN users u ON u.id = p.backer_id "
            "GROUP BY u.email ORDER BY count(*) DESC, u.email LIMIT 1"
        ).fetchone()
    return {"public": public, "voting": voting, "campaigns": campaigns, "backer": backer}


class Request:
    """One kind of request: ``send(client, n)`` makes the n-th and checks its answer;
    ``rotation`` requests make one round of what it rotates over."""

    def __init__(self, name: str, client, send, detail: str, rotation: int = 1):
        self.name, self.client, self.send, self.detail = name, client, send, detail
        self.rotation = rotation


def requests_to_profile(app, found: dict) -> list[Request]:
    from tests.helpers import csrf_in

    member = logged_in_client(app, seeding.BENCH_EMAIL)
    backer = logged_in_client(app, found["backer"][0])
    first = member.get(f"/designs/{found['voting'][0]}").get_data(as_text=True)
    token = csrf_in(first)
    if not token:
        raise SystemExit("the design page shows the bench account no form")

    def getter(path_of, marker: str):
        def send(client, n):
            answer = client.get(path_of(n))
            if answer.status_code != 200 or marker not in answer.get_data(as_text=True):
                raise SystemExit(f"GET {path_of(n)}: HTTP {answer.status_code}")

        return send

    public, voting, campaigns = found["public"], found["voting"], found["campaigns"]
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    cookie = member.get_cookie(cookie_name).value

    def vote(client, n):
        design_id = voting[n % len(voting)]
        answer = client.post(
            f"/designs/{design_id}/vote",
            data={"csrf_token": token, "score": str(n % 6), "would_buy": "y" if n % 5 < 2 else ""},
        )
        if answer.status_code != 302:
            raise SystemExit(f"vote on {design_id}: HTTP {answer.status_code}")
        # The answer's cookie carries the flash, for the page the redirect leads to; the
        # bench's load sends the same cookie with every vote, and so does this.
        client.set_cookie(cookie_name, cookie)

    return [
        Request(
            "design",
            member,
            getter(lambda n: f"/designs/{public[n % len(public)]}", "Log out"),
            f"{len(public):,} public designs",
            len(public),
        ),
        Request(
            "campaign",
            member,
            getter(lambda n: f"/campaigns/{campaigns[n % len(campaigns)]}", "Log out"),
            f"{len(campaigns):,} campaigns",
            len(campaigns),
        ),
        Request("gallery", member, getter(lambda n: "/designs/", "Log out"), "/designs/"),
        Request(
            "my pledges",
            backer,
            getter(lambda n: "/pledges/", "Log out"),
            f"{found['backer'][0]}, {found['backer'][1]} pledges",
        ),
        Request("vote", member, vote, f"{len(voting):,} open designs"),
    ]


def measure(engine, request: Request, n: int, offset: itertools.count) -> dict:
    """Wall and CPU milliseconds per request, and its statements, without the profiler.

    One round of what the request rotates over first, as ``bench.run`` has it: its load
    sends each page many times, so the pieces shared by every reader are rendered once and
    then read back (``kernel.fragments``); the steady state is what is measured."""
    for n in range(max(10, request.rotation)):
        request.send(request.client, n)
    with timed_statements(engine) as sent:
        request.send(request.client, next(offset))
    wall = cpu = 0.0
    # Listening once around them all: adding and removing the engine's listeners has a cost
    # of its own, which per request was counted in the request's CPU.
    with timed_statements(engine) as each:
        for _ in range(n):
            started, started_cpu = time.perf_counter(), time.process_time()
            request.send(request.client, next(offset))
            wall += time.perf_counter() - started
            cpu += time.process_time() - started_cpu
    db_seconds = sum(seconds for _s, seconds in each)
    return {
        "wall_ms": 1000 * wall / n,
        "cpu_ms": 1000 * cpu / n,
        "db_ms": 1000 * db_seconds / n,
        "statements": [s for s, _seconds in sent],
    }


def profile(request: Request, n: int, offset: itertools.count) -> tuple[pstats.Stats, float]:
    # CPU time, not wall time: a wait for the database's answer is not the process's work.
    profiler = cProfile.Profile(time.process_time)
    started = time.perf_counter()
    for _ in range(n):
        profiler.enable()
        request.send(request.client, next(offset))
        profiler.disable()
    elapsed = time.perf_counter() - started
    return pstats.Stats(profiler), 1000 * elapsed / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests of each kind")
    parser.add_argument("--top", type=int, default=0, help="functions listed by own time")
    parser.add_argument("--only", default="", help="comma-separated kinds (design,vote,...)")
    parser.add_argument("--statements", action="store_true", help="print each statement")
    args = parser.parse_args(argv)

    app = make_app()
    from marketplace.kernel.extensions import db

    with app.app_context():
        engine = db.engine
    found = samples(seeding.database_url())
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    offset = itertools.count()
    print(
        f"{'request':<11} {'wall ms':>8} {'CPU ms':>7} {'SQL':>4} {'SQL ms':>7}   "
        + "  ".join(f"{name:>{max(len(name), 5)}}" for name in NAMES)
    )
    listings = []
    for request in requests_to_profile(app, found):
        if wanted and request.name not in wanted:
            continue
        figures = measure(engine, request, args.requests, offset)
        stats, _profiled_ms = profile(request, args.requests, offset)
        spent = shares(stats)
        total = sum(spent.values()) or 1.0
        # The profiler slows what it watches, unevenly: its split is given in shares of the
        # CPU, and the CPU itself as measured without it.
        split = "  ".join(
            f"{100 * spent[name] / total:>{max(len(name), 5) - 1}.0f}%" for name in NAMES
        )
        print(
            f"{request.name:<11} {figures['wall_ms']:>8.1f} {figures['cpu_ms']:>7.1f} "
            f"{len(figures['statements']):>4} {figures['db_ms']:>7.1f}   {split}"
        )
        if args.statements:
            for statement in figures["statements"]:
                print("    " + " ".join(statement.split())[:160])
        listings.append((request, stats))
    print(
        f"\n{args.requests} requests of each kind, in-process (Flask's test client), after a "
        "round of the pages it rotates over (at least 10 requests); wall and CPU ms are means "
        "without the profiler, the shares are of the CPU with it; SQL ms is the time from "
        "sending each statement to its answer."
    )
    for request, stats in listings if args.top else ():
        print(f"\n--- {request.name} ({request.detail}): the {args.top} most own time")
        stats.strip_dirs().sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
