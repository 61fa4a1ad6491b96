"""``python -m bench.settle``: how fast RQ workers settle a funded campaign's pledges, next to
how fast localstripe itself creates and confirms PaymentIntents at the same concurrency, and
how much memory a worker needs for 1,000 and for 5,000 pledges.

Each measured phase starts from a flushed localstripe, because its requests get slower as its
in-memory store grows; the settlement and its baseline are measured one after the other, so
they see the same machine at (nearly) the same moment, and only their ratio is compared.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import multiprocessing as mp
import os
import queue
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
import redis
from psycopg import sql

from bench import seed as seeding
from bench.cli import BenchError, guarded
from tests.helpers import (
    CHARGE_CARDS,
    REFERENCE_TABLES,
    campaign_terms,
    card_method,
    card_summary,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/cocrea_bench_settle"
#: Db 13: the page bench flushes 14, the test suite uses 15 and the fault tests 11-12.
REDIS_URL = "redis://127.0.0.1:6379/13"
STRIPE_KEY = "sk_test_bench_settle"
CARD = CHARGE_CARDS["visa"]
PRICE_CENTS = 2500
#: Settlement charges/s as a share of localstripe's own PaymentIntents/s (the issue's target).
TARGET_PCT = 80.0
#: "Flat" memory: the peak at the larger pledge count at most this much above the smaller one.
FLAT_TOLERANCE_PCT = 10.0
#: Tables the migrations fill (reference data) or own: kept when a phase empties the rest.
KEEP_TABLES = (*REFERENCE_TABLES, "alembic_version")
SAMPLE_SECONDS = 0.05
#: pg_try_advisory_lock key held for a whole run.
RUN_LOCK = 0x5E771E


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def int_list(raw: str) -> list[int]:
    values = [int(part) for part in raw.replace(" ", "").split(",") if part]
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"{raw!r}: give positive integers, comma-separated")
    return values


# --- /proc readings ---------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        # The command name may hold spaces and parentheses: split after the last ")".
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU time of a process; with ``children``, also of its descendants it has reaped
    (a worker reaps each horse, the postmaster each backend)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICKS


def child_pids(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the process's peak RSS so far), in kB."""
    found = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return found


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores together, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def postgres_cpu(postmaster: int | None) -> float:
    """CPU of the whole PostgreSQL server: the postmaster, its live children and the ones it
    has reaped (each horse opens a connection, so most backends end within a phase)."""
    if postmaster is None:
        return 0.0
    return cpu_seconds(postmaster, children=True) + sum(
        cpu_seconds(pid) for pid in child_pids(postmaster)
    )


@dataclass
class CpuMark:
    machine_busy: float
    machine_total: float
    localstripe: float
    postgres: float
    processes: dict[int, float] = field(default_factory=dict)


def cpu_mark(localstripe_pid: int, postmaster: int | None, pids: list[int]) -> CpuMark:
    busy, total = machine_cpu()
    return CpuMark(
        machine_busy=busy,
        machine_total=total,
        localstripe=cpu_seconds(localstripe_pid),
        postgres=postgres_cpu(postmaster),
        processes={pid: cpu_seconds(pid, children=True) for pid in pids},
    )


def cpu_report(before: CpuMark, after: CpuMark, charges: int, clients_cpu: float) -> dict:
    """CPU per charge, in ms, of the clients (workers or baseline processes), localstripe
    and PostgreSQL, and how busy the machine's cores were."""
    total = after.machine_total - before.machine_total
    return {
        "client_ms_per_charge": round(1000 * clients_cpu / charges, 2),
        "localstripe_ms_per_charge": round(
            1000 * (after.localstripe - before.localstripe) / charges, 2
        ),
        "postgres_ms_per_charge": round(1000 * (after.postgres - before.postgres) / charges, 2),
        "machine_busy_pct": round(100 * (after.machine_busy - before.machine_busy) / total, 1)
        if total
        else None,
    }


class MemorySampler:
    """Polls the workers and their children (work-horses, RQ's scheduler) for their peak RSS.

    A horse may live for a few tens of milliseconds and be missed; the kernel's figure from
    ``wait4`` at the end (``Workers.stop``) misses none, this one shows the live split.
    """

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.parent_hwm_kb = dict.fromkeys(pids, 0)
        self.child_hwm_kb = dict.fromkeys(pids, 0)
        self.tree_rss_kb = dict.fromkeys(pids, 0)
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> None:
        self.samples += 1
        for pid in self.pids:
            own = status_kb(pid)
            if not own:
                continue
            self.parent_hwm_kb[pid] = max(self.parent_hwm_kb[pid], own.get("VmHWM", 0))
            tree = own.get("VmRSS", 0)
            for child in child_pids(pid):
                seen = status_kb(child)
                self.child_hwm_kb[pid] = max(self.child_hwm_kb[pid], seen.get("VmHWM", 0))
                tree += seen.get("VmRSS", 0)
            self.tree_rss_kb[pid] = max(self.tree_rss_kb[pid], tree)


