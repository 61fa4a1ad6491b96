"""Seed the benchmark database: 100,000 designs and 1,000,000 votes, then a year of backing
and rating (300 campaigns, 30,000 pledges, their charges, runs, orders and ratings), set-based
and fast; then the KPI rollups, built the way production builds them (``flask kpis rebuild``).

``python -m bench.seed`` (``--reseed`` drops and recreates the database first). The schema
comes from the project's own migrations, so the bench measures the indexes production has.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
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
#: The operator who reads the KPI dashboard (and opened the campaigns); same password.
OPERATOR_EMAIL = "bench-operator@example.com"
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


# --- a year of backing and rating ------------------------------------------------------------

#: Campaigns on selected designs whose scoring closed in the last year, opened 1-10 days
#: later, running 14-45 days; their states follow from their dates (the newest not yet open,
#: then live, then settled, in production, shipped, delivered), 22 % failed.
CAMPAIGNS = 300
CAMPAIGN_DAYS = 365
#: The counted states of ``marketplace.campaigns.models.COUNTED_PLEDGE_STATES``.
COUNTED_SQL = _in_list(("active", "charging", "collected", "errored", "action_required"))

CAMPAIGN_PLAN_SQL = f"""
CREATE TEMP TABLE bench_campaigns ON COMMIT DROP AS
SELECT s.*,
       CASE WHEN s.starts_at > {NOW} THEN 'scheduled'
            WHEN s.deadline > {NOW} THEN 'live'
            WHEN NOT s.funded THEN 'failed'
            WHEN {NOW} < s.deadline + interval '7 days' THEN 'settled'
            WHEN {NOW} < s.deadline + interval '1 day' * s.lead_days THEN 'in_production'
            WHEN {NOW} < s.deadline + interval '1 day' * (s.lead_days + 10) THEN 'shipped'
            ELSE 'delivered' END AS state
FROM (
    SELECT row_number() OVER (ORDER BY p.starts_at, p.design_id)::int AS id, p.*,
           p.starts_at + interval '1 day' * (14 + mod(p.design_id * 7, 32)) AS deadline
    FROM (
        SELECT d.id AS design_id, d.title, pr.name AS product,
               (string_to_array(pr.variant_hint, ', '))[1:3] AS labels,
               d.closed_at + interval '1 day' * (1 + mod(d.id, 10)) AS starts_at,
               CASE WHEN mod(d.id, 25) < 3 THEN 'USD' WHEN mod(d.id, 25) < 5 THEN 'GBP'
                    ELSE 'EUR' END AS currency,
               1900 + 500 * mod(d.id, 7) AS price,
               14 + mod(d.id, 15) AS lead_days,
               mod(d.id * 13, 100) < 78 AS funded
        FROM designs AS d JOIN products AS pr ON pr.id = d.product_id
        WHERE d.state = 'selected' AND d.closed_at > {NOW} - interval '{CAMPAIGN_DAYS - 1} days'
        ORDER BY md5('campaign-' || d.id) LIMIT {CAMPAIGNS}
    ) AS p
) AS s
"""  # noqa: S608 - assembled from module constants, never from input

CAMPAIGNS_SQL = f"""
INSERT INTO campaigns (id, design_id, product_name, state, unit_price_cents, currency, goal_units,
                       production_cost_cents, royalty_cents, platform_cents, starts_at, deadline,
                       created_at, created_by_id, closed_at, delivery_month, ships_from,
                       shipping_domestic_cents, shipping_eu_cents, shipping_world_cents)
SELECT id, design_id, left(product || ' ' || title, 80), state, price, currency, 1,
       price * 55 / 100, price / 10, price - price * 55 / 100 - price / 10,
       starts_at, deadline, starts_at - interval '1 day', %(operator)s,
       CASE WHEN deadline <= {NOW} THEN least({NOW}, deadline + interval '1 minute') END,
       date_trunc('month', deadline + interval '1 day' * (lead_days + 7))::date,
       'FR', 490, 890, 1490
