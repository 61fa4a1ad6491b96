"""Where a request of the KPI dashboard spends its time, in-process, on the page bench's data.

``python -m bench.kpi_profile [--requests 50] [--top 25] [--no-profile]`` builds the app
against the bench database (``BENCH_DATABASE_URL``, seeded by ``bench.seed``) and the page
bench's Redis db, logs the seeded operator in through the login form of a test client, then
for each preset period:

- counts the SQL statements of its first (cold) request, which computes the figures from the
  rollups and keeps them in Redis, and of a second (cached) one, with their times;
- times, for comparison, the operator layout around an empty page (a route added for the
  measurement) and the dashboard's funnel CSV, which reads the same cached figures and renders
  no template;
- with cProfile, runs ``--requests`` cached GETs of every period one after the other and prints
  the functions with the most cumulative and own time, so the cost of a page that the page
  bench's row measures can be read function by function.

Run it with the page bench stopped: it drops the dashboard's cached copies in that Redis db.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import sys
import time

from bench import seed as seeding

# bench.run's, not imported from it here: it imports the project's config, whose classes read
# the environment once, when first imported, and ``make_app`` must set it before that.
REDIS_URL = "redis://127.0.0.1:6379/14"

#: Not the statements of the test transaction's own bookkeeping.
_SKIPPED = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def make_app():
    os.environ.update(
        MARKETPLACE_ENV="development",
        DATABASE_URL=seeding.database_url(),
        REDIS_URL=REDIS_URL,
        RATELIMIT_ENABLED="false",
        MAIL_BACKEND="console",
    )
    from marketplace import create_app

    return create_app()


EMPTY_LAYOUT_PATH = "/bench/empty-operator-layout"


def add_empty_layout(app) -> None:
    """A route for this measurement only: an operator's page with nothing in it, to tell what
    the layout (menus, session, login) costs from what the dashboard's own content does."""
    from flask import render_template_string

    from marketplace.accounts.authz import operator_required

    @operator_required
    def empty():
        return render_template_string(
            '{% extends "operator/_layout.html" %}{% block title %}-{% endblock %}'
            "{% block heading %}-{% endblock %}{% block page %}<p>-</p>{% endblock %}"
        )

    app.add_url_rule(EMPTY_LAYOUT_PATH, "bench_empty_operator_layout", empty)


def _bench():
    from bench import run

    return run


@contextlib.contextmanager
def counted_statements(engine):
    import sqlalchemy as sa

    statements: list[str] = []

    def before(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(_SKIPPED):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def logged_in_client(app, email: str = seeding.OPERATOR_EMAIL):
    from tests.helpers import csrf_token

    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = _bench().USER_AGENT
    token = csrf_token(client, "/account/login")
    answer = client.post(
        "/account/login",
        data={
            "csrf_token": token,
            "email": email,
            "password": seeding.BENCH_PASSWORD,
        },
    )
    if answer.status_code != 302:
        raise SystemExit(f"login of {email} failed: HTTP {answer.status_code}")
    return client


def get(client, days: int) -> tuple[float, int]:
    """Milliseconds of one GET of a period's dashboard, and the page's size in bytes."""
    started = time.perf_counter()
    page = client.get(f"/operator/kpis?days={days}")
    elapsed = (time.perf_counter() - started) * 1000
    if page.status_code != 200 or _bench().KPI_HEADING not in page.get_data(as_text=True):
        raise SystemExit(f"/operator/kpis?days={days}: HTTP {page.status_code}")
    return elapsed, len(page.get_data())


def mean_ms(client, path: str, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        if client.get(path).status_code != 200:
            raise SystemExit(f"GET {path}: not 200")
    return 1000 * (time.perf_counter() - started) / n


def drop_cached_dashboards() -> int:
    import redis

    conn = redis.Redis.from_url(REDIS_URL)
    keys = [k for p in ("kpis:*", "fragment:*", "memberpage:*") for k in conn.scan_iter(p)]
    return conn.delete(*keys) if keys else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="cached GETs per period")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    parser.add_argument("--no-profile", action="store_true", help="only count and time")
    parser.add_argument("--cold", action="store_true", help="profile cold requests instead")
    args = parser.parse_args(argv)

    app = make_app()
    add_empty_layout(app)
    from marketplace.kernel.extensions import db

    periods = _bench().KPI_PERIODS
    if _bench().REDIS_URL != REDIS_URL:
        raise SystemExit("bench.kpi_profile: not the page bench's Redis db")

    with app.app_context():
        engine = db.engine
    client = logged_in_client(app)
    drop_cached_dashboards()
    print(
        f"{'period':>7} {'cold ms':>8} {'queries':>8} {'cached ms':>10} {'queries':>8} "
        f"{'mean of ' + str(args.requests):>11} {'KB':>6}"
    )
    for days in periods:
        with counted_statements(engine) as cold:
            cold_ms, _size = get(client, days)
        with counted_statements(engine) as warm:
            warm_ms, size = get(client, days)
        mean = mean_ms(client, f"/operator/kpis?days={days}", args.requests)
        print(
            f"{days:>5} d {cold_ms:>8.0f} {len(cold):>8} {warm_ms:>10.1f} {len(warm):>8} "
            f"{mean:>8.1f} ms {size / 1024:>6.0f}"
        )
    # What the page would cost without rendering its figures, and without rendering at all.
    for label, path in (
        ("the operator layout around an empty page", EMPTY_LAYOUT_PATH),
        ("the dashboard's funnel CSV, 30 days (cached)", "/operator/kpis.csv?table=funnel"),
    ):
        print(f"for comparison, {label}: {mean_ms(client, path, args.requests):.1f} ms")
    if args.no_profile:
        return 0

    profiler = cProfile.Profile()
    started = time.perf_counter()
    n = 0
    for days in periods:
        for _ in range(1 if args.cold else args.requests):
            if args.cold:
                drop_cached_dashboards()
            profiler.enable()
            get(client, days)
            profiler.disable()
            n += 1
    elapsed = time.perf_counter() - started
    print(f"\n{n} {'cold' if args.cold else 'cached'} requests, {1000 * elapsed / n:.1f} ms each")
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(args.top)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
