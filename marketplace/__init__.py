"""The app factory: the one place that assembles every package (the layers are in README.md)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, g, has_request_context, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, config_from_env
from marketplace.kernel.errors import ServiceError, is_conflict
from marketplace.kernel.extensions import csrf, db, limiter, login_manager, migrate
from marketplace.kernel.i18n import N_, init_i18n, number
from marketplace.kernel.security import OnceTalisman
from marketplace.kernel.signals import collect, page_banners
from marketplace.kernel.text import counted, formatted
from marketplace.kernel.web import describe_limit, flashes_at, flashes_elsewhere

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_class: type[Config] | None = None, **overrides) -> Flask:
    config_class = config_class or config_from_env()
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(config_class)
    app.config.update(overrides)
    # Logged at every start, so that an unsafe setting allowed once is not forgotten.
    for warning in config_class.validate(app.config):
        app.logger.warning("Unsafe setting allowed: %s", warning)
    _fill_paths(app)

    from marketplace.kernel.pagecache import PageCache

    # Inside ProxyFix, so that cached pages are keyed by the scheme and host it restores.
    app.wsgi_app = PageCache(app, app.wsgi_app)
    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from marketplace.kernel.sessions import RememberingSessionInterface

    app.session_interface = RememberingSessionInterface()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    _init_login(app)
    init_i18n(app)
    _init_security_headers(app)
    with app.app_context():
        _tune_sqlite(app)
        _ping_idle_connections(app)

    _guard_the_edge(app)
    _register_blueprints(app)
    _connect_signals()
    _register_error_handlers(app)
    _register_template_helpers(app)

    from .cli import register_cli

    register_cli(app)
    return app


def _fill_paths(app: Flask) -> None:
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
            app.instance_path, "marketplace.sqlite3"
        )
    if not app.config.get("UPLOAD_DIR"):
        app.config["UPLOAD_DIR"] = os.path.join(app.instance_path, "uploads")


def _ping_idle_connections(app: Flask) -> None:
    """Check a pooled connection before use only if it sat idle for a while.

    ``pool_pre_ping`` pings at every checkout, which is a round trip per transaction: a vote
    has one, a charge job four. A connection checked in a moment ago is alive unless the
    server went away in that moment, and then the statement fails like one in flight would,
    SQLAlchemy recycles the whole pool, and a retry (the user's or the job's) gets a fresh
    connection. A connection left idle (a quiet worker, a night without traffic, a server
    restarted meanwhile) is pinged, and replaced transparently if the ping fails: raising
    DisconnectionError from a checkout listener is SQLAlchemy's documented way to make the
    pool discard it and connect again.
    """
    engine = db.engine
    idle_seconds = app.config["DB_PING_AFTER_IDLE_SECONDS"]

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy):
        idle_since = record.info.get("idle_since")  # None: connected just now
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DisconnectionError("idle connection failed its ping") from exc


def _tune_sqlite(app: Flask) -> None:
    """Make SQLite behave like a real transactional database for the embedded default.

    pysqlite opens transactions lazily and never for SAVEPOINT-using code, so nested
    transactions and rolled-back tests misbehave; SQLAlchemy's documented fix is to let the
    driver autocommit and emit BEGIN ourselves. It is BEGIN IMMEDIATE: SQLite has no row
    locks, and a transaction that read first and writes later fails at once ("database is
    locked", the busy timeout cannot help) when another process wrote in between; taking the
    write lock at the start makes transactions queue on the busy timeout instead, which is
    what SELECT ... FOR UPDATE gives on PostgreSQL. WAL keeps readers outside transactions
    unblocked. The cost, one writer at a time, suits the embedded single-machine default.

    SQLite's own lower() folds ASCII letters only, so ``ilike()`` (which SQLAlchemy writes as
    ``lower(x) LIKE lower(y)`` there) would not match "Élodie" with "élodie" as PostgreSQL
    does; Python's ``str.lower`` takes its place on each connection.
    """
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database and engine.url.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _unicode_lower(value):
    return value.lower() if isinstance(value, str) else value


def _init_login(app: Flask) -> None:
    from marketplace.accounts.queries import user_for_session_token

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    # Flask-Login flashes it into the session, which holds plain strings: the text is
    # translated when flashed, in the visitor's language.
    login_manager.login_message = N_("Log in to continue.")
    login_manager.localize_callback = _
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_token: str):
        """The session or remember-me cookie carries a login session's secret: honoured
        while its row lives (logging out deletes it). Cookies of the former "<id>:<version>"
        form find no row, so they log nobody in."""
        return user_for_session_token(session_token)


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _init_security_headers(app: Flask) -> None:
    cfg = app.config
    stripe_js = _origin(cfg["STRIPE_JS_URL"])
    stripe_api = _origin(cfg["STRIPE_API_BASE"] or "https://api.stripe.com")
    csp = {
        "default-src": "'self'",
        "script-src": ["'self'", stripe_js],
        # Stripe Elements renders its card field and 3-D Secure challenges in frames.
        "frame-src": ["'self'", stripe_js, "https://hooks.stripe.com"],
        "connect-src": ["'self'", stripe_api],
        "img-src": ["'self'", "data:", "blob:"],
        "style-src": ["'self'"],
        "form-action": "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'self'",
        "object-src": "'none'",
    }
    # One Talisman per app: it keeps its settings on itself, so a shared instance would give
    # every app in the process the CSP of the last one created.
    OnceTalisman(
        app,
        force_https=cfg["FORCE_HTTPS"],
        strict_transport_security=cfg["FORCE_HTTPS"],
        session_cookie_secure=cfg["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        content_security_policy=csp,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
    )


def _guard_the_edge(app: Flask) -> None:
    """What every route gets before a view runs: ids bounded to what the database holds
    (registered before the routes, which compile their converters when added), and no NUL
    byte in a query string or a form."""
    from marketplace.kernel.web import IdConverter, refuse_nul_bytes

    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_nul_bytes)


def _register_blueprints(app: Flask) -> None:
    """The composition root: the only place that knows every package."""
    from designs.views import bp as designs_bp
    from designs.views import scoring_bp
    from marketplace.accounts.views import accounts
    from marketplace.campaigns.views import bp as campaigns_bp
    from marketplace.campaigns.views import pledges_bp
    from marketplace.operator import campaigns as campaigns_console
    from marketplace.operator import designs as designs_console
    from marketplace.operator import kpis as kpis_console
    from marketplace.operator import production as production_console
    from marketplace.operator import redesigns as redesigns_console
    from marketplace.operator import reviews as reviews_console
    from marketplace.operator import settlements as settlements_console
    from marketplace.operator.views import operator
    from marketplace.pages.views import dev, main
    from marketplace.production.views import bp as production_bp
    from marketplace.recognition.views import bp as recognition_bp
    from marketplace.redesigns.views import bp as redesigns_bp
    from marketplace.reviews.views import bp as reviews_bp
    from payments.views import bp as payments_bp

    for blueprint in (
        main,
        accounts,
        operator,
        designs_bp,
        scoring_bp,
        campaigns_bp,
        pledges_bp,
        payments_bp,
        production_bp,
        reviews_bp,
        redesigns_bp,
        recognition_bp,
        designs_console.operator_bp,
        campaigns_console.operator_bp,
        settlements_console.operator_bp,
        settlements_console.royalties_bp,
        production_console.operator_bp,
        redesigns_console.operator_bp,
        reviews_console.operator_bp,
        kpis_console.operator_bp,
    ):
        app.register_blueprint(blueprint)
    if app.config["MAIL_DEV_VIEWER"]:
        app.register_blueprint(dev)


def _connect_signals() -> None:
    """Every receiver of ``marketplace.kernel.signals``, in one place. Connecting the same
    function again (a second app in the process) changes nothing."""
    from marketplace.campaigns import views as campaign_views
    from marketplace.kernel import fragments, signals
    from marketplace.production import services as production
    from marketplace.production import views as production_views
    from marketplace.recognition import services as recognition
    from marketplace.recognition import views as recognition_views
    from marketplace.redesigns import services as redesigns
    from marketplace.redesigns import views as redesigns_views
    from marketplace.reviews import views as review_views
    from payments import charging, gateway, ledger, refunds

    signals.campaign_funded.connect(charging.start_settlement)
    signals.pledge_collected.connect(production.request_survey)
    signals.pledge_refunded.connect(production.withdraw_refunded_order)
    signals.run_launched.connect(ledger.book_run)
    signals.run_cancelled.connect(refunds.cancel_for_run)
    signals.worker_warming_up.connect(gateway.preload)
    signals.page_banners.connect(production_views.survey_banners)
    fragments.read_ahead(production_views.banner_key)
    signals.pledge_details.connect(production_views.pledge_details)
    signals.campaign_timeline.connect(production_views.campaign_timeline)
    signals.design_campaigns.connect(campaign_views.design_campaigns)
    signals.design_approved.connect(redesigns.invite_to_score)
    signals.design_selected.connect(redesigns.adopt_redesign)
    signals.design_sections.connect(redesigns_views.design_sections)
    signals.design_timeline.connect(redesigns_views.design_timeline)
    signals.my_designs_sections.connect(redesigns_views.my_designs_sections)
    signals.pledge_details.connect(review_views.pledge_details)
    signals.design_sections.connect(review_views.design_sections)
    signals.campaign_sections.connect(review_views.campaign_sections)
    signals.designer_sections.connect(review_views.designer_sections)
    signals.design_selected.connect(recognition.design_selected)
    signals.campaign_settled.connect(recognition.campaign_settled)
    signals.designer_sections.connect(recognition_views.designer_sections)


# Lazy: defined at import, read in the language of the request that fails.
_ERROR_TEXT = {
    400: (_l("Bad request"), _l("We could not understand that request.")),
    401: (_l("Please log in"), _l("You need to log in to see this page.")),
    403: (_l("Not allowed"), _l("Your account cannot open this page.")),
    404: (_l("Page not found"), _l("This page does not exist, or it has moved.")),
    405: (_l("Method not allowed"), _l("This address does not accept that kind of request.")),
    409: (_l("Conflict"), _l("That change conflicts with the current state of things.")),
    413: (_l("Too large"), _l("What you sent is larger than we accept.")),
    422: (_l("Cannot process"), _l("Some of what you sent is not valid.")),
    429: (_l("Too many attempts"), _l("Please wait a little before trying again.")),
    500: (
        _l("Something went wrong"),
        _l("We have been told about it. Please try again in a moment."),
    ),
}


def _register_error_handlers(app: Flask) -> None:
    def render_error(code: int, detail: str | None = None):
        title, text = _ERROR_TEXT.get(code, (_l("Error"), _l("Something went wrong.")))
        title, text = str(title), str(detail or text)
        if request.accept_mimetypes.best == "application/json":
            return {"error": title, "detail": text}, code
        return render_template("errors/error.html", code=code, title=title, text=text), code

    @app.errorhandler(ServiceError)
    def broken_rule(exc: ServiceError):
        """The write views' envelope: a service refused the change, so nothing of it is kept
        and the person reads why, with the status the rule chose (404, 409, 422...). Views
        keep only parse, call, commit, redirect; a form that must be shown again with the
        input kept catches the error itself."""
        db.session.rollback()
        return render_error(exc.status, exc.message)

    @app.errorhandler(sa.exc.DBAPIError)
    def database_error(exc: sa.exc.DBAPIError):
        """Two transactions collided and this one was rolled back: nothing was kept, and the
        person can simply send it again. Any other database error is a fault (500)."""
        db.session.rollback()
        if is_conflict(exc):
            return render_error(
                409, _("Someone changed this at the same moment. Nothing was saved: try again.")
            )
        raise exc

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return render_error(
            400,
            _(
                "This form has expired or did not come from this site. Reload the page and try"
                " again."
            ),
        )

    @app.errorhandler(413)
    def too_large(exc):
        limit_mb = app.config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
        return render_error(
            413,
            _(
                "What you sent is larger than the %(size)s MB we accept.",
                size=number(round(limit_mb)),
            ),
        )

    @app.errorhandler(429)
    def too_many(exc):
        if exc.response is not None:  # a limit that answers with its own page (the login's)
            return exc.response
        return render_error(
            429,
            _(
                "Too many attempts (%(limit)s). Please wait a few minutes and try again.",
                limit=describe_limit(exc),
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        default = exc.__class__.description
        detail = exc.description if exc.description != default else None
        return render_error(exc.code, detail)

    @app.errorhandler(500)
    def server_error(exc):
        db.session.rollback()
        return render_error(500)


def _register_template_helpers(app: Flask) -> None:
    from marketplace.kernel import fragments

    @app.context_processor
    def inject():
        # Mail rendered by a worker has no page; anonymous visitors have no log-out button,
        # and making them a CSRF token would give each a session cookie, which stops every
        # cache (ours, a proxy's) from sharing their pages.
        if not has_request_context() or not current_user.is_authenticated:
            return {}
        # Once per request: a page rendered in pieces calls this for each of them.
        if "page_banners" not in g:
            try:
                user = current_user._get_current_object()
                g.page_banners = [b for found in collect(page_banners, user) for b in found]
            except sa.exc.SQLAlchemyError:
                g.page_banners = []  # an error page must render when the database failed
        return {"banners": g.page_banners}

    app.add_template_filter(counted)
    app.add_template_global(fragments.csrf_input)
    app.add_template_global(fragments.layout_part)
    app.add_template_global(fragments.not_by)
    app.add_template_global(fragments.hole)
    app.add_template_filter(formatted)
    app.add_template_global(flashes_at)
    app.add_template_global(flashes_elsewhere)