FROM bench_campaigns
"""  # noqa: S608 - assembled from module constants, never from input

# A campaign's variants are its product's first three (a mug has two).
CAMPAIGN_VARIANTS_SQL = """
INSERT INTO campaign_variants (id, campaign_id, label, position, unit_limit, reserved_units)
SELECT (c.id - 1) * 3 + v.position + 1, c.id, c.labels[v.position + 1], v.position, NULL, 0
FROM bench_campaigns AS c, generate_series(0, 2) AS v(position)
WHERE v.position < cardinality(c.labels)
"""

# 40-160 pledges per open campaign (about 30,000), made between its start and its deadline
# (or now), by backers skewed towards the first members, so many back again. 5 % never saved
# a card, 3 % were withdrawn. A funded campaign's charges: 94 % succeed at the deadline, 3 %
# fail and succeed on the retry two days later, 3 % fail twice and are dropped after the
# 7-day window (errored until then); 0.5 % of the collected are refunded three days after.
PLEDGE_PLAN_SQL = f"""
CREATE TEMP TABLE bench_pledges ON COMMIT DROP AS
SELECT q.*,
       q.price * q.quantity + q.shipping AS amount,
       CASE
           WHEN q.state = 'live' THEN
               CASE WHEN NOT q.has_card THEN 'pending_card'
                    WHEN q.withdrawn THEN 'cancelled' ELSE 'active' END
           WHEN q.state = 'failed' OR NOT q.has_card OR q.withdrawn THEN 'cancelled'
           WHEN q.roll < 3 THEN CASE WHEN {NOW} > q.deadline + interval '7 days'
                                     THEN 'dropped' ELSE 'errored' END
           WHEN q.roll < 6 THEN CASE WHEN {NOW} > q.deadline + interval '2 days 1 hour'
                                     THEN 'collected' ELSE 'errored' END
           WHEN mod(q.id, 200) = 7 AND {NOW} > q.deadline + interval '4 days' THEN 'refunded'
           ELSE 'collected' END AS fate,
       CASE WHEN q.roll < 6 THEN q.deadline + interval '2 days'
            ELSE q.deadline + interval '1 minute' END + interval '1 second' * q.seq AS paid_at
FROM (
    SELECT row_number() OVER (ORDER BY r.created_at, r.campaign_id, r.k)::int AS id,
           row_number() OVER (PARTITION BY r.campaign_id ORDER BY r.created_at, r.k)::int AS seq,
           r.*,
           CASE WHEN r.zone_roll < 0.7 THEN 'domestic' WHEN r.zone_roll < 0.95 THEN 'eu'
                ELSE 'world' END AS zone,
           CASE WHEN r.zone_roll < 0.7 THEN 490 WHEN r.zone_roll < 0.95 THEN 890
                ELSE 1490 END AS shipping
    FROM (
        SELECT c.id AS campaign_id, c.state, c.deadline, c.price, c.currency, c.design_id,
               c.lead_days, k,
               (c.id - 1) * 3 + 1 + mod(k, cardinality(c.labels)) AS variant_id,
               {DESIGNERS} + 1 + floor(power(random(), 1.6) * ({VOTER_POOL} - 1))::int
                   AS backer_id,
               1 + (random() < 0.2)::int + (random() < 0.05)::int AS quantity,
               random() AS zone_roll,
               c.starts_at + (least(c.deadline, {NOW}) - c.starts_at) * random() AS created_at,
               random() >= 0.05 AS has_card,
               random() < 0.03 AS withdrawn,
               floor(random() * 100)::int AS roll
        FROM bench_campaigns AS c
        CROSS JOIN LATERAL generate_series(
            1, CASE WHEN c.state = 'scheduled' THEN 0 ELSE 40 + mod(c.id * 37, 121) END) AS k
    ) AS r
) AS q
"""  # noqa: S608 - assembled from module constants, never from input

PLEDGES_SQL = f"""
INSERT INTO pledges (id, campaign_id, backer_id, variant_id, quantity, amount_cents, currency,
                     state, idempotency_key, payment_method_id, card_summary, created_at,
                     updated_at, shipping_zone, shipping_cents)
SELECT id, campaign_id, backer_id, variant_id, quantity, amount, currency, fate,
       'bench-pledge-' || id,
       CASE WHEN has_card THEN 'pm_bench_' || id END,
       CASE WHEN has_card THEN 'Visa •••• 4242' END,
       created_at,
       CASE WHEN fate IN ('active', 'pending_card') THEN created_at
            WHEN fate = 'cancelled' AND withdrawn AND has_card
                THEN least({NOW}, created_at + interval '1 day')
            WHEN fate = 'cancelled' THEN greatest(created_at,
                                                  least({NOW}, deadline + interval '1 minute'))
            WHEN fate = 'dropped' THEN deadline + interval '7 days'
            WHEN fate = 'refunded' THEN deadline + interval '3 days 1 minute'
            ELSE least({NOW}, paid_at) END,
       zone, shipping
