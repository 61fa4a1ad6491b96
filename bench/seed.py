"""Seed the benchmark database: 100,000 designs and 1,000,000 votes, set-based and fast.

``python -m bench.seed`` (``--reseed`` drops and recreates the database first). The schema
comes from the project's own migrations, so the bench measures the indexes production has.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/cocrea_bench"

USERS = 20_000
DESIGNS = 100_000
VOTES = 1_000_000
VOTES_PER_DESIGN = 10
#: One designer account per 100 designs; they are users 1..DESIGNERS.
DESIGNERS = DESIGNS // 100
#: Designs above this id are the recent ones (scoring open, or still drafts); the rest closed.
RECENT_FROM = 69_000
#: Voters are drawn from the non-designers, so nobody scores their own design.
VOTER_POOL = USERS - DESIGNERS
COMMENT_EVERY = 300

BENCH_USER_ID = USERS
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench-password"  # noqa: S105 - a throw-away account in a throw-away database
#: The app's default cost, so a bench login costs what a real one does.
HASH_METHOD = "scrypt:32768:8:1"

_WORDS = """
abstract acid aloha alpine anchor animal arcade arctic astronaut atomic autumn aviator
banana bauhaus beach bear bee bicycle bird blossom bold botanical brutalist bubble butterfly
cactus city calm camping candy cat celestial cherry cloud coastal coffee comic cosmic
cottage crane crystal cute cyberpunk daisy dawn desert dino disco dog doodle dragon dream
duck dusk earth eclipse electric elephant emerald ember fern festival fire fish flamingo flora
forest fox fractal frog fruit galaxy garden geometric ghost glitch gold gothic gradient graffiti
grunge halftone harbor hedgehog heron hiking honey horizon horse ice ink island ivy jazz
jellyfish jungle kawaii kite koi lake lava leaf lemon lighthouse lily line-art lion lizard
llama lotus lunar maple marble meadow memphis meteor midnight minimal mint monochrome monster
moon moth mountain mushroom neon night noir nordic ocean octopus orbit origami otter owl
palm panda paper parrot pastel peach pebble penguin pepper pine pixel planet plant poppy
pop-art psychedelic pumpkin punk rabbit rain rainbow retro river robot rocket rose ruby
sailor sakura savanna script sea seashell shadow shark sketch skull sky skyline snail snake
snow solar space spiral spring storm strawberry street sun sunset surf swan synthwave
teal tiger tide tiny tokyo tropical tulip typography unicorn urban vaporwave vintage vine
volcano watercolor wave whale wild willow winter wolf wood woodcut zebra zen zigzag
"""
#: The tag vocabulary; also the words of the titles.
TAGS = list(dict.fromkeys(_WORDS.split()))[:200]
if len(TAGS) != 200:
    raise RuntimeError(f"the tag vocabulary needs 200 distinct words, it has {len(TAGS)}")

PUBLIC_STATES = ("voting", "scored", "shortlisted", "not_selected", "selected", "campaign")
CLOSED_STATES = ("scored", "shortlisted", "not_selected", "selected", "campaign")


def _in_list(states: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{s}'" for s in states) + ")"


PUBLIC_SQL = _in_list(PUBLIC_STATES)
CLOSED_SQL = _in_list(CLOSED_STATES)

# Every timestamp column stores naive UTC (marketplace.kernel.dbtypes.UTCDateTime).
NOW = "(now() AT TIME ZONE 'UTC')"

#: A per-design "quality" between 1.5 and 4.5: it drives the scores, the buy intent and
#: which closed designs made the shortlist, so the ranks and states agree with the votes.
QUALITY = "(1.5 + 3.0 * mod(d::bigint * 761, 1000) / 1000.0)"
QUALITY_OF_ID = QUALITY.replace("d::", "id::")

STATE = f"""CASE
    WHEN d > {RECENT_FROM} AND mod(d, 50) = 0 THEN 'draft'
    WHEN d > {RECENT_FROM} AND mod(d, 50) = 25 THEN 'submitted'
    WHEN d > {RECENT_FROM} THEN 'voting'
    WHEN {QUALITY} >= 3.6 AND mod(d, 3) = 0 THEN 'selected'
    WHEN {QUALITY} >= 3.6 THEN 'shortlisted'
    ELSE 'not_selected' END"""

# Recent designs arrive every 16 s over the last ~6 days (so each window closes in the next
# 1-7 days); older ones every 15 min over two years, their windows long closed.
CREATED = f"""CASE WHEN d > {RECENT_FROM}
    THEN {NOW} - interval '10 minutes' - interval '16 seconds' * ({DESIGNS} - d)
    ELSE {NOW} - interval '8 days' - interval '15 minutes' * ({RECENT_FROM} + 1 - d) END"""

USERS_SQL = f"""
INSERT INTO users (id, email, display_name, password_hash, created_at, email_verified_at,
                   is_operator, designer_terms_version, designer_terms_accepted_at,
                   session_version)
