"""``python -m bench.settle_floor``: the best ratio to localstripe a settlement could reach with
one worker, if it keeps what the issue asks of it.

``bench.settle`` compares the workers' charges/s with localstripe's own PaymentIntents/s. With
one worker, everything a charge costs happens one after the other, so the best ratio is

    baseline time per charge / (baseline time + the charge's own bookkeeping + its job)

This measures the three terms on the same database, Redis and localstripe as ``bench.settle``,
with as many pledges (localstripe slows down as its store fills, so the baseline term, and with
it the floor, depends on that number; the other two do not):

1. **baseline**: ``bench.settle``'s K=1 baseline (create, then confirm a PaymentIntent);
2. **bookkeeping**: for each pledge of a seeded campaign, the statements the exactly-once
   protocol commits (the same ones ``payments.charging`` sends, read off its SQL log: the
   attempt recorded before Stripe is called, the intent's id recorded before it is confirmed,
   the outcome, the pledge's transitions and audit rows, the survey, the receipt in the mail
   outbox and its job), in three durable transactions, on plain psycopg: no ORM, no
   SQLAlchemy, no templates; then once more on fresh pledges with the exactly-once core
   alone (no survey, no receipt, no mail job), the least any charge could write;
3. **job**: an RQ job that does nothing, run by the same worker class as ``flask worker
   settlement --no-fork`` (one job per pledge is what the issue asks), and by RQ's own
   SimpleWorker, without the app, for what RQ itself costs.

It prints each term, the floors (with and without the job, and with the core alone), and how
much time per charge the target leaves next to what the real workers spend. Nothing here is a
charge: the bookkeeping step writes made-up intent ids.
"""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from bench import settle


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _transition(conn, pledge_id: int, event: str, before: str, after: str) -> None:
    """A pledge's state change and its audit row, as ``pledge_transition`` writes them."""
    conn.execute(
        "UPDATE pledges SET state = %s, updated_at = %s WHERE id = %s", (after, _now(), pledge_id)
    )
    conn.execute(
        "INSERT INTO audit_events (created_at, action, subject_type, subject_id, from_state,"
        " to_state) VALUES (%s, %s, 'pledge', %s, %s, %s)",
        (_now(), f"pledge.{event}", pledge_id, before, after),
    )


def bookkeeping(
    url: str, pledge_ids: list[int], rq_redis: redis.Redis, receipts: bool = True
) -> float:
    """Seconds per pledge for the protocol's statements, committed as settlement commits.
    Without ``receipts``, only the exactly-once core: no survey row, no receipt mail and no
    mail job."""
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        for pledge_id in pledge_ids:
            with conn.transaction():  # 1. the attempt, before Stripe is called
                pledge = conn.execute(
                    "SELECT campaign_id, backer_id, amount_cents, currency, payment_method_id"
                    " FROM pledges WHERE id = %s FOR UPDATE",
                    (pledge_id,),
                ).fetchone()
                campaign_id, backer_id, amount, currency, card = pledge
                conn.execute("SELECT state FROM campaigns WHERE id = %s", (campaign_id,))
                conn.execute(
                    "SELECT id FROM charge_attempts WHERE pledge_id = %s"
                    " ORDER BY number DESC LIMIT 1",
                    (pledge_id,),
                )
                attempt_id = conn.execute(
                    "INSERT INTO charge_attempts (pledge_id, number, trigger, idempotency_key,"
                    " amount_cents, currency, payment_method_id, status, created_at, updated_at)"
                    " VALUES (%s, 1, 'settlement', %s, %s, %s, %s, 'started', %s, %s)"
                    " RETURNING id",
                    (
                        pledge_id,
                        f"pledge-{pledge_id}-attempt-1-{secrets.token_hex(6)}",
                        amount,
                        currency,
                        card or "pm_card_visa",
                        _now(),
                        _now(),
                    ),
                ).fetchone()[0]
                _transition(conn, pledge_id, "charge", "active", "charging")
            with conn.transaction():  # 2. the intent's id, before it is confirmed
                conn.execute("SELECT id FROM pledges WHERE id = %s FOR UPDATE", (pledge_id,))
                conn.execute("SELECT status FROM charge_attempts WHERE id = %s", (attempt_id,))
                conn.execute(
                    "SELECT customer_id FROM stripe_customers WHERE user_id = %s", (backer_id,)
                )
                conn.execute(
                    "UPDATE charge_attempts SET payment_intent_id = %s, updated_at = %s"
                    " WHERE id = %s",
                    (f"pi_floor_{attempt_id}_{secrets.token_hex(4)}", _now(), attempt_id),
                )
            with conn.transaction():  # 3. the outcome
                conn.execute("SELECT id FROM pledges WHERE id = %s FOR UPDATE", (pledge_id,))
                conn.execute("SELECT status FROM charge_attempts WHERE id = %s", (attempt_id,))
                conn.execute(
                    "UPDATE charge_attempts SET status = 'succeeded', finished_at = %s,"
                    " updated_at = %s WHERE id = %s",
                    (_now(), _now(), attempt_id),
                )
                _transition(conn, pledge_id, "succeed", "charging", "collected")
                if receipts:
                    conn.execute("SELECT id FROM surveys WHERE pledge_id = %s", (pledge_id,))
                    conn.execute(
                        "INSERT INTO surveys (pledge_id, campaign_id, backer_id, requested_at,"
                        " reminded_at) VALUES (%s, %s, %s, %s, %s)",
                        (pledge_id, campaign_id, backer_id, _now(), _now()),
                    )
                    conn.execute("SELECT email FROM users WHERE id = %s", (backer_id,))
                    mail_id = conn.execute(
                        "INSERT INTO outbox_mails (created_at, to_address, user_id, kind, subject,"
                        " body_text, status, attempts) VALUES (%s, 'floor@example.com', %s,"
                        " 'charge_succeeded', 'Your pledge is paid', 'Thank you.', 'pending', 0)"
                        " RETURNING id",
                        (_now(), backer_id),
                    ).fetchone()[0]
            if receipts:
                # The receipt's job, as one pipelined write (RQ's enqueue is one too).
                with rq_redis.pipeline() as pipe:
                    pipe.hset(f"floor:job:{mail_id}", mapping={"mail": mail_id, "status": "queued"})
                    pipe.rpush("floor:queue", mail_id)
                    pipe.execute()
            with conn.transaction():  # is the campaign settled?
                conn.execute(
                    "SELECT id FROM pledges WHERE campaign_id = %s AND state IN"
                    " ('active', 'charging', 'errored', 'action_required') LIMIT 1",
                    (campaign_id,),
                )
        return (time.perf_counter() - started) / len(pledge_ids)