FROM bench_pledges
"""  # noqa: S608 - assembled from module constants, never from input

# Funded campaigns reached 60-90 % of their units at the deadline, failed ones fell short;
# live ones are at 50-140 % of their goal so far.
GOALS_SQL = """
UPDATE campaigns AS c SET goal_units = CASE
    WHEN b.state = 'scheduled' THEN 50 + mod(b.id, 50)
    WHEN b.state = 'live' THEN greatest(1, coalesce(u.units, 0) * 100 / (50 + 30 * mod(b.id, 4)))
    WHEN b.state = 'failed' THEN coalesce(u.units, 0) + 20 + mod(b.id, 50)
    ELSE greatest(1, u.units * (60 + 10 * mod(b.id, 4)) / 100) END
FROM bench_campaigns AS b
LEFT JOIN (SELECT campaign_id, sum(quantity) AS units FROM bench_pledges
           WHERE has_card AND NOT withdrawn GROUP BY campaign_id) AS u ON u.campaign_id = b.id
WHERE c.id = b.id
"""

RESERVED_SQL = f"""
UPDATE campaign_variants AS v SET reserved_units = s.units
FROM (SELECT variant_id, sum(quantity) AS units FROM pledges
      WHERE state IN {COUNTED_SQL} GROUP BY variant_id) AS s
WHERE v.id = s.variant_id
"""  # noqa: S608 - assembled from module constants, never from input

STRIPE_CUSTOMERS_SQL = """
INSERT INTO stripe_customers (user_id, customer_id, created_at)
SELECT backer_id, 'cus_bench_' || backer_id, min(created_at)
FROM bench_pledges WHERE has_card GROUP BY backer_id
"""

CHARGE_ATTEMPTS_SQL = f"""
INSERT INTO charge_attempts (pledge_id, number, trigger, idempotency_key, amount_cents, currency,
                             payment_method_id, payment_intent_id, status, failure_code,
                             failure_message, created_at, updated_at, finished_at, reminded_at)
SELECT p.id, a.number, a.trigger, 'bench-charge-' || p.id || '-' || a.number, p.amount,
       p.currency, 'pm_bench_' || p.id, 'pi_bench_' || p.id || '_' || a.number, a.status,
       CASE WHEN a.status = 'declined' THEN 'card_declined' END,
       CASE WHEN a.status = 'declined' THEN 'Your card was declined.' END,
       a.at - interval '2 seconds', a.at, a.at,
       CASE WHEN a.status = 'declined' THEN a.at END
FROM bench_pledges AS p
CROSS JOIN LATERAL (VALUES
    (1, 'settlement', CASE WHEN p.roll < 6 THEN 'declined' ELSE 'succeeded' END,
     least({NOW}, p.deadline + interval '1 minute' + interval '1 second' * p.seq)),
    (2, 'auto_retry', CASE WHEN p.fate = 'collected' THEN 'succeeded' ELSE 'declined' END,
     p.deadline + interval '2 days' + interval '1 second' * p.seq)
) AS a(number, trigger, status, at)
WHERE p.fate IN ('collected', 'refunded', 'dropped', 'errored')
  AND (a.number = 1 OR (p.roll < 6 AND p.fate IN ('collected', 'dropped')))
"""  # noqa: S608 - assembled from module constants, never from input

REFUNDS_SQL = """
INSERT INTO refunds (pledge_id, attempt_id, amount_cents, currency, reason, requested_by_id,
                     idempotency_key, stripe_refund_id, status, created_at, finished_at)
SELECT p.id, a.id, p.amount, p.currency, 'The backer asked to withdraw (bench data).',
       %(operator)s, 'bench-refund-' || p.id, 're_bench_' || p.id, 'succeeded',
       p.deadline + interval '3 days', p.deadline + interval '3 days 1 minute'
FROM bench_pledges AS p
JOIN charge_attempts AS a ON a.pledge_id = p.id AND a.status = 'succeeded'
WHERE p.fate = 'refunded'
"""

# Asked when the charge succeeds, answered 1-4 days later (before any run is launched).
SURVEYS_SQL = f"""
INSERT INTO surveys (pledge_id, campaign_id, backer_id, requested_at, reminded_at, answered_at,
                     full_name, address_line1, postal_code, city, country)