SELECT i,
       CASE WHEN i = %(bench_id)s THEN %(bench_email)s ELSE 'member' || i || '@example.com' END,
       CASE WHEN i = %(bench_id)s THEN 'Bench'
            WHEN i <= {DESIGNERS} THEN 'Designer ' || i ELSE 'Member ' || i END,
       %(password_hash)s,
       {NOW} - interval '1 hour' * mod(i, 20000) - interval '800 days',
       {NOW} - interval '800 days',
       false,
       CASE WHEN i <= {DESIGNERS} THEN '2026-11' END,
       CASE WHEN i <= {DESIGNERS} THEN {NOW} END,
       1
FROM generate_series(1, {USERS}) AS i
"""  # noqa: S608 - assembled from module constants, never from input

DESIGNS_SQL = f"""
INSERT INTO designs (id, designer_id, product_id, title, description, state, created_at,
                     updated_at, artwork_key, artwork_width, artwork_height, artwork_format,
                     terms_version, submitted_at, voting_opens_at, voting_closes_at, closed_at,
                     decision_reason, decision_message)
SELECT d, designer_id, product_id, title, description, state, created, created, artwork_key,
       800, 800, 'PNG',
       CASE WHEN state <> 'draft' THEN '2026-11' END,
       CASE WHEN state <> 'draft' THEN created + interval '1 minute' END,
       CASE WHEN state NOT IN ('draft', 'submitted') THEN created + interval '5 minutes' END,
       CASE WHEN state NOT IN ('draft', 'submitted')
            THEN created + interval '5 minutes' + interval '7 days' END,
       CASE WHEN state IN {CLOSED_SQL} THEN created + interval '5 minutes' + interval '7 days' END,
       CASE WHEN state = 'not_selected' THEN 'below_bar' END,
       NULL
FROM (
    SELECT d,
           mod(d - 1, {DESIGNERS}) + 1 AS designer_id,
           products[1 + mod(d, cardinality(products))] AS product_id,
           'Design ' || d || ' ' || initcap(words[1 + mod(d * 7, cardinality(words))]) AS title,
           'A bench design about ' || words[1 + mod(d * 11, cardinality(words))] || ' and '
               || words[1 + mod(d * 17, cardinality(words))] || '.' AS description,
           {STATE} AS state,
           {CREATED} AS created,
           substr(md5('artwork-' || d), 1, 24) AS artwork_key
    FROM generate_series(1, {DESIGNS}) AS d,
         (SELECT array_agg(id ORDER BY id) AS products FROM products) AS p,
         (SELECT %(words)s::text[] AS words) AS w
) AS s
"""  # noqa: S608 - assembled from module constants, never from input

VARIANTS_SQL = f"""
INSERT INTO design_variants (id, design_id, label, position)
SELECT (d - 1) * 3 + p + 1, d, (ARRAY['S', 'M', 'L'])[p + 1], p
FROM generate_series(1, {DESIGNS}) AS d, generate_series(0, 2) AS p
"""  # noqa: S608 - assembled from module constants, never from input

# 1 to 3 tags: offsets 0, 67 and 134 in a 200-word vocabulary never collide.
TAGS_SQL = f"""
INSERT INTO design_tags (design_id, tag)
SELECT d, (%(words)s::text[])[1 + mod(d * 13 + j * 67, 200)]
FROM generate_series(1, {DESIGNS}) AS d, generate_series(0, 2) AS j
WHERE j <= mod(d, 3)
"""  # noqa: S608 - assembled from module constants, never from input

# Voter k of design d is 1 + DESIGNERS + (7d + 2003k) mod VOTER_POOL: the offsets 2003k
# (k = 0..10) are distinct modulo VOTER_POOL, so (design_id, user_id) never repeats.
VOTES_SQL = f"""
INSERT INTO votes (design_id, user_id, score, would_buy, variant_id, created_at, updated_at)
SELECT d, user_id, score, would_buy,
       CASE WHEN would_buy AND random() < 0.6 THEN (d - 1) * 3 + 1 + mod(k, 3) END,
       at, at