def mb(kb: int | float) -> float:
    return round(kb / 1024, 1)


# --- services ---------------------------------------------------------------------------------


def database_url() -> str:
    return os.environ.get("BENCH_SETTLE_DATABASE_URL", DEFAULT_URL)


def prepare_database(url: str) -> None:
    name = seeding._dbname(url)
    # Other people's databases on this server: the suite's, the fault tests', the page bench's.
    if name in ("test_faults", "cocrea_bench"):
        raise SystemExit(f"refusing to use the {name!r} database: use a dedicated one")
    seeding.ensure_database(url)
    flask = Path(sys.executable).with_name("flask")
    subprocess.run(
        [str(flask), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, "MARKETPLACE_ENV": "development", "DATABASE_URL": url},
        check=True,
        timeout=300,
    )


def postmaster_pid(url: str) -> int | None:
    """The server's main process, when it runs on this machine (its /proc is readable)."""
    with psycopg.connect(seeding.conninfo(url)) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    fields = _stat_fields(backend)
    return int(fields[1]) if fields else None


def localstripe_pid(port: str) -> int:
    for pid in child_pids(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"dev.localstripe_server" in cmdline and port.encode() in cmdline:
            return pid
    raise BenchError("cannot find the localstripe process this bench started")


@dataclass
class Setup:
    db_url: str
    stripe_url: str
    rate_limit: int
    app: object
    localstripe_pid: int
    postmaster: int | None
    logdir: Path

    def worker_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FLASK_APP": "wsgi",
            "MARKETPLACE_ENV": "development",
            "DATABASE_URL": self.db_url,
            "REDIS_URL": REDIS_URL,
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "STRIPE_API_BASE": self.stripe_url,
            "STRIPE_SECRET_KEY": STRIPE_KEY,
            "STRIPE_RATE_LIMIT": str(self.rate_limit),
            "MAIL_BACKEND": "console",
            "PYTHONUNBUFFERED": "1",
        }


def make_app(db_url: str, stripe_url: str, rate_limit: int):
    from config import DevelopmentConfig, normalise_database_url
    from marketplace import create_app

    return create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=normalise_database_url(db_url),
        REDIS_URL=REDIS_URL,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        STRIPE_API_BASE=stripe_url,
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_RATE_LIMIT=rate_limit,
        MAIL_BACKEND="console",
    )


def stripe_client(base_url: str):
    """Built as ``payments.gateway.client`` builds it, so both sides pay the same library."""
    import stripe

    return stripe.StripeClient(
        STRIPE_KEY,
        base_addresses={"api": base_url},
        http_client=stripe.RequestsClient(timeout=(5, 30)),
        max_network_retries=0,
    )


def saved_cards(stripe_url: str, count: int, threads: int = 8) -> list[tuple[str, str]]:
    """``count`` Customers, each with a card PaymentMethod attached, as a SetupIntent leaves
    them; created from several threads because localstripe answers one call at a time, and a
    few hundred sequential round trips would dominate the seeding."""
    client = stripe_client(stripe_url)

    def make(n: int) -> tuple[str, str]:
        customer = client.v1.customers.create(params={"email": f"backer{n}@bench.example"})
        pm = card_method(client, CARD)
        client.v1.payment_methods.attach(pm.id, params={"customer": customer.id})
        return customer.id, pm.id

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(make, range(count)))


def flush_everything(setup: Setup) -> None:
    from dev.services import flush_localstripe

    flush_localstripe(setup.stripe_url)
    redis.Redis.from_url(REDIS_URL).flushdb()


# --- seeding a campaign -----------------------------------------------------------------------


def empty_tables(url: str) -> None:
    with psycopg.connect(seeding.conninfo(url), autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND NOT (tablename = ANY(%s))",
                (list(KEEP_TABLES),),
            )
        ]
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in tables)
            )
        )