SELECT p.id, p.campaign_id, p.backer_id, p.paid_at, p.paid_at, s.answered,
       CASE WHEN s.answered IS NOT NULL THEN 'Member ' || p.backer_id END,
       CASE WHEN s.answered IS NOT NULL THEN p.backer_id || ' rue du Banc' END,
       CASE WHEN s.answered IS NOT NULL THEN
           CASE p.zone WHEN 'domestic' THEN '75011' WHEN 'eu' THEN '10115' ELSE '10001' END END,
       CASE WHEN s.answered IS NOT NULL THEN
           CASE p.zone WHEN 'domestic' THEN 'Paris' WHEN 'eu' THEN 'Berlin' ELSE 'New York' END
       END,
       CASE WHEN s.answered IS NOT NULL THEN
           CASE p.zone WHEN 'domestic' THEN 'FR' WHEN 'eu' THEN 'DE' ELSE 'US' END END
FROM bench_pledges AS p
CROSS JOIN LATERAL (
    SELECT CASE WHEN p.fate = 'collected'
                     AND p.paid_at + interval '1 day' * (1 + mod(p.id, 4)) < {NOW}
                THEN p.paid_at + interval '1 day' * (1 + mod(p.id, 4)) END AS answered
) AS s
WHERE p.fate IN ('collected', 'refunded')
"""  # noqa: S608 - assembled from module constants, never from input

# A run is launched a week after the deadline and ships after the campaign's lead time.
RUNS_SQL = """
INSERT INTO production_runs (campaign_id, state, manufacturer, reference, expected_ship_date,
                             created_at, created_by_id)
SELECT id, state, 'Atelier du Banc', 'PO-BENCH-' || id,
       (deadline + interval '1 day' * lead_days)::date, deadline + interval '7 days',
       %(operator)s
FROM bench_campaigns WHERE state IN ('in_production', 'shipped', 'delivered')
"""

RUN_LINES_SQL = """
INSERT INTO run_lines (run_id, variant_id, position, quantity)
SELECT r.id, v.id, v.position, sum(p.quantity)
FROM production_runs AS r
JOIN campaign_variants AS v ON v.campaign_id = r.campaign_id
JOIN pledges AS p ON p.variant_id = v.id AND p.state = 'collected'
GROUP BY r.id, v.id, v.position
"""

# Parcels leave within a day of the run shipping and arrive 3-9 days later.
ORDERS_SQL = """
INSERT INTO orders (run_id, pledge_id, state, tracking_ref, shipped_at, delivered_at)
SELECT r.id, p.id,
       CASE r.state WHEN 'in_production' THEN 'pending' ELSE r.state END,
       CASE WHEN s.shipped IS NOT NULL THEN 'BENCH' || lpad(p.id::text, 10, '0') END,
       s.shipped,
       CASE WHEN r.state = 'delivered' THEN s.shipped + interval '1 day' * (3 + mod(p.id, 7)) END
FROM production_runs AS r
JOIN bench_campaigns AS c ON c.id = r.campaign_id
JOIN bench_pledges AS p ON p.campaign_id = c.id AND p.fate = 'collected'
CROSS JOIN LATERAL (
    SELECT CASE WHEN r.state <> 'in_production'
                THEN c.deadline + interval '1 day' * c.lead_days
                     + interval '1 hour' * mod(p.id, 24) END AS shipped
) AS s
"""

# About half of the delivered orders are rated, 1-21 days after delivery; the score follows
# the design's quality (one in twenty had a bad surprise: two stars fewer); 30 % skip "would
# you recommend us", the others answer in line with their score.
RATINGS_SQL = f"""
INSERT INTO ratings (order_id, user_id, campaign_id, design_id, score, review, recommend,
                     created_at, updated_at, hidden, report_count, reply)
SELECT order_id, user_id, campaign_id, design_id, score,
       CASE WHEN mod(order_id, 3) = 0 THEN
           (ARRAY['Great print, true colours.', 'The fabric is thinner than I hoped.',
                  'Arrived quickly, looks just like the mockup.',
                  'Sizes run small: order one up.', 'My favourite piece this year.'])
               [1 + mod(order_id, 5)]
       ELSE '' END,
       CASE WHEN skip < 0.3 THEN NULL
            ELSE least(10, greatest(0, score * 2 - 1 + floor(lean * 3)::int)) END,
       at, at, false, 0, ''
