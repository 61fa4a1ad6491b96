"""Configuration classes, read from the environment.

The defaults suit a developer's machine; production refuses to start without the secrets it
needs, rather than falling back on a value every clone of this repository knows.
"""

from __future__ import annotations

import datetime as dt
import os

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool | None) -> bool | None:
    """Parse a boolean strictly: a typo such as ``SESSION_COOKIE_SECURE=ture`` must not
    silently mean False. A default of None leaves an unset variable to be derived from
    other settings."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{name}={raw!r} is not a boolean (use one of: 1/0, true/false, yes/no, on/off)"
    )


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


def normalise_database_url(url: str | None) -> str | None:
    """Point plain PostgreSQL URLs at psycopg 3, the driver this project installs."""
    if not url:
        return None
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY")

    #: None means "SQLite in the instance folder"; create_app fills in the path.
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("DATABASE_URL"))
    #: A pooled connection idle this long is pinged before use (see ``_ping_idle_connections``
    #: in ``create_app``); one used more recently is trusted, which saves a round trip per
    #: transaction.
    DB_PING_AFTER_IDLE_SECONDS = env_float("DB_PING_AFTER_IDLE_SECONDS", 1.0)
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    RQ_DEFAULT_TIMEOUT = env_int("RQ_DEFAULT_TIMEOUT", 180)

    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY")
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET")
    #: Empty means Stripe's own API; development and tests point it at localstripe.
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE") or None
    STRIPE_JS_URL = os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/")
    #: List the local stand-in's test cards on the card page. Unset: only when
    #: STRIPE_API_BASE is a loopback address, where localstripe answers (they would mislead
    #: with Stripe itself, whose test cards behave otherwise).
    STRIPE_TEST_CARDS = env_bool("STRIPE_TEST_CARDS", None)
    #: Calls per second to Stripe from all workers together (shared in Redis): under the
    #: 25/s that Stripe allows a test-mode account; live accounts may raise it towards 100.
    STRIPE_RATE_LIMIT = env_int("STRIPE_RATE_LIMIT", 20)
    STRIPE_CONNECT_TIMEOUT = env_float("STRIPE_CONNECT_TIMEOUT", 5.0)
    STRIPE_READ_TIMEOUT = env_float("STRIPE_READ_TIMEOUT", 30.0)
    #: Attempts per Stripe call on 429, 5xx and network errors, with jittered backoff.
    STRIPE_MAX_ATTEMPTS = env_int("STRIPE_MAX_ATTEMPTS", 4)
    STRIPE_BACKOFF_SECONDS = env_float("STRIPE_BACKOFF_SECONDS", 0.5)

    #: Days after the deadline during which a backer whose charge failed can fix the card.
    CARD_FIX_DAYS = env_int("CARD_FIX_DAYS", 7)
    #: Hours between two reminders to fix a card.
    CARD_FIX_REMINDER_HOURS = env_int("CARD_FIX_REMINDER_HOURS", 48)
    #: A charge left in "charging" this long (longer than a Stripe call can take) is settled
    #: by the reconciler asking Stripe what happened.
    SETTLEMENT_RECONCILE_SECONDS = env_int("SETTLEMENT_RECONCILE_SECONDS", 120)
    #: Charges each settlement job keeps in flight at Stripe at once (threads of the worker
    #: process, each with its own database session): a charge spends nearly all its time
    #: waiting for Stripe, so one process can wait on several. The rate limit above still
    #: caps every worker together. SQLite has one writer, so there it is always 1.
    SETTLEMENT_CONCURRENCY = env_int("SETTLEMENT_CONCURRENCY", 8)
    #: Pledges per settlement job: the fan-out enqueues a campaign's pledges in jobs of this
    #: many, so that each job has enough charges to keep SETTLEMENT_CONCURRENCY in flight.
    SETTLEMENT_BATCH = env_int("SETTLEMENT_BATCH", 40)
    #: How far back the sweep of orphaned PaymentIntents looks (by the intent's creation),
    #: each time it runs (every 15 minutes); longer than a settlement's charges are delayed
    #: by a worker outage, shorter than a listing of every intent ever made.
    SETTLEMENT_ORPHAN_LOOKBACK_HOURS = env_int("SETTLEMENT_ORPHAN_LOOKBACK_HOURS", 48)
    #: Hours between reminders to answer the shipping survey.
    SURVEY_REMINDER_HOURS = env_int("SURVEY_REMINDER_HOURS", 48)
    #: Days after delivery when a backer is asked to rate the product; the reminder follows
    #: RATING_REMINDER_DAYS later if it is still not rated.
    RATING_ASK_DAYS = env_int("RATING_ASK_DAYS", 14)
    RATING_REMINDER_DAYS = env_int("RATING_REMINDER_DAYS", 7)
    #: Days a rating can be changed after it was first written.
    RATING_EDIT_DAYS = env_int("RATING_EDIT_DAYS", 30)

    #: None means "uploads/ in the instance folder".
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR") or None
    #: Artwork is capped at 10 MB by the designs rules; the request may carry a form around it.
    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 12 * 1024 * 1024)
    #: Largest artwork accepted, in pixels, read from the file's header before decoding:
    #: checking an upload holds its pixels at 4 bytes each (100 MB at 25 MP), whatever the
    #: file's size. 25 MP admits print-quality art (5,000 × 5,000 is 42 cm square at 300 dpi;
    #: an A3 poster is 17.4 MP) and a 24 MP camera's photos.
    ARTWORK_MAX_PIXELS = env_int("ARTWORK_MAX_PIXELS", 25_000_000)
    #: Artwork uploads (new designs and replaced artwork, refused ones included) per account.
    UPLOAD_LIMIT = os.environ.get("UPLOAD_LIMIT", "20 per hour")

    #: "smtp" sends for real; "console" prints each mail to the worker's log.
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = env_int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_USE_TLS = env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = env_bool("MAIL_USE_SSL", False)
    MAIL_TIMEOUT = env_int("MAIL_TIMEOUT", 20)
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Cocréa <no-reply@localhost>")
    #: The dev-only page that lists the outbox; never on in production.
    MAIL_DEV_VIEWER = False
    #: Opens that page to a browser on this machine (``make run`` makes one per run and
    #: prints the link); without it only operators may read it.
    MAIL_DEV_VIEWER_TOKEN = os.environ.get("MAIL_DEV_VIEWER_TOKEN") or None

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    #: "Keep me logged in": how long the cookie, and the login session it names on the
    #: server, last. The variable is in days; Flask-Login reads a timedelta.
    REMEMBER_COOKIE_DURATION = dt.timedelta(days=env_int("REMEMBER_COOKIE_DURATION", 30))
    #: A login without "keep me logged in" ends when the browser closes its session cookie,
    #: and on the server this many hours after it began at the latest.
    LOGIN_SESSION_HOURS = env_int("LOGIN_SESSION_HOURS", 12)
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
    #: Absolute base for links in mail sent from workers, where no request tells the host.
    SERVER_BASE_URL = os.environ.get("SERVER_BASE_URL", "http://127.0.0.1:5000")
    #: How many reverse proxies set X-Forwarded-*; 0 trusts none.
    PROXY_FIX_HOPS = env_int("PROXY_FIX_HOPS", 0)
    FORCE_HTTPS = env_bool("FORCE_HTTPS", False)

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or REDIS_URL
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_KEY_PREFIX = "cocrea-limits"
    #: Failed logins, whatever the account, from one client address.
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "20 per 15 minutes")
    #: The lockout: failed logins for one account from one client address. Keyed on both,
    #: so that someone guessing elsewhere cannot lock the owner out.
    LOGIN_LIMIT_PER_ACCOUNT_AND_IP = os.environ.get(
        "LOGIN_LIMIT_PER_ACCOUNT_AND_IP", "5 per 15 minutes"
    )
    #: The slowdown: failed logins for one account from all addresses together. Its window
    #: is short, so that guesses spread over many addresses are held to a few a minute while
    #: the owner waits at most that minute, never a lockout.
    LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "10 per minute")
    REGISTER_LIMIT = os.environ.get("REGISTER_LIMIT", "10 per hour")
    MAIL_LINK_LIMIT = os.environ.get("MAIL_LINK_LIMIT", "5 per hour")
    #: Writes per client address: enough for a lively person, not for a script.
    COMMENT_LIMIT = os.environ.get("COMMENT_LIMIT", "10 per minute;60 per hour")
    REPORT_LIMIT = os.environ.get("REPORT_LIMIT", "20 per hour")
    UPDATE_LIMIT = os.environ.get("UPDATE_LIMIT", "10 per hour")
    PLEDGE_LIMIT = os.environ.get("PLEDGE_LIMIT", "20 per hour")
    #: Units of one limited variant a single account may hold, so that one backer cannot
    #: take a whole limited edition.
    LIMITED_UNITS_PER_ACCOUNT = env_int("LIMITED_UNITS_PER_ACCOUNT", 10)

    #: Werkzeug's scrypt parameters (cost 2**15, block 8, parallel 1).
    PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt:32768:8:1")
    EMAIL_VERIFY_MAX_AGE = env_int("EMAIL_VERIFY_MAX_AGE", 7 * 24 * 3600)
    PASSWORD_RESET_MAX_AGE = env_int("PASSWORD_RESET_MAX_AGE", 3600)
    #: Bumped when the designer licence text changes, so acceptances name the text they saw.
    DESIGNER_TERMS_VERSION = "2026-11"

    #: Where times are shown for visitors and accounts that chose no time zone of their own.
    DEFAULT_TIME_ZONE = os.environ.get("DEFAULT_TIME_ZONE", "Europe/Paris")
    #: The catalogues (translations/fr/LC_MESSAGES/messages.po, compiled by make).
    BABEL_TRANSLATION_DIRECTORIES = os.path.join(os.path.dirname(__file__), "translations")

    #: How long anonymous visitors' public pages are cached (0 turns the cache off).
    PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 10)
    #: How long pages that are forgotten on every change (a design's) are cached (0: off).
    PAGE_CACHE_TAGGED_SECONDS = env_int("PAGE_CACHE_TAGGED_SECONDS", 300)
    #: Length of a design's scoring window.
    VOTING_DAYS = env_int("VOTING_DAYS", 7)
    #: Bayesian prior weight: how many "average" votes every design starts with.
    SCORING_PRIOR_WEIGHT = env_int("SCORING_PRIOR_WEIGHT", 10)
    #: Share of buy intent (Wilson lower bound) in the rank; the rest is the Bayesian score.
    SCORING_BUY_WEIGHT = env_float("SCORING_BUY_WEIGHT", 0.3)
    #: The shortlist bar, applied when voting closes.
    SHORTLIST_MIN_VOTES = env_int("SHORTLIST_MIN_VOTES", 10)
    SHORTLIST_MIN_RANK = env_float("SHORTLIST_MIN_RANK", 0.55)
    #: A produced design is suggested for a redesign challenge when its average rating is
    #: under REDESIGN_BELOW with at least REDESIGN_MIN_RATINGS ratings.
    REDESIGN_BELOW = env_float("REDESIGN_BELOW", 3.0)
    REDESIGN_MIN_RATINGS = env_int("REDESIGN_MIN_RATINGS", 10)

    @classmethod
    def validate(cls, config: dict) -> list[str]:
        """Raise if the configuration cannot run safely; return the warnings to log at start
        (the unsafe settings allowed deliberately)."""
        return []


#: Every clone of this repository knows these: production refuses to sign with them, and to
#: accept webhooks signed with them (tests/kernel/test_config.py finds every key written in
#: the repository and checks it is refused, so a new one cannot be forgotten here).
DEVELOPMENT_SECRET_KEY = "development-only-secret-not-for-production"
TEST_SECRET_KEY = "test-secret"
PUBLIC_SECRET_KEYS = frozenset({DEVELOPMENT_SECRET_KEY, TEST_SECRET_KEY})
PUBLIC_WEBHOOK_SECRETS = frozenset({"whsec_test_suite", "whsec_localstripe"})


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SECRET_KEY = Config.SECRET_KEY or DEVELOPMENT_SECRET_KEY
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "console")
    MAIL_DEV_VIEWER = True


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = TEST_SECRET_KEY
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("TEST_DATABASE_URL"))
    REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    RATELIMIT_STORAGE_URI = REDIS_URL
    MAIL_BACKEND = "smtp"
    MAIL_SERVER = "127.0.0.1"
    MAIL_USE_TLS = False
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    # Tests read their own writes at once; the page cache has tests of its own.
    PAGE_CACHE_SECONDS = 0
    PAGE_CACHE_TAGGED_SECONDS = 0
    # A cheap scrypt keeps a suite that creates hundreds of accounts fast; same algorithm.
    PASSWORD_HASH_METHOD = "scrypt:1024:8:1"
    SERVER_BASE_URL = "http://localhost"
    STRIPE_SECRET_KEY = "sk_test_suite"
    STRIPE_PUBLISHABLE_KEY = "pk_test_suite"
    STRIPE_WEBHOOK_SECRET = "whsec_test_suite"
    # The suite's Stripe is a loopback localstripe: no reason to pace it, and backoff waits
    # only slow the fault tests down.
    STRIPE_RATE_LIMIT = 1000
    STRIPE_BACKOFF_SECONDS = 0.01


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "https")
    FORCE_HTTPS = env_bool("FORCE_HTTPS", True)

    # Deliberate exceptions to what ``validate`` refuses, one per unsafe setting, for a
    # staging box or an incident; each one in use is logged as a warning at every start, so
    # that it cannot be forgotten quietly.
    #: Run with a SECRET_KEY written in this repository (anyone can forge sessions with it).
    ALLOW_INSECURE_SECRET_KEY = env_bool("ALLOW_INSECURE_SECRET_KEY", False)
    #: Run with a blank (or repository-known) STRIPE_WEBHOOK_SECRET; a blank one refuses
    #: every webhook event, and settlement relies on its reconciler alone.
    ALLOW_INSECURE_WEBHOOK_SECRET = env_bool("ALLOW_INSECURE_WEBHOOK_SECRET", False)
    #: Run with RATELIMIT_ENABLED=false (no throttling of logins, sign-ups or mail links).
    ALLOW_INSECURE_NO_RATELIMIT = env_bool("ALLOW_INSECURE_NO_RATELIMIT", False)
    #: Run with session cookies sent over plain HTTP (SESSION_COOKIE_SECURE and FORCE_HTTPS
    #: both false).
    ALLOW_INSECURE_HTTP_COOKIES = env_bool("ALLOW_INSECURE_HTTP_COOKIES", False)

    @classmethod
    def validate(cls, config: dict) -> list[str]:
        """Refuse to start with a missing secret or an unsafe setting, naming every one at
        once with its fix; return the warnings for the unsafe settings allowed."""

        def blank(name: str) -> bool:
            return not (config.get(name) or "").strip()

        # A blank STRIPE_WEBHOOK_SECRET is not "missing": it may be allowed (below).
        required = {
            "SECRET_KEY": "SECRET_KEY",
            "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
            "STRIPE_SECRET_KEY": "STRIPE_SECRET_KEY",
        }
        missing = [variable for variable, key in required.items() if blank(key)]
        if missing:
            raise RuntimeError(
                "Production configuration needs these environment variables: "
                + ", ".join(missing)
                + " (set MARKETPLACE_ENV=development for a local run)"
            )
        secret_key = config["SECRET_KEY"].strip()
        if len(secret_key) < 32 and secret_key not in PUBLIC_SECRET_KEYS:
            raise RuntimeError("SECRET_KEY must be at least 32 characters in production")

        unsafe = []  # (the allowance, what is wrong, how to fix it)
        if secret_key in PUBLIC_SECRET_KEYS:
            unsafe.append(
                (
                    "ALLOW_INSECURE_SECRET_KEY",
                    "SECRET_KEY is a key written in this repository: anyone can forge "
                    "sessions and password-reset links with it",
                    "set SECRET_KEY to a new random value "
                    '(python -c "import secrets; print(secrets.token_urlsafe(48))")',
                )
            )
        webhook_secret = (config.get("STRIPE_WEBHOOK_SECRET") or "").strip()
        if not webhook_secret or webhook_secret in PUBLIC_WEBHOOK_SECRETS:
            problem = (
                "STRIPE_WEBHOOK_SECRET is blank: every webhook event is refused, and charges "
                "are settled by the reconciler alone"
                if not webhook_secret
                else "STRIPE_WEBHOOK_SECRET is a secret written in this repository: anyone can "
                "sign webhook events with it"
            )
            unsafe.append(
                (
                    "ALLOW_INSECURE_WEBHOOK_SECRET",
                    problem,
                    "set STRIPE_WEBHOOK_SECRET to the signing secret (whsec_...) of your "
                    "endpoint in Stripe's dashboard",
                )
            )
        if not config.get("RATELIMIT_ENABLED"):
            unsafe.append(
                (
                    "ALLOW_INSECURE_NO_RATELIMIT",
                    "RATELIMIT_ENABLED is false: logins, sign-ups and mail links are not throttled",
                    "remove RATELIMIT_ENABLED or set it to true",
                )
            )
        if not config.get("SESSION_COOKIE_SECURE") and not config.get("FORCE_HTTPS"):
            unsafe.append(
                (
                    "ALLOW_INSECURE_HTTP_COOKIES",
                    "SESSION_COOKIE_SECURE and FORCE_HTTPS are both false: session cookies "
                    "travel over plain HTTP",
                    "set SESSION_COOKIE_SECURE=true (and serve HTTPS), or FORCE_HTTPS=true",
                )
            )
        refused = [entry for entry in unsafe if not config.get(entry[0])]
        if refused:
            raise RuntimeError(
                "Production refuses to start with unsafe settings:\n"
                + "\n".join(
                    f"- {problem}. To fix it, {fix}; to run like this deliberately, set {name}=1."
                    for name, problem, fix in refused
                )
            )
        return [f"{name}=1: {problem}." for name, problem, _fix in unsafe]


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """The class named by MARKETPLACE_ENV; production when unset, so a forgotten variable
    fails closed instead of running a server with development secrets."""
    name = os.environ.get("MARKETPLACE_ENV", "production").strip().lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(
            f"MARKETPLACE_ENV={name!r} is not one of: {', '.join(sorted(CONFIGS))}"
        ) from None
