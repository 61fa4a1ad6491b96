"""``python -m bench.settle``: how fast RQ workers settle a funded campaign's pledges when
every Stripe request takes as long as it does at Stripe, next to the ceiling Stripe's rate
limit leaves (issue 16); and how much memory a worker needs for 1,000 and for 5,000 pledges.

The workers reach localstripe through a proxy (``bench.stripe_pace``) that delays each
request and counts them by kind, so the calls per charge, and the ceiling (rate limit ÷ calls
per charge), are what the workers really sent. ``--localstripe-ratio`` runs the earlier
measurement instead: settlement next to localstripe's own rate on loopback, with no latency
(the target issue 16 replaced).
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
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
import redis
from psycopg import sql

from bench import seed as seeding
from bench import stripe_pace
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
#: Db 13 unless BENCH_REDIS_URL says otherwise: the page bench flushes 14, the test suite uses
#: 15 and the fault tests 11-12. Flushed before every phase.
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/13"
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


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants: the live ones, and (through each
    one's reaped-children times) those that ended. A worker's RQ scheduler and work-horses
    are its children; a descendant counted live at one mark and reaped by the next is counted
    once at each, so the difference between two marks is right either way."""
    return cpu_seconds(pid, children=True) + sum(tree_cpu_seconds(c) for c in child_pids(pid))


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
    #: This process: the Stripe proxy's threads, the memory sampler, the polling.
    bench: float = 0.0


def cpu_mark(localstripe_pid: int, postmaster: int | None, pids: list[int]) -> CpuMark:
    busy, total = machine_cpu()
    own = resource.getrusage(resource.RUSAGE_SELF)
    return CpuMark(
        machine_busy=busy,
        machine_total=total,
        localstripe=cpu_seconds(localstripe_pid),
        postgres=postgres_cpu(postmaster),
        processes={pid: tree_cpu_seconds(pid) for pid in pids},
        bench=own.ru_utime + own.ru_stime,
    )