FROM (
    SELECT o.id AS order_id, p.backer_id AS user_id, p.campaign_id, c.design_id,
           least(5, greatest(1, round({QUALITY.replace("d::", "c.design_id::")}
                                      - 0.2 + random() * 2.4 - 1.2
                                      - 2 * (random() < 0.05)::int)))::int AS score,
           random() AS skip, random() AS lean,
           o.delivered_at + interval '1 day' * (1 + mod(o.id * 3, 21)) AS at
    FROM orders AS o
    JOIN pledges AS p ON p.id = o.pledge_id
    JOIN campaigns AS c ON c.id = p.campaign_id
    WHERE o.state = 'delivered' AND mod(o.id * 7, 100) < 55
      AND o.delivered_at + interval '1 day' * (1 + mod(o.id * 3, 21)) < {NOW}
) AS r
"""  # noqa: S608 - assembled from module constants, never from input

# The royalty is booked when a run is launched (payments.ledger.book_run); a third of the
# designers are paid theirs a month later.
ROYALTIES_SQL = """
INSERT INTO ledger_entries (designer_id, kind, amount_cents, currency, campaign_id, run_id,
                            note, created_at, created_by_id)
SELECT d.designer_id, 'royalty', c.royalty_cents * u.units, c.currency, c.id, r.id,
       'Royalty on production run #' || r.id || ': ' || u.units || ' units of ' || c.product_name,
       r.created_at, %(operator)s
FROM production_runs AS r
JOIN campaigns AS c ON c.id = r.campaign_id
JOIN designs AS d ON d.id = c.design_id
JOIN (SELECT run_id, sum(quantity) AS units FROM run_lines GROUP BY run_id) AS u
    ON u.run_id = r.id
"""

PAYOUTS_SQL = f"""
INSERT INTO ledger_entries (designer_id, kind, amount_cents, currency, payout_reference, note,
                            created_at, created_by_id)
SELECT designer_id, 'payout', -amount_cents, currency, 'BENCH-TRANSFER-' || id,
       'Payout: BENCH-TRANSFER-' || id, created_at + interval '30 days', %(operator)s