def seed_campaign(setup: Setup, pledges: int, backers: int) -> int:
    """A live campaign with ``pledges`` active pledges (quantity 1) spread over ``backers``
    accounts, each with a Customer and a saved card in localstripe; returns its id."""
    import sqlalchemy as sa

    from designs.models import Design, DesignState, Product
    from marketplace.accounts.models import User
    from marketplace.campaigns.models import (
        Campaign,
        CampaignState,
        CampaignVariant,
        Pledge,
        PledgeState,
    )
    from marketplace.kernel.dbtypes import utcnow
    from marketplace.kernel.extensions import db
    from payments.models import StripeCustomer

    empty_tables(setup.db_url)
    cards = saved_cards(setup.stripe_url, backers)
    with setup.app.app_context():
        now = utcnow()
        terms = setup.app.config["DESIGNER_TERMS_VERSION"]
        # Nobody logs in: an unusable hash spares a scrypt per account.
        people = [
            {"email": "designer@bench.example", "display_name": "Bench designer"},
            {"email": "operator@bench.example", "display_name": "Bench operator"},
        ] + [
            {"email": f"backer{n}@bench.example", "display_name": f"Backer {n}"}
            for n in range(backers)
        ]
        for person in people:
            person.update(password_hash="!", email_verified_at=now, session_version=1)  # noqa: S106
        user_ids = list(db.session.scalars(sa.insert(User).returning(User.id), people))
        designer_id, operator_id, backer_ids = user_ids[0], user_ids[1], user_ids[2:]
        db.session.execute(
            sa.update(User)
            .where(User.id == designer_id)
            .values(designer_terms_version=terms, designer_terms_accepted_at=now)
        )
        design = Design(
            designer_id=designer_id,
            product_id=db.session.scalar(sa.select(Product.id).order_by(Product.id).limit(1)),
            title="Settlement bench tee",
            state=DesignState.CAMPAIGN,
            artwork_key="bench-settle",
            artwork_width=800,
            artwork_height=800,
            artwork_format="PNG",
            terms_version=terms,
            submitted_at=now - dt.timedelta(days=30),
        )
        db.session.add(design)
        db.session.flush()
        variant = CampaignVariant(label="M", position=0, reserved_units=pledges)
        campaign = Campaign(
            design_id=design.id,
            product_name="Bench tee",
            state=CampaignState.LIVE,
            goal_units=pledges,
            **campaign_terms(PRICE_CENTS),
            starts_at=now - dt.timedelta(days=10),
            deadline=now + dt.timedelta(days=10),
            created_by_id=operator_id,
            variants=[variant],
        )
        db.session.add(campaign)
        db.session.flush()
        db.session.execute(
            sa.insert(StripeCustomer),
            [
                {"user_id": uid, "customer_id": customer}
                for uid, (customer, _) in zip(backer_ids, cards, strict=True)
            ],
        )
        db.session.execute(
            sa.insert(Pledge),
            [
                {
                    "campaign_id": campaign.id,
                    "backer_id": backer_ids[n % backers],
                    "variant_id": variant.id,
                    "quantity": 1,
                    "amount_cents": PRICE_CENTS,
                    "currency": "EUR",
                    "state": PledgeState.ACTIVE,
                    "idempotency_key": secrets.token_urlsafe(24),
                    "payment_method_id": cards[n % backers][1],
                    "card_summary": card_summary(CARD),
                }
                for n in range(pledges)
            ],
        )
        campaign_id = campaign.id
        db.session.commit()
        db.session.remove()
    with psycopg.connect(seeding.conninfo(setup.db_url), autocommit=True) as conn:
        # Fresh statistics, or the planner guesses on tables it last saw empty.
        conn.execute("ANALYZE")
    return campaign_id


# --- workers ----------------------------------------------------------------------------------


