"""The test harness: real PostgreSQL or SQLite, real Redis, a real SMTP server on loopback,
a real localstripe server, and Debian's Chromium driven by Playwright.

Each test runs inside a transaction that is rolled back at the end (the schema is migrated
once per session). Tests marked ``live_db`` commit for real, because another thread (the
browser tests' server) or process (a worker) must see their rows; their tables are emptied
afterwards.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask
from flask_sqlalchemy.session import Session as FlaskSession
from werkzeug.serving import make_server

from config import TestConfig
from designs import images
from designs.models import Design, DesignState, DesignTag, DesignVariant, Product, Vote
from dev.services import (
    flush_localstripe,
    free_port,
    localstripe,
    redis_answers,
    redis_server,
)
from marketplace import create_app
from marketplace.campaigns.models import Campaign, CampaignState, CampaignVariant
from marketplace.kernel.dbtypes import utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.queues import QUEUE_NAMES, make_worker, redis_connection
from tests.helpers import files_under, png_bytes

CHROMIUM = "/usr/bin/chromium"


# --- services, once per session ---------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = TestConfig.SQLALCHEMY_DATABASE_URI
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def redis_url():
    url = TestConfig.REDIS_URL
    if redis_answers(url):
        yield url
        return
    if os.environ.get("TEST_REDIS_URL"):
        raise RuntimeError(f"TEST_REDIS_URL={url} does not answer")
    # No local Redis: a throw-away server keeps `make test` self-contained.
    with redis_server() as started:
        yield started


@dataclass
class Mailbox:
    """What the loopback SMTP server received."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        msg = message_from_bytes(envelope.content)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.messages.append(msg)
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if address in m["X-Envelope-To"]]

    def wait_for(self, address: str, subject_part: str = "", timeout: float = 15) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.to(address):
                if subject_part in msg["Subject"]:
                    return msg
            time.sleep(0.05)
        raise AssertionError(f"no mail to {address} with {subject_part!r} within {timeout}s")

    @staticmethod
    def body(msg: Message) -> str:
        return msg.get_payload(decode=True).decode(msg.get_content_charset() or "utf-8")

    @classmethod
    def link(cls, msg: Message) -> str:
        found = re.search(r"https?://\S+", cls.body(msg))
        assert found, "the mail has no link"
        return found.group(0)


@pytest.fixture(scope="session")
def smtp_server():
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def localstripe_url():
    with localstripe() as url:
        yield url


@pytest.fixture(scope="session")
def _app(database_url, redis_url, smtp_server, localstripe_url, tmp_path_factory) -> Flask:
    app = create_app(
        TestConfig,
        UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads")),
        SQLALCHEMY_DATABASE_URI=database_url,
        REDIS_URL=redis_url,
        RATELIMIT_STORAGE_URI=redis_url,
        MAIL_PORT=smtp_server[1],
        STRIPE_API_BASE=localstripe_url,
        STRIPE_JS_URL=localstripe_url + "/js.stripe.com/v3/",
    )
    with app.app_context():
        _migrate_from_empty()
    yield app
    with app.app_context():
        db.engine.dispose()


def _migrate_from_empty() -> None:
    """Drop whatever a previous run left, then build the schema with the migrations, as a
    deployment would: the models are never used to create tables."""
    from flask_migrate import upgrade

    with db.engine.begin() as conn:
        existing = sa.MetaData()
        existing.reflect(conn)
        existing.drop_all(conn)
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    upgrade()


# --- per test ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_redis(request):
    """Each test starts with empty queues and rate-limit counters."""
    if "_app" not in request.fixturenames and "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("_app")
    redis_connection(app).flushdb()
    yield


@pytest.fixture
def app(_app: Flask, request):
    if request.node.get_closest_marker("live_db"):
        yield _app
        _empty_tables(_app)
        return
    with _app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
    original = db.session
    # Every session of this test, in requests, jobs and the test itself, works inside one
    # outer transaction; their commits only release savepoints.
    db.session = db._make_scoped_session(
        {
            "bind": connection,
            "join_transaction_mode": "create_savepoint",
            "class_": _ConnectionBoundSession,
        }
    )
    try:
        yield _app
    finally:
        db.session = original
        transaction.rollback()
        connection.close()