FROM ledger_entries
WHERE kind = 'royalty' AND mod(run_id, 3) = 0 AND created_at + interval '30 days' < {NOW}
"""  # noqa: S608 - assembled from module constants, never from input

BACKING_TABLES = (
    "campaigns",
    "campaign_variants",
    "pledges",
    "stripe_customers",
    "charge_attempts",
    "refunds",
    "surveys",
    "production_runs",
    "run_lines",
    "orders",
    "ratings",
    "ledger_entries",
)
KPI_TABLES = ("kpi_days", "kpi_money", "kpi_activity", "kpi_accounts", "kpi_cohorts")


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


def _flask(url: str, *args: str, timeout: float = 300) -> None:
    """A ``flask`` command against the bench database, as a deploy or the cron runs it."""
    env = {
        **os.environ,
        "MARKETPLACE_ENV": "development",
        "DATABASE_URL": url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
    }
    flask = Path(sys.executable).with_name("flask")
    subprocess.run(
        [str(flask), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=timeout,
    )


def migrate(url: str) -> None:
    """Build the schema the way a deploy does: ``flask db upgrade``."""
    _flask(url, "db", "upgrade")


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


def ensure_operator(conn: psycopg.Connection) -> int:
    """The operator account (``OPERATOR_EMAIL``, the bench password); returns its id."""
    found = conn.execute("SELECT id FROM users WHERE email = %s", (OPERATOR_EMAIL,)).fetchone()
    if found:
        return found[0]
    return conn.execute(
        f"""INSERT INTO users (email, display_name, password_hash, created_at, email_verified_at,
                               is_operator, session_version)
            VALUES (%s, 'Bench operator', %s, {NOW} - interval '800 days',
                    {NOW} - interval '800 days', true, 1)
            RETURNING id""",  # noqa: S608 - constants only
        (OPERATOR_EMAIL, _password_hash()),
    ).fetchone()[0]


def populate_backing(conn: psycopg.Connection, operator_id: int) -> None:
    """A year of backing and rating, in one transaction (so it is all there or not at all)."""
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET work_mem = '64MB'")
    conn.execute("SELECT setseed(0.17)")
    op = {"operator": operator_id}
    with conn.transaction():
        _step(conn, "campaign plan", CAMPAIGN_PLAN_SQL)
        _step(conn, "campaigns", CAMPAIGNS_SQL, op)
        conn.execute(
            "UPDATE designs SET state = 'campaign' "
            "WHERE id IN (SELECT design_id FROM bench_campaigns)"
        )
        _step(conn, "campaign_variants", CAMPAIGN_VARIANTS_SQL)
        _step(conn, "pledge plan", PLEDGE_PLAN_SQL)
        _step(conn, "pledges", PLEDGES_SQL)
        for table in ("campaigns", "campaign_variants", "pledges"):
            conn.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, 'id'), max(id)) FROM {i}"
                ).format(t=sql.Literal(table), i=sql.Identifier(table))
            )
        _step(conn, "campaign goals", GOALS_SQL)
        _step(conn, "variants' reserved units", RESERVED_SQL)
        _step(conn, "stripe_customers", STRIPE_CUSTOMERS_SQL)
        _step(conn, "charge_attempts", CHARGE_ATTEMPTS_SQL)
        _step(conn, "refunds", REFUNDS_SQL, op)
        _step(conn, "surveys", SURVEYS_SQL)
        _step(conn, "production_runs", RUNS_SQL, op)
        _step(conn, "run_lines", RUN_LINES_SQL)
        _step(conn, "orders", ORDERS_SQL)
        _step(conn, "ratings", RATINGS_SQL)
        _step(conn, "ledger royalties", ROYALTIES_SQL, op)
        _step(conn, "ledger payouts", PAYOUTS_SQL, op)
    tables = sql.SQL(", ").join(sql.Identifier(t) for t in ("designs", *BACKING_TABLES))
    _step(conn, "VACUUM (ANALYZE) of those", sql.SQL("VACUUM (ANALYZE) {}").format(tables))


def _timed_flask(url: str, label: str, *args: str) -> float:
    started = time.perf_counter()
    _flask(url, *args, timeout=3600)
    seconds = time.perf_counter() - started
    print(f"seed:   {label:<44} {seconds:6.1f} s", flush=True)
    return seconds


def build_rollups(url: str, conn: psycopg.Connection, rebuild: bool) -> dict[str, float]:
    """The KPI rollups as production keeps them: ``flask kpis rebuild`` when the data set is
    new (every day from the first), then one incremental ``flask kpis roll-up``, what the cron
    runs every 15 minutes; on a reused data set only the roll-up, which brings them to today.
    Returns the seconds each took (what the page bench reports)."""
    timings = {}
    if rebuild:
        timings["rebuild"] = _timed_flask(url, "flask kpis rebuild", "kpis", "rebuild")
        # Autovacuum would analyse them soon after in production; here it would do so during
        # the first measurements, and the planner would meet the tables without statistics.
        tables = sql.SQL(", ").join(sql.Identifier(t) for t in KPI_TABLES)
        _step(conn, "VACUUM (ANALYZE) of rollups", sql.SQL("VACUUM (ANALYZE) {}").format(tables))
    timings["roll_up"] = _timed_flask(url, "flask kpis roll-up (incremental)", "kpis", "roll-up")
    return timings


def backing_counts(conn: psycopg.Connection) -> dict[str, int]:
    return {
        t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
        for t in (*BACKING_TABLES, *KPI_TABLES)
    }


@dataclass
class Seeded:
    counts: dict[str, int]
    #: Seconds of ``flask kpis rebuild`` (when it ran) and of the incremental ``roll-up``.
    rollups: dict[str, float]


def seed(reseed: bool = False, url: str | None = None) -> Seeded:
    """Make sure the bench database is migrated and fully seeded, the year of backing and
    its rollups included; returns its row counts and how long the rollups took."""
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
        elif before["designs"] or before["votes"] or before["users"]:
            raise SystemExit(
                "seed: the bench database holds a partial data set; run "
                "`python -m bench.seed --reseed` to start over"
            )
        else:
            populate(conn)
            # VACUUM too: left to autovacuum, it would run during the first measurements.
            _step(conn, "VACUUM (ANALYZE)", "VACUUM (ANALYZE)")
        operator_id = ensure_operator(conn)
        # A database seeded before the year of backing existed gets it added on top: the
        # designs and votes it draws on are the same.
        campaigns = conn.execute("SELECT count(*) FROM campaigns").fetchone()[0]
        added = False
        if campaigns == 0:
            print("seed: adding a year of backing and rating")
            populate_backing(conn, operator_id)
            added = True
        else:
            print(f"seed: {campaigns:,} campaigns already there; skipping the backing")
        rolled = conn.execute("SELECT rolled_through FROM kpi_rollups WHERE id = 1").fetchone()
        timings = build_rollups(url, conn, rebuild=added or not (rolled and rolled[0]))
        after = {**counts(conn), **backing_counts(conn)}
    print("seed: " + ", ".join(f"{table} {n:,}" for table, n in after.items()))
    print(f"seed: done in {time.perf_counter() - started:.1f} s")
    return Seeded(after, timings)


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