def _seeded_pledges(setup: settle.Setup, url: str, count: int, backers) -> list[int]:
    campaign_id = settle.seed_campaign(setup, count, backers)
    with psycopg.connect(url) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT id FROM pledges WHERE campaign_id = %s ORDER BY id", (campaign_id,)
            )
        ]


def empty_jobs(setup: settle.Setup, count: int) -> float:
    """Seconds per job for RQ jobs that do nothing, in the settlement worker's class."""
    from rq import Queue

    from marketplace.kernel.queues import get_queue, make_worker

    with setup.app.app_context():
        queue = get_queue("settlement")
        queue.empty()
        queue.enqueue_many([Queue.prepare_data("builtins.len", ([1],)) for _ in range(count)])
        worker = make_worker(setup.app, ("settlement",), simple=True)
        started = time.perf_counter()
        worker.work(burst=True, logging_level="WARNING")
        return (time.perf_counter() - started) / count


def plain_rq_jobs(count: int) -> float:
    """The same, in RQ's own SimpleWorker without the app: what RQ itself costs per job."""
    from rq import Queue, SimpleWorker

    connection = redis.Redis.from_url(settle.REDIS_URL)
    queue = Queue("settle-floor", connection=connection)
    queue.empty()
    queue.enqueue_many([Queue.prepare_data("builtins.len", ([1],)) for _ in range(count)])
    worker = SimpleWorker([queue], connection=connection)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    return (time.perf_counter() - started) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pledges", type=int, default=settle.env_int("BENCH_SETTLE_PLEDGES", 5000))
    args = parser.parse_args(argv)
    url = settle.database_url()
    settle.prepare_database(url)
    guard = psycopg.connect(url, autocommit=True)
    if not guard.execute("SELECT pg_try_advisory_lock(%s)", (settle.RUN_LOCK,)).fetchone()[0]:
        print("settle_floor: bench.settle is running on this database: wait for it")
        return 1
    from dev.services import localstripe

    backers = settle.backers_for(args.pledges, 10)
    with localstripe() as stripe_url:
        setup = settle.Setup(
            db_url=url,
            stripe_url=stripe_url,
            rate_limit=100_000,
            app=settle.make_app(url, stripe_url, 100_000),
            localstripe_pid=settle.localstripe_pid(stripe_url.rsplit(":", 1)[1]),
            postmaster=settle.postmaster_pid(url),
            logdir=Path(tempfile.mkdtemp(prefix="cocrea-settle-floor-")),
        )
        baseline = settle.baseline_phase(setup, 1, args.pledges, backers)
        settle.flush_everything(setup)
        settle.empty_tables(url)
        rq_redis = redis.Redis.from_url(settle.REDIS_URL)
        books = bookkeeping(url, _seeded_pledges(setup, url, args.pledges, backers), rq_redis)
        # seed_campaign empties the tables first: the core runs on a fresh campaign.
        core = bookkeeping(
            url, _seeded_pledges(setup, url, args.pledges, backers), rq_redis, receipts=False
        )
        job = empty_jobs(setup, args.pledges)
        rq_alone = plain_rq_jobs(args.pledges)
        settle.flush_everything(setup)
        settle.empty_tables(url)

    per_charge = 1 / baseline.rate
    print(f"\nOne worker, {args.pledges:,} pledges (ms per charge, one after the other)")
    print(f"  localstripe baseline (create + confirm)   {per_charge * 1000:6.2f}")
    print(f"  protocol bookkeeping, plain psycopg        {books * 1000:6.2f}")
    print(f"    of which the exactly-once core alone     {core * 1000:6.2f}")
    print(f"  an empty RQ job (settlement worker)        {job * 1000:6.2f}")
    print(f"  an empty RQ job (RQ's SimpleWorker alone)  {rq_alone * 1000:6.2f}")
    with_job = per_charge / (per_charge + books + job)
    without_job = per_charge / (per_charge + books)
    print(f"floor: {100 * with_job:.1f} % of localstripe's rate with a job per pledge,")
    print(f"       {100 * without_job:.1f} % without any job (target {settle.TARGET_PCT:.0f} %),")
    core_only = per_charge / (per_charge + core + job)
    print(f"       {100 * core_only:.1f} % with a job but no survey, receipt or mail job;")
    budget = per_charge * (100 / settle.TARGET_PCT - 1)
    print(
        f"the target leaves {budget * 1000:.2f} ms per charge for everything but Stripe; "
        f"the floor's bookkeeping and job take {(books + job) * 1000:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