class _ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy picks the engine from the model's bind key and would bypass the
    test's connection (and its transaction); this one always uses the connection."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return self.bind


#: Rows the migrations insert (the launch products): kept, as a fresh deployment has them.
REFERENCE_TABLES = {"products"}


def _empty_tables(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                if table.name not in REFERENCE_TABLES:
                    conn.execute(table.delete())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    """An app context for the test's own database work (factories, assertions).

    Requests made while it is pushed would reuse it (and its ``g``), so use it in ``with``
    blocks between requests rather than around them.
    """
    return app.app_context


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    box = smtp_server[0]
    box.clear()
    return box


@pytest.fixture
def stripe_server(localstripe_url) -> str:
    """localstripe's URL, its store emptied for this test."""
    flush_localstripe(localstripe_url)
    return localstripe_url


@pytest.fixture
def run_jobs(app):
    """Run every queued job in this process with a real RQ burst worker; returns how many
    jobs each queue had."""

    def run(queues: tuple[str, ...] = QUEUE_NAMES) -> dict[str, int]:
        counts = {}
        for name in queues:
            counts[name] = len(make_worker(app, (name,), simple=True).queues[0])
        make_worker(app, queues, simple=True).work(burst=True, with_scheduler=False)
        return counts

    return run


# --- accounts ---------------------------------------------------------------------------------

PASSWORD = "correct horse battery"


@pytest.fixture
def make_user(app, ctx):
    """Create an account directly in the database; returns its id."""
    from marketplace.accounts.models import User
    from marketplace.accounts.services import hash_password
    from marketplace.kernel.dbtypes import utcnow

    counter = iter(range(1, 10_000))

    def make(
        email: str | None = None,
        *,
        name: str = "Test Member",
        verified: bool = True,
        operator: bool = False,
        designer: bool = False,
        password: str = PASSWORD,
    ) -> int:
        with ctx():
            user = User(
                email=email or f"member{next(counter)}@example.com",
                display_name=name,
                password_hash=hash_password(password),
                email_verified_at=utcnow() if verified else None,
                is_operator=operator,
                designer_terms_version=app.config["DESIGNER_TERMS_VERSION"] if designer else None,
                designer_terms_accepted_at=utcnow() if designer else None,
            )
            db.session.add(user)
            db.session.commit()
            return user.id

    return make


def csrf_token(client, path: str) -> str:
    """The CSRF token of the form served at ``path``, as a browser would have it."""
    html = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert found, f"no CSRF token in {path}"
    return found.group(1)


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, email: str, password: str = PASSWORD):
        token = csrf_token(self.client, "/account/login")
        return self.client.post(
            "/account/login", data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self):
        token = csrf_token(self.client, "/account/")
        return self.client.post("/account/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


# --- designs and campaigns -------------------------------------------------------------------


@pytest.fixture
def upload_dir(app):
    """The app's upload folder, emptied for this test."""
    path = app.config["UPLOAD_DIR"]
    for file in files_under(path):
        os.remove(file)
    return path


@pytest.fixture
def product_id(app, ctx) -> int:
    with ctx():
        return db.session.scalar(sa.select(Product.id).where(Product.name == "T-shirt"))


@pytest.fixture
def make_design(app, ctx, make_user, product_id, upload_dir):
    """Create a design in any state; returns its id."""
    counter = iter(range(1, 100_000))
    artwork = png_bytes()

    def make(
        designer_id: int | None = None,
        *,
        state: DesignState = DesignState.VOTING,
        title: str | None = None,
        tags: tuple[str, ...] = (),
        variants: tuple[str, ...] = ("S", "M", "L"),
        closes_in: dt.timedelta = dt.timedelta(days=7),
        votes: tuple[tuple[int, int, bool], ...] = (),
        rank_score: float | None = None,
    ) -> int:
        n = next(counter)
        if designer_id is None:
            designer_id = make_user(f"designer{n}@example.com", designer=True, name=f"Designer {n}")
        stored = images.store_artwork(io.BytesIO(artwork), upload_dir)
        with ctx():
            now = utcnow()
            design = Design(
                designer_id=designer_id,
                product_id=product_id,
                title=title or f"Design number {n}",
                description="Line one\nLine two",
                state=state,
                artwork_key=stored.key,
                artwork_width=stored.width,
                artwork_height=stored.height,
                artwork_format=stored.format,
                tags=[DesignTag(tag=t) for t in tags],
                variants=[DesignVariant(label=v, position=i) for i, v in enumerate(variants)],
                rank_score=rank_score,
            )
            if state != DesignState.DRAFT:
                design.terms_version = app.config["DESIGNER_TERMS_VERSION"]
                design.submitted_at = now
            if state not in (DesignState.DRAFT, DesignState.SUBMITTED, DesignState.DECLINED):
                design.voting_opens_at = now - dt.timedelta(days=1)
                design.voting_closes_at = now + closes_in
            db.session.add(design)
            db.session.flush()
            for user_id, score, would_buy in votes:
                db.session.add(
                    Vote(design_id=design.id, user_id=user_id, score=score, would_buy=would_buy)
                )
                design.vote_count += 1
                design.score_sum += score
                design.buy_count += int(would_buy)
            db.session.commit()
            return design.id

    return make


@pytest.fixture
def make_campaign(app, ctx, make_user, make_design):
    """A campaign in any state on a fresh selected design; returns its id."""

    def make(
        *,
        state: CampaignState = CampaignState.LIVE,
        goal: int = 10,
        price: int = 2500,
        variants: tuple[tuple[str, int | None], ...] = (("S", None), ("M", None), ("L", 5)),
        deadline_in: dt.timedelta = dt.timedelta(days=20),
        designer_id: int | None = None,
    ) -> int:
        operator_id = make_user(f"op{utcnow().timestamp()}@example.com", operator=True)
        design_id = make_design(designer_id, state=DesignState.CAMPAIGN)
        with ctx():
            now = utcnow()
            campaign = Campaign(
                design_id=design_id,
                product_name="Test tee",
                state=state,
                unit_price_cents=price,
                currency="EUR",
                goal_units=goal,
                production_cost_cents=price - 500,
                royalty_cents=300,
                platform_cents=200,
                starts_at=now - dt.timedelta(days=1),
                deadline=now + deadline_in,
                created_by_id=operator_id,
                variants=[
                    CampaignVariant(label=label, unit_limit=limit, position=i)
                    for i, (label, limit) in enumerate(variants)
                ],
            )
            db.session.add(campaign)
            db.session.commit()
            return campaign.id

    return make


# --- browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing on CI: .ci/run installs the chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI runs these")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live_server(app):
    """The app served over real HTTP from a thread, for the browser."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    previous = app.config["SERVER_BASE_URL"]
    app.config["SERVER_BASE_URL"] = base
    try:
        yield base
    finally:
        app.config["SERVER_BASE_URL"] = previous
        server.shutdown()
        thread.join(10)


@pytest.fixture
def page(browser, request, tmp_path):
    context = browser.new_context()
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    try:
        yield pg
    finally:
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            with contextlib.suppress(Exception):
                out = os.path.join("test-artifacts", request.node.name + ".png")
                os.makedirs("test-artifacts", exist_ok=True)
                pg.screenshot(path=out, full_page=True)
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report


def pytest_report_header(config):
    url = TestConfig.SQLALCHEMY_DATABASE_URI or "SQLite (temporary file)"
    chromium = "present" if shutil.which("chromium") or os.path.exists(CHROMIUM) else "absent"
    return [f"database: {re.sub(r'//[^@]*@', '//***@', url)}", f"chromium: {chromium}"]