class Workers:
    """K worker processes, each in a session of its own so that Ctrl-C reaches them only
    through ``stop``; their exit status is collected with ``wait4``, whose resource usage
    includes every horse they reaped, so its peak RSS covers the horses too."""

    def __init__(self, setup: Setup, count: int, worker_class: str, label: str):
        self.setup = setup
        self.count = count
        self.worker_class = worker_class
        self.label = label
        self.procs: list[subprocess.Popen] = []
        self.rusage: dict[int, resource.struct_rusage] = {}

    def command(self) -> list[str]:
        command = [str(Path(sys.executable).with_name("flask")), "worker", "settlement"]
        return command + (["--no-fork"] if self.worker_class == "no-fork" else [])

    def start(self) -> None:
        for n in range(self.count):
            log = open(self.setup.logdir / f"{self.label}-worker{n}.log", "wb")  # noqa: SIM115
            with log:
                self.procs.append(
                    subprocess.Popen(
                        self.command(),
                        cwd=ROOT,
                        env=self.setup.worker_env(),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def wait_ready(self, timeout: float = 90) -> None:
        """Until every worker has registered in Redis (the app imported, the queue
        listened to): their start-up is not part of the measurement."""
        from rq import Worker

        conn = redis.Redis.from_url(REDIS_URL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if len(Worker.all(connection=conn)) >= self.count:
                return
            time.sleep(0.2)
        raise BenchError(f"{self.count} workers not registered after {timeout:.0f} s")

    def check_alive(self) -> None:
        for n, proc in enumerate(self.procs):
            if proc.poll() is not None:
                log = self.setup.logdir / f"{self.label}-worker{n}.log"
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
                raise BenchError(f"worker {n} exited with code {proc.returncode}:\n{tail}")

    def stop(self, timeout: float = 30) -> None:
        """RQ's warm shutdown (SIGTERM: finish the job in hand), then reap each one."""
        for proc in self.procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            if proc.returncode is not None:
                continue
            deadline = time.monotonic() + timeout
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    self.rusage[proc.pid] = usage
                    break
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGKILL)
                    deadline = time.monotonic() + timeout
                time.sleep(0.05)

    def peak_rss_kb(self) -> dict[int, int]:
        return {pid: usage.ru_maxrss for pid, usage in self.rusage.items()}


#: The mail templates a charge renders, compiled once in the worker rather than in each horse.
# --- one settlement phase ---------------------------------------------------------------------


def quintile_rates(seconds_since_start: list[float]) -> list[float]:
    """Charges/s within each fifth of the charges, in the order they finished: localstripe
    slows as its store fills, so the first fifth shows the overhead at its least hidden."""
    done = sorted(seconds_since_start)
    n = len(done)
    rates, previous = [], 0.0
    for q in range(1, 6):
        end = done[max(0, q * n // 5 - 1)]
        count = q * n // 5 - (q - 1) * n // 5
        rates.append(round(count / (end - previous), 1) if end > previous else 0.0)
        previous = end
    return rates


def pledge_states(url: str, campaign_id: int) -> dict[str, int]:
    with psycopg.connect(seeding.conninfo(url)) as conn:
        return dict(
            conn.execute(
                "SELECT state, count(*) FROM pledges WHERE campaign_id = %s GROUP BY state",
                (campaign_id,),
            ).fetchall()
        )


def wait_settled(setup: Setup, workers: Workers, campaign_id: int, pledges: int, label: str):
    """Poll the campaign's state until it is settled; fail when charges stop moving."""
    stall_seconds = 120
    started = last_progress = time.monotonic()
    last_count, last_print = -1, started
    with psycopg.connect(seeding.conninfo(setup.db_url), autocommit=True) as conn:
        while True:
            state = conn.execute(
                "SELECT state FROM campaigns WHERE id = %s", (campaign_id,)
            ).fetchone()[0]
            if state == "settled":
                return
            now = time.monotonic()
            if now - last_print >= 10:
                collected = conn.execute(
                    "SELECT count(*) FROM pledges WHERE campaign_id = %s AND state = 'collected'",
                    (campaign_id,),
                ).fetchone()[0]
                elapsed = now - started
                print(
                    f"settle:   {label}: {collected:,}/{pledges:,} collected after "
                    f"{elapsed:.0f} s ({collected / elapsed:.1f}/s)",
                    flush=True,
                )
                if collected != last_count:
                    last_count, last_progress = collected, now
                elif now - last_progress > stall_seconds:
                    log = setup.logdir / f"{label}-worker0.log"
                    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                    raise BenchError(
                        f"{label}: no charge for {stall_seconds} s (campaign {state}); "
                        f"worker logs in {setup.logdir}; the first one ends with:\n{tail}"
                    )
                last_print = now
            workers.check_alive()
            time.sleep(0.1)


@dataclass
class Phase:
    kind: str  # "settlement" or "baseline"
    workers: int
    pledges: int
    seconds: float
    rate: float
    quintile_rates: list[float]
    cpu: dict
    errors: int
    details: dict = field(default_factory=dict)


def settle_phase(
    setup: Setup, workers_count: int, pledges: int, backers: int, worker_class: str
) -> Phase:
    label = f"settle-k{workers_count}-n{pledges}"
    print(f"settle: {label}: seeding {pledges:,} pledges of {backers:,} backers", flush=True)
    flush_everything(setup)
    seeded = time.monotonic()
    campaign_id = seed_campaign(setup, pledges, backers)
    print(f"settle:   seeded in {time.monotonic() - seeded:.1f} s", flush=True)

    from rq.registry import FailedJobRegistry

    from marketplace.campaigns import services as campaigns
    from marketplace.campaigns.models import CampaignState
    from marketplace.kernel.extensions import db

    workers = Workers(setup, workers_count, worker_class, label)
    try:
        workers.start()
        workers.wait_ready()
        time.sleep(1)  # let the scheduler start and the workers go idle on the queue
        with MemorySampler(workers.pids) as sampler:
            before = cpu_mark(setup.localstripe_pid, setup.postmaster, workers.pids)
            started_wall = time.time()
            with setup.app.app_context():
                state = campaigns.close_now(campaign_id, None)
                db.session.commit()
                db.session.remove()
            close_seconds = time.time() - started_wall
            if state != CampaignState.FUNDED:
                raise BenchError(f"{label}: the campaign closed {state}, not funded")
            wait_settled(setup, workers, campaign_id, pledges, label)
            seconds = time.time() - started_wall
            after = cpu_mark(setup.localstripe_pid, setup.postmaster, workers.pids)
    finally:
        workers.stop()

    conn_redis = redis.Redis.from_url(REDIS_URL)
    failed_jobs = FailedJobRegistry("settlement", connection=conn_redis).count
    states = pledge_states(setup.db_url, campaign_id)
    with psycopg.connect(seeding.conninfo(setup.db_url)) as conn:
        started_utc = dt.datetime.fromtimestamp(started_wall, dt.UTC).replace(tzinfo=None)
        finished = [
            (row[0] - started_utc).total_seconds()
            for row in conn.execute(
                "SELECT a.finished_at FROM charge_attempts a JOIN pledges p "
                "ON p.id = a.pledge_id WHERE p.campaign_id = %s AND a.status = 'succeeded'",
                (campaign_id,),
            )
        ]
        attempts = conn.execute(
            "SELECT count(*) FROM charge_attempts a JOIN pledges p ON p.id = a.pledge_id "
            "WHERE p.campaign_id = %s",
            (campaign_id,),
        ).fetchone()[0]
    collected = states.get("collected", 0)
    errors = (pledges - collected) + (attempts - pledges) + failed_jobs
    clients_cpu = sum(after.processes[p] - before.processes[p] for p in workers.pids)
    peaks = workers.peak_rss_kb()
    phase = Phase(
        kind="settlement",
        workers=workers_count,
        pledges=pledges,
        seconds=round(seconds, 2),
        rate=round(collected / seconds, 1),
        quintile_rates=quintile_rates(finished) if finished else [],
        cpu=cpu_report(before, after, pledges, clients_cpu),
        errors=errors,
        details={
            "worker_class": worker_class,
            "backers": backers,
            "close_seconds": round(close_seconds, 2),
            "pledge_states": states,
            "charge_attempts": attempts,
            "failed_jobs": failed_jobs,
            # ru_maxrss: the largest of the worker and every horse it reaped (kernel figure).
            "peak_rss_mb": mb(max(peaks.values(), default=0)),
            "peak_rss_mb_per_worker": [mb(peaks.get(p, 0)) for p in workers.pids],
            "worker_parent_hwm_mb": mb(max(sampler.parent_hwm_kb.values(), default=0)),
            "child_hwm_mb_sampled": mb(max(sampler.child_hwm_kb.values(), default=0)),
            "tree_rss_mb_sampled": mb(max(sampler.tree_rss_kb.values(), default=0)),
            "memory_samples": sampler.samples,
            "worker_exit_codes": [p.returncode for p in workers.procs],
        },
    )
    print(
        f"settle:   {label}: {collected:,} charges in {seconds:.1f} s = {phase.rate:.1f}/s "
        f"(close {close_seconds:.1f} s), peak RSS {phase.details['peak_rss_mb']} MB, "
        f"errors {errors}",
        flush=True,
    )
    return phase


# --- the baseline: localstripe driven directly ------------------------------------------------


def _baseline_client(
    stripe_url: str,
    cards: list[tuple[str, str]],
    total: int,
    counter,
    ready,
    go,
    results,
) -> None:
    """One of K processes: take the next charge number, create an unconfirmed PaymentIntent
    as ``gateway.create_payment_intent`` does, confirm it as ``confirm_payment_intent`` does;
    until ``total`` are done between them."""
    client = stripe_client(stripe_url)
    done: list[float] = []
    bad = 0
    ready.release()
    go.wait()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    while True:
        with counter.get_lock():
            n = counter.value
            counter.value += 1
        if n >= total:
            break
        customer, pm = cards[n % len(cards)]
        key = f"bench-{n}-{secrets.token_hex(6)}"
        pi = client.v1.payment_intents.create(
            params={
                "amount": PRICE_CENTS,
                "currency": "eur",
                "customer": customer,
                "payment_method": pm,
                "payment_method_types": ["card"],
                "metadata": {"pledge_id": str(n), "campaign_id": "1", "attempt": key},
            },
            options={"idempotency_key": key},
        )
        pi = client.v1.payment_intents.confirm(pi.id, params={})
        bad += pi.status != "succeeded"
        done.append(time.monotonic())
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    results.put({"done": done, "bad": bad, "cpu": cpu})


def baseline_phase(setup: Setup, concurrency: int, charges: int, backers: int) -> Phase:
    label = f"baseline-k{concurrency}-n{charges}"
    print(f"settle: {label}: {backers:,} customers with cards, then {charges:,} charges")
    flush_everything(setup)
    cards = saved_cards(setup.stripe_url, backers)
    # Spawned, not forked: this process holds an app, pools and threads a fork would copy.
    spawn = mp.get_context("spawn")
    counter = spawn.Value("q", 0)
    ready = spawn.Semaphore(0)
    go = spawn.Event()
    results = spawn.Queue()
    procs = [
        spawn.Process(
            target=_baseline_client,
            args=(setup.stripe_url, cards, charges, counter, ready, go, results),
            daemon=True,
        )
        for _ in range(concurrency)
    ]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            if not ready.acquire(timeout=60):
                raise BenchError(f"{label}: the client processes did not start")
        before = cpu_mark(setup.localstripe_pid, setup.postmaster, [])
        started = time.monotonic()
        go.set()
        reports = []
        for _ in procs:
            while True:
                try:
                    reports.append(results.get(timeout=5))
                    break
                except queue.Empty as exc:
                    if not any(p.is_alive() for p in procs) and results.empty():
                        raise BenchError(f"{label}: a client process died") from exc
        after = cpu_mark(setup.localstripe_pid, setup.postmaster, [])
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    finished = [t - started for r in reports for t in r["done"]]
    seconds = max(finished) if finished else 0.0
    bad = sum(r["bad"] for r in reports)
    phase = Phase(
        kind="baseline",
        workers=concurrency,
        pledges=charges,
        seconds=round(seconds, 2),
        rate=round((len(finished) - bad) / seconds, 1) if seconds else 0.0,
        quintile_rates=quintile_rates(finished) if finished else [],
        cpu=cpu_report(before, after, charges, sum(r["cpu"] for r in reports)),
        errors=bad + (charges - len(finished)),
        details={"backers": backers},
    )
    print(
        f"settle:   {label}: {len(finished):,} PaymentIntents in {seconds:.1f} s "
        f"= {phase.rate:.1f}/s, errors {phase.errors}",
        flush=True,
    )
    return phase


# --- report -----------------------------------------------------------------------------------


def verdict(value: float | None, target: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "-"
    ok = value >= target if higher_is_better else value <= target
    return "PASS" if ok else "BELOW" if higher_is_better else "ABOVE"


def throughput_rows(phases: list[Phase]) -> list[dict]:
    rows = []
    for settle in phases:
        if settle.kind != "settlement":
            continue
        base = next(
            (
                p
                for p in phases
                if p.kind == "baseline"
                and p.workers == settle.workers
                and p.pledges == settle.pledges
            ),
            None,
        )
        if base is None:
            continue
        ratio = round(100 * settle.rate / base.rate, 1) if base.rate else None
        first = (
            round(100 * settle.quintile_rates[0] / base.quintile_rates[0], 1)
            if settle.quintile_rates and base.quintile_rates and base.quintile_rates[0]
            else None
        )
        rows.append(
            {
                "workers": settle.workers,
                "pledges": settle.pledges,
                "settle_charges_per_s": settle.rate,
                "localstripe_pi_per_s": base.rate,
                "ratio_pct": ratio,
                "target_pct": TARGET_PCT,
                "result": verdict(ratio, TARGET_PCT),
                "first_fifth_ratio_pct": first,
                "settle_seconds": settle.seconds,
                "baseline_seconds": base.seconds,
                "errors": settle.errors + base.errors,
            }
        )
    return rows


def memory_row(phases: list[Phase], sizes: list[int]) -> dict | None:
    by_size = {
        p.pledges: p.details["peak_rss_mb"]
        for p in phases
        if p.kind == "settlement" and p.workers == 1 and p.pledges in sizes
    }
    small, large = min(sizes), max(sizes)
    if small == large or small not in by_size or large not in by_size:
        return None
    growth = round(100 * (by_size[large] / by_size[small] - 1), 1) if by_size[small] else None
    return {
        "small_pledges": small,
        "large_pledges": large,
        "small_peak_rss_mb": by_size[small],
        "large_peak_rss_mb": by_size[large],
        "growth_pct": growth,
        "tolerance_pct": FLAT_TOLERANCE_PCT,
        "result": "FLAT" if growth is not None and growth <= FLAT_TOLERANCE_PCT else "GROWS",
    }


def print_report(phases: list[Phase], rows: list[dict], memory: dict | None) -> None:
    header = (
        f"{'workers':>7} {'pledges':>8} {'settle/s':>9} {'localstripe/s':>14} {'ratio':>7} "
        f"{'target':>7}  {'result':<6} {'1st fifth':>9} {'errors':>7}"
    )
    print("\nSettlement throughput (charges/s) vs localstripe's own PaymentIntents/s")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = f"{r['ratio_pct']:.1f}%" if r["ratio_pct"] is not None else "-"
        first = f"{r['first_fifth_ratio_pct']:.1f}%" if r["first_fifth_ratio_pct"] else "-"
        print(
            f"{r['workers']:>7} {r['pledges']:>8,} {r['settle_charges_per_s']:>9.1f} "
            f"{r['localstripe_pi_per_s']:>14.1f} {ratio:>7} {r['target_pct']:>6.0f}%  "
            f"{r['result']:<6} {first:>9} {r['errors']:>7}"
        )

    print(f"\nWhere the CPU goes (ms per charge; {os.cpu_count()} cores; busy = all cores)")
    header = (
        f"{'phase':<26} {'seconds':>8} {'per s':>7} {'clients':>8} {'localstripe':>12} "
        f"{'postgres':>9} {'busy':>6}  {'rate by fifth (/s)'}"
    )
    print(header)
    print("-" * len(header))
    for p in phases:
        name = f"{p.kind} k={p.workers} n={p.pledges:,}"
        fifths = " ".join(f"{r:.0f}" for r in p.quintile_rates)
        busy = p.cpu["machine_busy_pct"]
        print(
            f"{name:<26} {p.seconds:>8.1f} {p.rate:>7.1f} {p.cpu['client_ms_per_charge']:>8.1f} "
            f"{p.cpu['localstripe_ms_per_charge']:>12.1f} {p.cpu['postgres_ms_per_charge']:>9.1f} "
            f"{busy:>5.0f}%  {fifths}"
        )

    print("\nWorker memory (peak RSS of a worker and its work-horses, K=1)")
    for p in phases:
        if p.kind == "settlement" and p.workers == 1:
            d = p.details
            print(
                f"  {p.pledges:>6,} pledges: peak {d['peak_rss_mb']:.1f} MB "
                f"(worker process {d['worker_parent_hwm_mb']:.1f} MB, largest horse seen "
                f"{d['child_hwm_mb_sampled']:.1f} MB, worker+children at once "
                f"{d['tree_rss_mb_sampled']:.1f} MB)"
            )
    if memory:
        print(
            f"  {memory['large_pledges']:,} vs {memory['small_pledges']:,} pledges: "
            f"{memory['growth_pct']:+.1f}% (flat = within {memory['tolerance_pct']:.0f}%): "
            f"{memory['result']}"
        )


def source_version() -> dict:
    """The commit measured, and whether the work tree differed from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "--short", "HEAD") or None,
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def write_json(report: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    gitignore = RESULTS_DIR / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n!.gitignore\n")
    out = RESULTS_DIR / "settlement.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    return out


# --- the run ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Quick run while developing: --pledges 500 (memory then compares 100 and 500).",
    )
    parser.add_argument(
        "--pledges",
        type=int,
        default=env_int("BENCH_SETTLE_PLEDGES", 5000),
        help="pledges per throughput phase (BENCH_SETTLE_PLEDGES, default 5000)",
    )
    parser.add_argument(
        "--workers",
        type=int_list,
        default=int_list(os.environ.get("BENCH_SETTLE_WORKERS", "1,2,4")),
        help="worker counts, comma-separated (BENCH_SETTLE_WORKERS, default 1,2,4)",
    )
    parser.add_argument(
        "--memory-pledges",
        type=int_list,
        default=None,
        help="pledge counts whose K=1 worker memory is compared (BENCH_SETTLE_MEMORY_PLEDGES; "
        "default: a fifth of --pledges, and --pledges)",
    )
    parser.add_argument(
        "--pledges-per-backer",
        type=int,
        default=env_int("BENCH_SETTLE_PLEDGES_PER_BACKER", 10),
        help="backers (each a Customer with a saved card) = pledges / this (default 10)",
    )
    parser.add_argument(
        "--worker-class",
        choices=("no-fork", "fork"),
        default=os.environ.get("BENCH_SETTLE_WORKER_CLASS", "no-fork"),
        help="no-fork: `flask worker settlement --no-fork`, as the README advises for "
        "settlement workers; fork: `flask worker settlement`, a work-horse forked per job",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=env_int("BENCH_STRIPE_RATE_LIMIT", 100_000),
        help="STRIPE_RATE_LIMIT for the workers: high, so localstripe is the only limit",
    )
    args = parser.parse_args(argv)
    if args.memory_pledges is None:
        raw = os.environ.get("BENCH_SETTLE_MEMORY_PLEDGES")
        args.memory_pledges = int_list(raw) if raw else [max(1, args.pledges // 5), args.pledges]
    return args


def backers_for(pledges: int, per_backer: int) -> int:
    return max(1, -(-pledges // max(1, per_backer)))


def make_report(args: argparse.Namespace, url: str, phases: list[Phase], seconds: float) -> dict:
    planned = 2 * len(args.workers) + len(
        {n for n in args.memory_pledges if not (1 in args.workers and n == args.pledges)}
    )
    return {
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "complete": len(phases) >= planned,
        "source": source_version(),
        "database": url,
        "redis": REDIS_URL,
        "cpu_count": os.cpu_count(),
        "worker_class": args.worker_class,
        "stripe_rate_limit": args.rate_limit,
        "pledges": args.pledges,
        "workers": args.workers,
        "memory_pledges": args.memory_pledges,
        "pledges_per_backer": args.pledges_per_backer,
        "total_seconds": round(seconds, 1),
        "throughput": throughput_rows(phases),
        "memory": memory_row(phases, args.memory_pledges),
        "phases": [asdict(p) for p in phases],
    }


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    url = database_url()
    print(f"settle: database {url}, Redis {REDIS_URL}")
    prepare_database(url)
    # Two runs on one database and Redis db would empty each other's tables mid-phase: the
    # second refuses to start. The lock lives as long as this connection (the run).
    guard = psycopg.connect(url, autocommit=True)
    if not guard.execute("SELECT pg_try_advisory_lock(%s)", (RUN_LOCK,)).fetchone()[0]:
        raise BenchError("another bench.settle is running on this database: wait for it")
    from dev.services import localstripe

    logdir = Path(tempfile.mkdtemp(prefix="cocrea-bench-settle-"))
    phases: list[Phase] = []

    def measured(phase: Phase) -> None:
        phases.append(phase)
        # Written after every phase: a run of an hour that breaks late keeps what it measured.
        write_json(make_report(args, url, phases, time.monotonic() - started))

    try:
        with localstripe() as stripe_url:
            setup = Setup(
                db_url=url,
                stripe_url=stripe_url,
                rate_limit=args.rate_limit,
                app=make_app(url, stripe_url, args.rate_limit),
                localstripe_pid=localstripe_pid(stripe_url.rsplit(":", 1)[1]),
                postmaster=postmaster_pid(url),
                logdir=logdir,
            )
            print(
                f"settle: localstripe {stripe_url}; worker: {args.worker_class}; "
                f"STRIPE_RATE_LIMIT={args.rate_limit}; logs in {logdir}",
                flush=True,
            )
            backers = backers_for(args.pledges, args.pledges_per_backer)
            for k in args.workers:
                measured(baseline_phase(setup, k, args.pledges, backers))
                measured(settle_phase(setup, k, args.pledges, backers, args.worker_class))
            for n in sorted(set(args.memory_pledges)):
                if any(
                    p.kind == "settlement" and p.workers == 1 and p.pledges == n for p in phases
                ):
                    continue
                per = backers_for(n, args.pledges_per_backer)
                measured(settle_phase(setup, 1, n, per, args.worker_class))
    finally:
        with contextlib.suppress(Exception):
            redis.Redis.from_url(REDIS_URL).flushdb()

    report = make_report(args, url, phases, time.monotonic() - started)
    print_report(phases, report["throughput"], report["memory"])
    print(f"\nsettle: total {report['total_seconds'] / 60:.1f} min")
    out = write_json(report)
    print(f"settle: results written to {out.relative_to(ROOT)}")
    shutil.rmtree(logdir, ignore_errors=True)
    return 1 if any(p.errors for p in phases) else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded("settle", lambda: run(args), "workers and localstripe")


if __name__ == "__main__":
    sys.exit(main())