def cpu_report(before: CpuMark, after: CpuMark, charges: int, clients_cpu: float) -> dict:
    """CPU per charge, in ms, of the clients (workers or baseline processes), localstripe,
    PostgreSQL and the bench's own process, and how busy the machine's cores were."""
    total = after.machine_total - before.machine_total
    charges = max(1, charges)
    return {
        "client_ms_per_charge": round(1000 * clients_cpu / charges, 2),
        "localstripe_ms_per_charge": round(
            1000 * (after.localstripe - before.localstripe) / charges, 2
        ),
        "postgres_ms_per_charge": round(1000 * (after.postgres - before.postgres) / charges, 2),
        "bench_ms_per_charge": round(1000 * (after.bench - before.bench) / charges, 2),
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


@dataclass(frozen=True)
class Pace:
    """How a phase reaches Stripe: through the proxy with this latency, under this limit."""

    latency: float
    rate_limit: int
    #: For the requests that charge the card; None: ``latency`` like every other.
    confirm_latency: float | None = None
    #: SETTLEMENT_CONCURRENCY / SETTLEMENT_BATCH for the workers; None: their default.
    concurrency: int | None = None
    batch: int | None = None

    @property
    def label(self) -> str:
        # A file name (the workers' logs): no "/".
        confirm = f"-confirm{self.confirm_latency:g}s" if self.confirm_latency is not None else ""
        return f"{self.latency:g}s{confirm}"


@dataclass
class Setup:
    db_url: str
    stripe_url: str
    rate_limit: int
    app: object
    localstripe_pid: int
    postmaster: int | None
    logdir: Path
    redis_url: str = REDIS_URL
    #: Between the workers and localstripe for the phases run at Stripe's pace.
    proxy: object | None = None

    def worker_env(self, pace: Pace | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "FLASK_APP": "wsgi",
            "MARKETPLACE_ENV": "development",
            "DATABASE_URL": self.db_url,
            "REDIS_URL": self.redis_url,
            "RATELIMIT_STORAGE_URI": self.redis_url,
            "STRIPE_API_BASE": self.stripe_url,
            "STRIPE_SECRET_KEY": STRIPE_KEY,
            "STRIPE_RATE_LIMIT": str(self.rate_limit),
            "MAIL_BACKEND": "console",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("SETTLEMENT_CONCURRENCY", "SETTLEMENT_BATCH"):
            env.pop(name, None)  # the caller's shell is not the phase's setting
        if pace is not None:
            env["STRIPE_API_BASE"] = self.proxy.url
            env["STRIPE_RATE_LIMIT"] = str(pace.rate_limit)
            if pace.concurrency is not None:
                env["SETTLEMENT_CONCURRENCY"] = str(pace.concurrency)
            if pace.batch is not None:
                env["SETTLEMENT_BATCH"] = str(pace.batch)
        return env


def make_app(db_url: str, stripe_url: str, rate_limit: int, redis_url: str = REDIS_URL):
    from config import DevelopmentConfig, normalise_database_url
    from marketplace import create_app

    return create_app(
        DevelopmentConfig,
        SQLALCHEMY_DATABASE_URI=normalise_database_url(db_url),
        REDIS_URL=redis_url,
        RATELIMIT_STORAGE_URI=redis_url,
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
    redis.Redis.from_url(setup.redis_url).flushdb()


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

    def __init__(
        self, setup: Setup, count: int, worker_class: str, label: str, pace: Pace | None = None
    ):
        self.setup = setup
        self.count = count
        self.worker_class = worker_class
        self.label = label
        self.pace = pace
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
                        env=self.setup.worker_env(self.pace),
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

        conn = redis.Redis.from_url(self.setup.redis_url)
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
    #: For a settlement at Stripe's pace: its settings and ``stripe_pace.pace_figures``.
    pace: dict | None = None


def charged_once(setup: Setup, campaign_id: int) -> dict:
    """Whether every pledge of the campaign is collected through exactly one succeeded
    PaymentIntent for its amount, by localstripe's own list (asked directly, not through the
    proxy, so the check is not counted as the workers' calls)."""
    with psycopg.connect(seeding.conninfo(setup.db_url)) as conn:
        pledges = {
            str(pid): (amount, state)
            for pid, amount, state in conn.execute(
                "SELECT id, amount_cents, state FROM pledges WHERE campaign_id = %s",
                (campaign_id,),
            )
        }
    succeeded: Counter[str] = Counter()
    wrong_amount = strangers = 0
    listing = stripe_client(setup.stripe_url).v1.payment_intents.list(params={"limit": 100})
    for pi in listing.auto_paging_iter():
        if pi.status != "succeeded":
            continue
        pledge = (pi.to_dict().get("metadata") or {}).get("pledge_id")
        if pledge not in pledges:
            strangers += 1
            continue
        succeeded[pledge] += 1
        wrong_amount += pi.amount != pledges[pledge][0]
    collected = sum(1 for _, state in pledges.values() if state == "collected")
    once = sum(1 for pledge in pledges if succeeded[pledge] == 1)
    twice = sum(1 for pledge in pledges if succeeded[pledge] > 1)
    return {
        "pledges": len(pledges),
        "collected": collected,
        "with_one_succeeded_intent": once,
        "charged_more_than_once": twice,
        "without_succeeded_intent": len(pledges) - once - twice,
        "wrong_amount": wrong_amount,
        "intents_of_no_pledge": strangers,
        "exactly_once": collected == once == len(pledges) and not (wrong_amount or strangers),
    }


def settle_phase(
    setup: Setup,
    workers_count: int,
    pledges: int,
    backers: int,
    worker_class: str,
    pace: Pace | None = None,
) -> Phase:
    """Settle a campaign of ``pledges`` with ``workers_count`` workers; with ``pace``, the
    workers reach localstripe through ``setup.proxy`` at that latency and rate limit."""
    label = f"settle-k{workers_count}-n{pledges}" + (f"-{pace.label}" if pace else "")
    print(f"settle: {label}: seeding {pledges:,} pledges of {backers:,} backers", flush=True)
    flush_everything(setup)
    seeded = time.monotonic()
    campaign_id = seed_campaign(setup, pledges, backers)
    print(f"settle:   seeded in {time.monotonic() - seeded:.1f} s", flush=True)

    from rq.registry import FailedJobRegistry

    from marketplace.campaigns import services as campaigns
    from marketplace.campaigns.models import CampaignState
    from marketplace.kernel.extensions import db

    proxy = setup.proxy if pace is not None else None
    if proxy is not None:
        proxy.latency, proxy.confirm_latency = pace.latency, pace.confirm_latency
    workers = Workers(setup, workers_count, worker_class, label, pace)
    try:
        workers.start()
        workers.wait_ready()
        time.sleep(1)  # let the scheduler start and the workers go idle on the queue
        with MemorySampler(workers.pids) as sampler:
            before = cpu_mark(setup.localstripe_pid, setup.postmaster, workers.pids)
            if proxy is not None:
                proxy.reset()
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
            requests = proxy.requests() if proxy is not None else None
    finally:
        workers.stop()

    conn_redis = redis.Redis.from_url(setup.redis_url)
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
    once = charged_once(setup, campaign_id)
    collected = states.get("collected", 0)
    errors = (pledges - collected) + failed_jobs + (0 if once["exactly_once"] else 1)
    if pace is None:
        # The localstripe-ratio target asked for exactly one attempt per pledge too.
        errors += attempts - pledges
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
            "charged_once": once,
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
    if pace is not None:
        phase.pace = {
            "latency_s": pace.latency,
            "confirm_latency_s": pace.confirm_latency,
            "concurrency": pace.concurrency,
            "batch": pace.batch,
            **stripe_pace.pace_figures(requests, collected, seconds, pace.rate_limit, clients_cpu),
        }
    stripe = ""
    if phase.pace is not None:
        stripe = (
            f", {phase.pace['calls_per_charge']} Stripe calls/charge, "
            f"{phase.pace['ceiling_pct']}% of the ceiling"
        )
    print(
        f"settle:   {label}: {collected:,} charges in {seconds:.1f} s = {phase.rate:.1f}/s "
        f"(close {close_seconds:.1f} s){stripe}, peak RSS {phase.details['peak_rss_mb']} MB, "
        f"charged exactly once: {'yes' if once['exactly_once'] else 'NO'}, errors {errors}",
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
                "result": stripe_pace.verdict(ratio, TARGET_PCT),
                "first_fifth_ratio_pct": first,
                "settle_seconds": settle.seconds,
                "baseline_seconds": base.seconds,
                "errors": settle.errors + base.errors,
            }
        )
    return rows


def memory_row(by_size: dict[int, Phase]) -> dict | None:
    """Peak RSS of the smallest and the largest settlement in ``by_size`` (pledges: phase),
    and whether it stays flat."""
    if len(by_size) < 2:
        return None
    small, large = min(by_size), max(by_size)
    low, high = by_size[small].details["peak_rss_mb"], by_size[large].details["peak_rss_mb"]
    growth = round(100 * (high / low - 1), 1) if low else None
    return {
        "workers": by_size[large].workers,
        "small_pledges": small,
        "large_pledges": large,
        "small_peak_rss_mb": low,
        "large_peak_rss_mb": high,
        "growth_pct": growth,
        "tolerance_pct": FLAT_TOLERANCE_PCT,
        "result": "FLAT" if growth is not None and growth <= FLAT_TOLERANCE_PCT else "GROWS",
    }


def print_memory(memory_phases: list[Phase], memory: dict | None) -> None:
    if not memory_phases:
        return
    print("\nWorker memory (peak RSS of a worker process and what it forked)")
    for p in memory_phases:
        d = p.details
        print(
            f"  {p.pledges:>6,} pledges, {p.workers} worker(s): peak {d['peak_rss_mb']:.1f} MB "
            f"(worker process {d['worker_parent_hwm_mb']:.1f} MB, largest child seen "
            f"{d['child_hwm_mb_sampled']:.1f} MB, worker+children at once "
            f"{d['tree_rss_mb_sampled']:.1f} MB)"
        )
    if memory:
        print(
            f"  {memory['large_pledges']:,} vs {memory['small_pledges']:,} pledges: "
            f"{memory['growth_pct']:+.1f}% (flat = within {memory['tolerance_pct']:.0f}%): "
            f"{memory['result']}"
        )


def pace_rows(phases: list[Phase]) -> list[dict]:
    """One row per settlement at Stripe's pace: what the issue judges, and what it cost."""
    return [
        {
            "workers": p.workers,
            "pledges": p.pledges,
            **p.pace,
            "localstripe_ms_per_charge": p.cpu["localstripe_ms_per_charge"],
            "postgres_ms_per_charge": p.cpu["postgres_ms_per_charge"],
            "bench_ms_per_charge": p.cpu["bench_ms_per_charge"],
            "machine_busy_pct": p.cpu["machine_busy_pct"],
            "peak_rss_mb_per_worker": p.details["peak_rss_mb_per_worker"],
            "charged_exactly_once": p.details["charged_once"]["exactly_once"],
            "errors": p.errors,
        }
        for p in phases
        if p.pace is not None
    ]


def print_header(header: str) -> None:
    print(header)
    print("-" * len(header))


def _pct(value: float | None) -> str:
    return f"{value:.1f}%" if value is not None else "-"


def print_pace_report(rows: list[dict], settings: dict) -> None:
    concurrency = settings["concurrency"] or "the workers' default"
    print(
        f"\nSettlement at Stripe's pace (STRIPE_RATE_LIMIT={settings['rate_limit']}, "
        f"SETTLEMENT_CONCURRENCY={concurrency}; ceiling = limit / calls per charge; "
        f"targets: {stripe_pace.TARGET_CEILING_PCT:.0f}% of the ceiling, "
        f"<= {stripe_pace.TARGET_CALLS_PER_CHARGE} calls per charge)"
    )
    header = (
        f"{'latency':>9} {'workers':>7} {'pledges':>7} {'seconds':>8} {'charges/s':>9} "
        f"{'calls/charge':>12} {'ceiling/s':>9} {'of ceiling':>10}  {'result':<6} "
        f"{'max in 1 s':>10}  {'once':<4} {'errors':>6}"
    )
    print_header(header)
    for r in rows:
        latency = f"{r['latency_s']:g}" + (
            f"/{r['confirm_latency_s']:g}" if r["confirm_latency_s"] is not None else ""
        )
        per = f"{r['calls_per_charge']:.2f}" if r["calls_per_charge"] is not None else "-"
        ceiling = f"{r['ceiling_charges_per_s']:.1f}" if r["ceiling_charges_per_s"] else "-"
        busiest = f"{r['max_calls_in_1s']} {r['rate_limit_result']}"
        print(
            f"{latency + ' s':>9} {r['workers']:>7} {r['pledges']:>7,} {r['seconds']:>8.1f} "
            f"{r['charges_per_s']:>9.2f} {per + ' ' + r['calls_per_charge_result']:>12} "
            f"{ceiling:>9} {_pct(r['ceiling_pct']):>10}  {r['ceiling_result']:<6} "
            f"{busiest:>10}  {'yes' if r['charged_exactly_once'] else 'NO':<4} {r['errors']:>6}"
        )
    for r in rows:
        if r["rate_limit_result"] == "OVER":
            print(
                f"  {r['latency_s']:g} s k={r['workers']} n={r['pledges']:,}: "
                f"{r['rate_limit'] + 1} requests reached the proxy within "
                f"{r['tightest_span_over_limit_s']:.3f} s"
            )

    print("\nStripe calls, counted at the proxy (confirming = a confirm, or a create with confirm)")
    header = (
        f"{'phase':<22} "
        + " ".join(f"{kind:>8}" for kind in stripe_pace.KINDS)
        + f" {'total':>7} {'confirming':>10}  non-2xx"
    )
    print_header(header)
    for r in rows:
        name = f"{r['latency_s']:g} s k={r['workers']} n={r['pledges']:,}"
        refused = ", ".join(f"{n}x{code}" for code, n in sorted(r["refused_answers"].items()))
        print(
            f"{name:<22} "
            + " ".join(f"{r['calls_by_kind'][kind]:>8,}" for kind in stripe_pace.KINDS)
            + f" {r['stripe_calls']:>7,} {r['confirming_calls']:>10,}  {refused or '-'}"
        )

    print(
        f"\nCPU per charge (ms; {os.cpu_count()} cores; workers = the worker processes and "
        f"their children, target <= {stripe_pace.TARGET_CPU_MS:g}; bench = the proxy and "
        "the bench's polling) and memory"
    )
    header = (
        f"{'phase':<22} {'workers':>7}  {'result':<6} {'localstripe':>11} {'postgres':>8} "
        f"{'bench':>6} {'busy':>5}  peak RSS per worker (MB)"
    )
    print_header(header)
    for r in rows:
        name = f"{r['latency_s']:g} s k={r['workers']} n={r['pledges']:,}"
        cpu = r["worker_cpu_ms_per_charge"]
        busy = r["machine_busy_pct"]
        print(
            f"{name:<22} {cpu if cpu is not None else '-':>7}  {r['worker_cpu_result']:<6} "
            f"{r['localstripe_ms_per_charge']:>11.1f} {r['postgres_ms_per_charge']:>8.1f} "
            f"{r['bench_ms_per_charge']:>6.1f} {busy if busy is not None else '-':>4}%  "
            + " ".join(f"{m:.0f}" for m in r["peak_rss_mb_per_worker"])
        )


def print_report(phases: list[Phase], rows: list[dict]) -> None:
    """The ``--localstripe-ratio`` tables."""
    header = (
        f"{'workers':>7} {'pledges':>8} {'settle/s':>9} {'localstripe/s':>14} {'ratio':>7} "
        f"{'target':>7}  {'result':<6} {'1st fifth':>9} {'errors':>7}"
    )
    print("\nSettlement throughput (charges/s) vs localstripe's own PaymentIntents/s")
    print_header(header)
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
    print_header(header)
    for p in phases:
        name = f"{p.kind} k={p.workers} n={p.pledges:,}"
        fifths = " ".join(f"{r:.0f}" for r in p.quintile_rates)
        busy = p.cpu["machine_busy_pct"]
        print(
            f"{name:<26} {p.seconds:>8.1f} {p.rate:>7.1f} {p.cpu['client_ms_per_charge']:>8.1f} "
            f"{p.cpu['localstripe_ms_per_charge']:>12.1f} {p.cpu['postgres_ms_per_charge']:>9.1f} "
            f"{busy:>5.0f}%  {fifths}"
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


def write_json(report: dict, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    gitignore = out.parent / ".gitignore"
    if out.parent == RESULTS_DIR and not gitignore.exists():
        gitignore.write_text("*\n!.gitignore\n")
    out.write_text(json.dumps(report, indent=2) + "\n")
    return out


# --- the run ----------------------------------------------------------------------------------

#: Issue 16's figures: 4 workers settle 1,000 pledges under Stripe's test-mode limit with every
#: request slowed by 0.5 s, then 0.3 s; one worker's memory at 1,000 and at 5,000 pledges.
ISSUE16 = {
    "workers": [4],
    "pledges": 1000,
    "rate_limit": 25,
    "stripe_latency": [0.5, 0.3],
    "memory_pledges": [1000, 5000],
    "memory_workers": 1,
}
#: The earlier measurement's defaults (``--localstripe-ratio``).
RATIO_DEFAULTS = {"workers": [1, 2, 4], "pledges": 5000, "rate_limit": 100_000}
#: Where each option's default comes from when it is not given: a variable, then the mode's
#: default (``ISSUE16`` for the run at Stripe's pace).
ENVIRONMENT = {
    "pledges": ("BENCH_SETTLE_PLEDGES", int),
    "workers": ("BENCH_SETTLE_WORKERS", int_list),
    "rate_limit": ("BENCH_STRIPE_RATE_LIMIT", int),
    "stripe_latency": ("BENCH_STRIPE_LATENCY", lambda raw: float_list(raw)),
    "confirm_latency": ("BENCH_STRIPE_CONFIRM_LATENCY", float),
    "concurrency": ("BENCH_SETTLEMENT_CONCURRENCY", int),
    "batch": ("BENCH_SETTLEMENT_BATCH", int),
    "memory_pledges": ("BENCH_SETTLE_MEMORY_PLEDGES", int_list),
    "memory_latency": ("BENCH_SETTLE_MEMORY_LATENCY", float),
    "pledges_per_backer": ("BENCH_SETTLE_PLEDGES_PER_BACKER", int),
    "worker_class": ("BENCH_SETTLE_WORKER_CLASS", str),
    "database_url": ("BENCH_SETTLE_DATABASE_URL", str),
    "redis_url": ("BENCH_REDIS_URL", str),
}


def float_list(raw: str) -> list[float]:
    try:
        values = [float(part) for part in raw.replace(" ", "").split(",") if part]
    except ValueError:
        values = []
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"{raw!r}: give seconds (>= 0), comma-separated")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Quick run: --workers 1 --pledges 200 --stripe-latency 0.3 --no-memory. "
        "Each option's variable (bench/README.md) sets its default, except under --issue16.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--issue16",
        action="store_true",
        help="issue 16's figures, whatever the BENCH_* variables say: 4 workers, 1,000 "
        "pledges, limit 25, latency 0.5 s then 0.3 s, memory at 1,000 and 5,000 pledges "
        "(options given beside it still apply)",
    )
    mode.add_argument(
        "--localstripe-ratio",
        action="store_true",
        help="the earlier measurement instead: settlement next to localstripe's own rate, "
        "no proxy, no latency (defaults: --workers 1,2,4 --pledges 5000, no rate limit)",
    )
    parser.add_argument("--pledges", type=int, help="pledges per throughput phase (1000)")
    parser.add_argument("--workers", type=int_list, help="worker counts, comma-separated (4)")
    parser.add_argument(
        "--rate-limit", type=int, help="the workers' STRIPE_RATE_LIMIT, calls per second (25)"
    )
    parser.add_argument(
        "--stripe-latency",
        type=float_list,
        help="seconds the proxy delays every Stripe request; comma-separated for one set of "
        "phases each (0.5,0.3)",
    )
    parser.add_argument(
        "--confirm-latency",
        type=float,
        help="seconds for the requests that charge a card (a confirm, a create with "
        "confirm=true) instead of --stripe-latency; Stripe takes 0.6-1 s for those",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help="SETTLEMENT_CONCURRENCY for the workers (default: theirs; code without the "
        "setting ignores it)",
    )
    parser.add_argument("--batch", type=int, help="SETTLEMENT_BATCH for the workers")
    parser.add_argument(
        "--memory-pledges",
        type=int_list,
        help="pledge counts at which one worker's peak memory is compared (1000,5000; "
        "with --localstripe-ratio: a fifth of --pledges, and --pledges)",
    )
    parser.add_argument(
        "--memory-latency",
        type=float,
        help="latency of the memory phases (default: the smallest --stripe-latency)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the memory phases")
    parser.add_argument(
        "--pledges-per-backer",
        type=int,
        help="backers (each a Customer with a saved card) = pledges / this (10)",
    )
    parser.add_argument(
        "--worker-class",
        choices=("no-fork", "fork"),
        help="no-fork (default): `flask worker settlement --no-fork`, as the README advises "
        "for settlement workers; fork: `flask worker settlement`, a work-horse per job",
    )
    parser.add_argument("--database-url", help=f"the bench's database ({DEFAULT_URL})")
    parser.add_argument("--redis-url", help=f"the bench's Redis db, flushed ({REDIS_URL})")
    parser.add_argument(
        "--output", type=Path, help="JSON results (bench/results/settlement[-ratio].json)"
    )
    args = parser.parse_args(argv)

    defaults = {
        "pledges_per_backer": 10,
        "worker_class": "no-fork",
        "database_url": DEFAULT_URL,
        "redis_url": REDIS_URL,
        "confirm_latency": None,
        "concurrency": None,
        "batch": None,
        "memory_latency": None,
        **(RATIO_DEFAULTS if args.localstripe_ratio else ISSUE16),
    }
    for name, (variable, convert) in ENVIRONMENT.items():
        if getattr(args, name, None) is not None:
            continue
        raw = "" if args.issue16 and name in ISSUE16 else os.environ.get(variable, "").strip()
        try:
            value = convert(raw) if raw else defaults.get(name)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            parser.error(f"{variable}={raw!r}: {exc}")
        setattr(args, name, value)
    if args.worker_class not in ("no-fork", "fork"):
        parser.error(f"BENCH_SETTLE_WORKER_CLASS={args.worker_class!r}: no-fork or fork")
    if args.localstripe_ratio:
        args.stripe_latency = []
        if args.memory_pledges is None:
            args.memory_pledges = [max(1, args.pledges // 5), args.pledges]
        args.memory_workers = 1
    else:
        args.memory_workers = ISSUE16["memory_workers"]
        if args.memory_latency is None:
            args.memory_latency = min(args.stripe_latency)
    if args.no_memory:
        args.memory_pledges = []
    if args.output is None:
        name = "settlement-ratio.json" if args.localstripe_ratio else "settlement.json"
        args.output = RESULTS_DIR / name
    return args


def backers_for(pledges: int, per_backer: int) -> int:
    return max(1, -(-pledges // max(1, per_backer)))


def memory_phases(args: argparse.Namespace, phases: list[Phase]) -> dict[int, Phase]:
    """The settlements whose memory is compared, by pledge count: those of
    ``args.memory_workers`` workers at the memory phases' pace."""
    found = {}
    for p in phases:
        if p.kind != "settlement" or p.workers != args.memory_workers:
            continue
        if p.pledges not in args.memory_pledges:
            continue
        latency = p.pace["latency_s"] if p.pace else None
        if args.localstripe_ratio or latency == args.memory_latency:
            found.setdefault(p.pledges, p)
    return found


def make_report(args: argparse.Namespace, phases: list[Phase], seconds: float) -> dict:
    memory = memory_phases(args, phases)
    if args.localstripe_ratio:
        planned = 2 * len(args.workers) + len(
            {n for n in args.memory_pledges if not (1 in args.workers and n == args.pledges)}
        )
        results = {"throughput": throughput_rows(phases)}
    else:
        planned = len(args.workers) * len(args.stripe_latency) + len(
            {
                n
                for n in args.memory_pledges
                if not (
                    args.memory_workers in args.workers
                    and n == args.pledges
                    and args.memory_latency in args.stripe_latency
                )
            }
        )
        results = {"stripe_pace": pace_rows(phases)}
    return {
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "complete": len(phases) >= planned,
        "mode": "localstripe-ratio" if args.localstripe_ratio else "stripe-pace",
        "source": source_version(),
        "database": args.database_url,
        "redis": args.redis_url,
        "cpu_count": os.cpu_count(),
        "settings": settings(args),
        "total_seconds": round(seconds, 1),
        **results,
        "memory": memory_row(memory),
        "phases": [asdict(p) for p in phases],
    }


def settings(args: argparse.Namespace) -> dict:
    return {
        "worker_class": args.worker_class,
        "rate_limit": args.rate_limit,
        "pledges": args.pledges,
        "workers": args.workers,
        "stripe_latency": args.stripe_latency,
        "confirm_latency": args.confirm_latency,
        "concurrency": args.concurrency,
        "batch": args.batch,
        "memory_pledges": args.memory_pledges,
        "memory_workers": args.memory_workers,
        "memory_latency": args.memory_latency,
        "pledges_per_backer": args.pledges_per_backer,
    }


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    url = args.database_url
    print(f"settle: database {url}, Redis {args.redis_url}")
    prepare_database(url)
    # Two runs on one database and Redis db would empty each other's tables mid-phase: the
    # second refuses to start. The lock lives as long as this connection (the run).
    guard = psycopg.connect(seeding.conninfo(url), autocommit=True)
    if not guard.execute("SELECT pg_try_advisory_lock(%s)", (RUN_LOCK,)).fetchone()[0]:
        raise BenchError("another bench.settle is running on this database: wait for it")
    from dev.services import localstripe

    logdir = Path(tempfile.mkdtemp(prefix="cocrea-bench-settle-"))
    phases: list[Phase] = []

    def measured(phase: Phase) -> None:
        phases.append(phase)
        # Written after every phase: a run of an hour that breaks late keeps what it measured.
        write_json(make_report(args, phases, time.monotonic() - started), args.output)

    try:
        with localstripe() as stripe_url, stripe_pace.PaceProxy(stripe_url) as proxy:
            setup = Setup(
                db_url=url,
                stripe_url=stripe_url,
                rate_limit=args.rate_limit,
                app=make_app(url, stripe_url, args.rate_limit, args.redis_url),
                localstripe_pid=localstripe_pid(stripe_url.rsplit(":", 1)[1]),
                postmaster=postmaster_pid(url),
                logdir=logdir,
                redis_url=args.redis_url,
                proxy=proxy,
            )
            print(
                f"settle: localstripe {stripe_url}, proxy {proxy.url}; worker: "
                f"{args.worker_class}; STRIPE_RATE_LIMIT={args.rate_limit}; logs in {logdir}",
                flush=True,
            )
            if args.localstripe_ratio:
                ratio_phases(args, setup, measured)
            else:
                pace_phases(args, setup, phases, measured)
    finally:
        guard.close()
        with contextlib.suppress(Exception):
            redis.Redis.from_url(args.redis_url).flushdb()

    report = make_report(args, phases, time.monotonic() - started)
    if args.localstripe_ratio:
        print_report(phases, report["throughput"])
    else:
        print_pace_report(report["stripe_pace"], report["settings"])
    print_memory(
        sorted(memory_phases(args, phases).values(), key=lambda p: p.pledges), report["memory"]
    )
    print(f"\nsettle: total {report['total_seconds'] / 60:.1f} min")
    out = write_json(report, args.output)
    print(f"settle: results written to {out}")
    shutil.rmtree(logdir, ignore_errors=True)
    return 1 if any(p.errors for p in phases) else 0


def pace_phases(args: argparse.Namespace, setup: Setup, phases: list[Phase], measured) -> None:
    def pace(latency: float) -> Pace:
        return Pace(
            latency=latency,
            rate_limit=args.rate_limit,
            confirm_latency=args.confirm_latency,
            concurrency=args.concurrency,
            batch=args.batch,
        )

    backers = backers_for(args.pledges, args.pledges_per_backer)
    for latency in args.stripe_latency:
        for k in args.workers:
            measured(
                settle_phase(setup, k, args.pledges, backers, args.worker_class, pace(latency))
            )
    for n in sorted(set(args.memory_pledges)):
        if n in memory_phases(args, phases):
            continue
        per = backers_for(n, args.pledges_per_backer)
        measured(
            settle_phase(
                setup, args.memory_workers, n, per, args.worker_class, pace(args.memory_latency)
            )
        )


def ratio_phases(args: argparse.Namespace, setup: Setup, measured) -> None:
    backers = backers_for(args.pledges, args.pledges_per_backer)
    done = set()
    for k in args.workers:
        measured(baseline_phase(setup, k, args.pledges, backers))
        measured(settle_phase(setup, k, args.pledges, backers, args.worker_class))
        done.add((k, args.pledges))
    for n in sorted(set(args.memory_pledges)):
        if (1, n) in done:
            continue
        per = backers_for(n, args.pledges_per_backer)
        measured(settle_phase(setup, 1, n, per, args.worker_class))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return guarded("settle", lambda: run(args), "workers, proxy and localstripe")


if __name__ == "__main__":
    sys.exit(main())