FROM (
    SELECT id AS d, k,
           {DESIGNERS} + 1 + mod(id * 7 + k * 2003, {VOTER_POOL}) AS user_id,
           least(5, greatest(0, round(q + random() * 2.4 - 1.2)))::smallint AS score,
           random() < q / 7.5 AS would_buy,
           voting_opens_at + (least(voting_closes_at, {NOW}) - voting_opens_at) * random() AS at
    FROM (SELECT id, voting_opens_at, voting_closes_at,
                 {QUALITY_OF_ID} AS q
          FROM designs WHERE state IN {PUBLIC_SQL} {{extra_where}}) AS des,
         generate_series(%(k_from)s::int, %(k_to)s::int) AS k
    {{limit}}
) AS v
"""  # noqa: S608 - assembled from module constants, never from input

# The app freezes these when a window closes (designs.ranking, default weights 10 and 0.3).
COUNTERS_SQL = f"""
WITH prior AS (SELECT avg(score)::float8 AS mean FROM votes),
totals AS (
    SELECT design_id, count(*) AS n, sum(score) AS s, sum(would_buy::int) AS b
    FROM votes GROUP BY design_id
),
scored AS (
    SELECT t.*,
           (10 * prior.mean + t.s) / (10 + t.n) AS bayes,
           greatest(0.0, (t.b::float8 / t.n + 3.8415 / (2 * t.n)
               - 1.96 * sqrt(((t.b::float8 / t.n) * (1 - t.b::float8 / t.n)
                              + 3.8415 / (4 * t.n)) / t.n))
               / (1 + 3.8415 / t.n)) AS wilson
    FROM totals AS t, prior
)
UPDATE designs SET
    vote_count = scored.n,
    score_sum = scored.s,
    buy_count = scored.b,
    bayes_score = CASE WHEN state IN {CLOSED_SQL} THEN scored.bayes END,
    buy_lower_bound = CASE WHEN state IN {CLOSED_SQL} THEN scored.wilson END,
    rank_score = CASE WHEN state IN {CLOSED_SQL}
                      THEN 0.7 * scored.bayes / 5 + 0.3 * scored.wilson END
FROM scored
WHERE designs.id = scored.design_id
"""  # noqa: S608 - assembled from module constants, never from input

COMMENTS_SQL = f"""
INSERT INTO comments (design_id, author_id, body, created_at, hidden, report_count)
SELECT id, {DESIGNERS} + 1 + mod(id * 11 + j * 4001, {VOTER_POOL}),
       (ARRAY['Love the colours.', 'Would look great on a hoodie.',
              'The lettering is hard to read at small sizes.',
              'Reminds me of old travel posters!', 'Please make a black version.'])
           [1 + mod(id + j, 5)],
       least({NOW}, voting_opens_at + interval '1 hour' * (j + 1)),
       false, 0
FROM designs, generate_series(0, 2) AS j
WHERE mod(id, {COMMENT_EVERY}) = 0 AND j <= mod(id / {COMMENT_EVERY}, 3) AND state IN {PUBLIC_SQL}
"""  # noqa: S608 - assembled from module constants, never from input

# When a seeded database is reused days later, the open windows have run out; slide the
# recent designs forward again, or every vote POST would get 409 "scoring is closed".
REFRESH_WINDOWS_SQL = f"""
UPDATE designs SET
    created_at = c.created, updated_at = c.created,
    submitted_at = CASE WHEN state <> 'draft' THEN c.created + interval '1 minute' END,
    voting_opens_at = CASE WHEN state = 'voting' THEN c.created + interval '5 minutes' END,
    voting_closes_at = CASE WHEN state = 'voting'
                            THEN c.created + interval '5 minutes' + interval '7 days' END
FROM (SELECT d, {CREATED} AS created
      FROM generate_series({RECENT_FROM} + 1, {DESIGNS}) AS d) AS c
WHERE designs.id = c.d AND designs.state IN ('voting', 'draft', 'submitted')
"""  # noqa: S608 - assembled from module constants, never from input


def database_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)


def conninfo(url: str, **overrides) -> str:
    params = conninfo_to_dict(url.replace("postgresql+psycopg://", "postgresql://"))
    params.update(overrides)
    return make_conninfo(**params)


def _dbname(url: str) -> str:
    name = conninfo_to_dict(conninfo(url)).get("dbname")
    if not name:
        raise SystemExit(f"BENCH_DATABASE_URL={url!r} names no database")
    # The test suite's database is rolled back test by test; seeding it would wreck a run.
    if name in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to seed the {name!r} database: use a dedicated one")
    return name


def ensure_database(url: str, reseed: bool = False) -> None:
    """Create the database if missing; with ``reseed``, drop it first."""
    name = _dbname(url)
    with psycopg.connect(conninfo(url, dbname="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and reseed:
            print(f"seed: dropping database {name}")
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            print(f"seed: creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def migrate(url: str) -> None:
    """Build the schema the way a deploy does: ``flask db upgrade``."""
    env = {
        **os.environ,
        "MARKETPLACE_ENV": "development",
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
    }
    flask = Path(sys.executable).with_name("flask")
    subprocess.run(
        [str(flask), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )


def counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = ("users", "designs", "design_variants", "design_tags", "votes", "comments")
    return {
        t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
        for t in tables
    }


def _password_hash() -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(BENCH_PASSWORD, method=HASH_METHOD)


def _step(conn: psycopg.Connection, label: str, query: str, params=None) -> None:
    started = time.perf_counter()
    cur = conn.execute(query, params)
    rows = f"{cur.rowcount:>9,} rows" if cur.rowcount >= 0 else " " * 14
    print(f"seed:   {label:<28} {rows}  {time.perf_counter() - started:6.1f} s")


def populate(conn: psycopg.Connection) -> None:
    """Insert everything in one transaction; a failed seed leaves an empty schema behind."""
    # A throw-away database: trade durability for speed, and give index builds room.
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET maintenance_work_mem = '256MB'")
    conn.execute("SET work_mem = '64MB'")
    conn.execute("SELECT setseed(0.42)")
    words = {"words": TAGS}
    with conn.transaction():
        _step(
            conn,
            "users",
            USERS_SQL,
            {
                "bench_id": BENCH_USER_ID,
                "bench_email": BENCH_EMAIL,
                "password_hash": _password_hash(),
            },
        )
        _step(conn, "designs", DESIGNS_SQL, words)
        _step(conn, "design_variants", VARIANTS_SQL)
        _step(conn, "design_tags", TAGS_SQL, words)
        # Ids were given explicitly: move the sequences past them for the app's own inserts.
        for table in ("users", "designs", "design_variants"):
            conn.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, 'id'), max(id)) FROM {i}"
                ).format(t=sql.Literal(table), i=sql.Identifier(table))
            )
        _step(
            conn,
            "votes",
            VOTES_SQL.format(extra_where="", limit=""),
            {"k_from": 0, "k_to": VOTES_PER_DESIGN - 1},
        )
        # Drafts get no votes, so top the count up to exactly VOTES with an 11th voter on
        # the oldest closed designs.
        missing = VOTES - conn.execute("SELECT count(*) FROM votes").fetchone()[0]
        if missing > 0:
            _step(
                conn,
                "votes (top-up)",
                VOTES_SQL.format(
                    extra_where=f"AND state IN {CLOSED_SQL}",
                    limit=f"ORDER BY id LIMIT {int(missing)}",
                ),
                {"k_from": VOTES_PER_DESIGN, "k_to": VOTES_PER_DESIGN},
            )
        _step(conn, "design counters and ranks", COUNTERS_SQL)
        _step(conn, "comments", COMMENTS_SQL)


def refresh_windows(conn: psycopg.Connection) -> None:
    stale = conn.execute(
        f"SELECT count(*) FROM designs WHERE state = 'voting' "  # noqa: S608 - constants only
        f"AND voting_closes_at < {NOW} + interval '1 day'"
    ).fetchone()[0]
    if stale:
        with conn.transaction():
            _step(conn, "refresh voting windows", REFRESH_WINDOWS_SQL)
        conn.execute("ANALYZE designs")


def seed(reseed: bool = False, url: str | None = None) -> dict[str, int]:
    """Make sure the bench database is migrated and fully seeded; returns its row counts."""
    url = url or database_url()
    started = time.perf_counter()
    ensure_database(url, reseed=reseed)
    migrate(url)
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        before = counts(conn)
        if before["designs"] >= DESIGNS and before["votes"] >= VOTES:
            print(
                f"seed: already seeded ({before['designs']:,} designs, {before['votes']:,} "
                "votes); skipping (--reseed to start over)"
            )
            refresh_windows(conn)
            return before
        if before["designs"] or before["votes"] or before["users"]:
            raise SystemExit(
                "seed: the bench database holds a partial data set; run "
                "`python -m bench.seed --reseed` to start over"
            )
        populate(conn)
        # VACUUM too: left to autovacuum, it would run during the first measurements.
        _step(conn, "VACUUM (ANALYZE)", "VACUUM (ANALYZE)")
        after = counts(conn)
    print("seed: " + ", ".join(f"{table} {n:,}" for table, n in after.items()))
    print(f"seed: done in {time.perf_counter() - started:.1f} s")
    return after


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reseed", action="store_true", help="drop and recreate the database first"
    )
    args = parser.parse_args(argv)
    seed(reseed=args.reseed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
