import ast
import logging
import secrets
import time
from pathlib import Path

import pytest
import stripe

import config
from marketplace import create_app
from payments import gateway


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("off", False),
        ("", False),
    ],
)
def test_env_bool_accepts_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert config.env_bool("SOME_FLAG", not expected) is expected


def test_env_bool_refuses_a_typo_instead_of_reading_it_as_false(monkeypatch):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "ture")
    with pytest.raises(ValueError, match="SESSION_COOKIE_SECURE"):
        config.env_bool("SESSION_COOKIE_SECURE", True)


def test_numbers_are_read_strictly(monkeypatch):
    monkeypatch.setenv("DB_PING_AFTER_IDLE_SECONDS", "2.5")
    assert config.env_float("DB_PING_AFTER_IDLE_SECONDS", 1) == 2.5
    monkeypatch.setenv("DB_PING_AFTER_IDLE_SECONDS", "")
    assert config.env_float("DB_PING_AFTER_IDLE_SECONDS", 1) == 1
    monkeypatch.setenv("DB_PING_AFTER_IDLE_SECONDS", "1s")
    with pytest.raises(ValueError, match="DB_PING_AFTER_IDLE_SECONDS='1s' is not a number"):
        config.env_float("DB_PING_AFTER_IDLE_SECONDS", 1)


def test_unset_environment_means_production_which_refuses_to_start_without_secrets(monkeypatch):
    monkeypatch.delenv("MARKETPLACE_ENV", raising=False)
    for name in ("SECRET_KEY", "DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert config.config_from_env() is config.ProductionConfig
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def production_app(redis_url, **overrides):
    """A production app from settings that pass every check, with ``overrides`` applied.
    The secrets are made here, so that none of them appears in the repository."""
    settings = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "STRIPE_SECRET_KEY": "sk_live_" + secrets.token_hex(12),
        "STRIPE_WEBHOOK_SECRET": "whsec_" + secrets.token_hex(12),
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url,
    }
    return create_app(config.ProductionConfig, **{**settings, **overrides})


def test_production_starts_with_safe_settings_and_warns_of_nothing(redis_url, caplog):
    with caplog.at_level(logging.WARNING):
        app = production_app(redis_url)
    assert app.config["ENV_NAME"] == "production"
    assert not [r for r in caplog.records if "ALLOW_INSECURE" in r.getMessage()]


def test_production_refuses_a_short_secret_key(redis_url):
    with pytest.raises(RuntimeError, match="at least 32"):
        production_app(redis_url, SECRET_KEY="short")


def test_production_refuses_the_development_secret_key(redis_url):
    with pytest.raises(RuntimeError) as refused:
        production_app(redis_url, SECRET_KEY=config.DevelopmentConfig.SECRET_KEY)
    assert "SECRET_KEY" in str(refused.value)
    assert "ALLOW_INSECURE_SECRET_KEY=1" in str(refused.value)


def test_production_refuses_the_test_secret_key_even_padded_to_length(redis_url):
    """A key known from the repository is refused whatever its length; the test one is
    short as well, so it is also tried with blanks around it."""
    for key in (config.TestConfig.SECRET_KEY, f"  {config.DevelopmentConfig.SECRET_KEY}  "):
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            production_app(redis_url, SECRET_KEY=key)


def test_a_deliberate_development_secret_key_is_allowed_and_logged(redis_url, caplog):
    with caplog.at_level(logging.WARNING):
        app = production_app(
            redis_url,
            SECRET_KEY=config.DevelopmentConfig.SECRET_KEY,
            ALLOW_INSECURE_SECRET_KEY=True,
        )
    assert app.config["SECRET_KEY"] == config.DevelopmentConfig.SECRET_KEY
    assert _warned(caplog, "ALLOW_INSECURE_SECRET_KEY")


def _string_values_of(setting: str) -> set[str]:
    """Every string literal given to ``setting`` anywhere in the repository's Python: an
    assignment (``SECRET_KEY = "..."``, ``cfg["SECRET_KEY"] = "..."``, or a constant named
    like it, ``TEST_SECRET_KEY = "..."``), a keyword argument (``create_app(...,
    SECRET_KEY="...")``) or a dict entry. Strings passed to a call (the name in
    ``os.environ.get("SECRET_KEY")``) or put together with one are not literal values."""
    found: set[str] = set()

    def strings(node) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, (ast.Call, ast.BinOp, ast.JoinedStr)):
            return set()  # made at run time (a random key with a prefix, an f-string)
        return {s for child in ast.iter_child_nodes(node) for s in strings(child)}

    def is_setting(name: str) -> bool:
        return name == setting or (name.endswith("_" + setting) and not name.startswith("STRIPE_"))

    def names(target) -> bool:
        if isinstance(target, ast.Name):
            return is_setting(target.id)
        if isinstance(target, ast.Attribute):
            return is_setting(target.attr)
        if isinstance(target, ast.Subscript):
            return isinstance(target.slice, ast.Constant) and target.slice.value == setting
        return False

    for path in product_and_test_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Assign):
                given = any(names(t) for t in node.targets)
            elif isinstance(node, ast.AnnAssign):
                given = node.value is not None and names(node.target)
            elif isinstance(node, ast.keyword):
                given = node.arg == setting
            else:
                given = False
            if given:
                found |= strings(node.value)
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == setting:
                        found |= strings(value)
    return found


def product_and_test_files():
    root = Path(__file__).resolve().parents[2]
    return [
        path
        for path in root.rglob("*.py")
        if not any(part.startswith(".") or part in {"build", "dist"} for part in path.parts)
    ]


def test_every_secret_key_written_in_the_repository_is_refused_in_production(redis_url):
    """Guards the list of known keys: a key added anywhere in the code or the tests later
    (a demo, a benchmark) must be refused too, or be added to the list."""
    keys = _string_values_of("SECRET_KEY")
    assert config.DevelopmentConfig.SECRET_KEY in keys and config.TestConfig.SECRET_KEY in keys
    for key in keys:
        with pytest.raises(RuntimeError, match="SECRET_KEY"):
            production_app(redis_url, SECRET_KEY=key)


@pytest.mark.parametrize("secret", ["", "   ", "\t\n", None])
def test_production_refuses_a_blank_webhook_secret(redis_url, secret):
    with pytest.raises(RuntimeError) as refused:
        production_app(redis_url, STRIPE_WEBHOOK_SECRET=secret)
    assert "STRIPE_WEBHOOK_SECRET" in str(refused.value)
    assert "ALLOW_INSECURE_WEBHOOK_SECRET=1" in str(refused.value)


def test_every_webhook_secret_written_in_the_repository_is_refused_in_production(redis_url):
    secrets_found = _string_values_of("STRIPE_WEBHOOK_SECRET")
    assert config.TestConfig.STRIPE_WEBHOOK_SECRET in secrets_found
    for secret in secrets_found:
        with pytest.raises(RuntimeError, match="STRIPE_WEBHOOK_SECRET"):
            production_app(redis_url, STRIPE_WEBHOOK_SECRET=secret)


def test_a_deliberate_blank_webhook_secret_is_allowed_logged_and_accepts_no_event(
    redis_url, caplog
):
    """Allowed, the blank secret must not become a key anyone can sign with: every event is
    refused, whatever its signature (the reconciler still settles charges without them)."""
    with caplog.at_level(logging.WARNING):
        app = production_app(
            redis_url, STRIPE_WEBHOOK_SECRET="  ", ALLOW_INSECURE_WEBHOOK_SECRET=True
        )
    assert _warned(caplog, "ALLOW_INSECURE_WEBHOOK_SECRET")
    payload = b'{"id": "evt_1", "type": "payment_intent.succeeded", "object": "event"}'
    for secret in ("", "  "):
        signature = stripe.WebhookSignature._compute_signature(
            f"{int(time.time())}.{payload.decode()}", secret
        )
        header = f"t={int(time.time())},v1={signature}"
        with app.test_request_context(), pytest.raises(ValueError, match="no webhook secret"):
            gateway.construct_event(payload, header)


def test_production_refuses_rate_limits_turned_off(redis_url):
    with pytest.raises(RuntimeError) as refused:
        production_app(redis_url, RATELIMIT_ENABLED=False)
    assert "RATELIMIT_ENABLED" in str(refused.value)
    assert "ALLOW_INSECURE_NO_RATELIMIT=1" in str(refused.value)


def test_rate_limits_turned_off_deliberately_are_allowed_and_logged(redis_url, caplog):
    with caplog.at_level(logging.WARNING):
        app = production_app(redis_url, RATELIMIT_ENABLED=False, ALLOW_INSECURE_NO_RATELIMIT=True)
    assert app.config["RATELIMIT_ENABLED"] is False
    assert _warned(caplog, "ALLOW_INSECURE_NO_RATELIMIT")


def test_production_refuses_cookies_over_plain_http(redis_url):
    with pytest.raises(RuntimeError) as refused:
        production_app(redis_url, SESSION_COOKIE_SECURE=False, FORCE_HTTPS=False)
    message = str(refused.value)
    assert "SESSION_COOKIE_SECURE" in message and "FORCE_HTTPS" in message
    assert "ALLOW_INSECURE_HTTP_COOKIES=1" in message


def test_either_secure_cookies_or_forced_https_is_enough(redis_url):
    production_app(redis_url, SESSION_COOKIE_SECURE=False, FORCE_HTTPS=True)
    production_app(redis_url, SESSION_COOKIE_SECURE=True, FORCE_HTTPS=False)


def test_cookies_over_plain_http_deliberately_are_allowed_and_logged(redis_url, caplog):
    with caplog.at_level(logging.WARNING):
        production_app(
            redis_url,
            SESSION_COOKIE_SECURE=False,
            FORCE_HTTPS=False,
            ALLOW_INSECURE_HTTP_COOKIES=True,
        )
    assert _warned(caplog, "ALLOW_INSECURE_HTTP_COOKIES")


def test_production_names_every_unsafe_setting_at_once(redis_url):
    with pytest.raises(RuntimeError) as refused:
        production_app(
            redis_url,
            SECRET_KEY=config.DevelopmentConfig.SECRET_KEY,
            STRIPE_WEBHOOK_SECRET="",
            RATELIMIT_ENABLED=False,
            SESSION_COOKIE_SECURE=False,
            FORCE_HTTPS=False,
        )
    for name in (
        "ALLOW_INSECURE_SECRET_KEY",
        "ALLOW_INSECURE_WEBHOOK_SECRET",
        "ALLOW_INSECURE_NO_RATELIMIT",
        "ALLOW_INSECURE_HTTP_COOKIES",
    ):
        assert name in str(refused.value)


def _warned(caplog, name: str) -> bool:
    return any(r.levelno == logging.WARNING and name in r.getMessage() for r in caplog.records)


def test_production_cookies_are_secure_and_https_is_forced():
    assert config.ProductionConfig.SESSION_COOKIE_SECURE is True
    assert config.ProductionConfig.FORCE_HTTPS is True
    assert config.Config.SESSION_COOKIE_HTTPONLY is True
    assert config.Config.SESSION_COOKIE_SAMESITE == "Lax"


def test_unknown_environment_name_is_an_error(monkeypatch):
    monkeypatch.setenv("MARKETPLACE_ENV", "staging")
    with pytest.raises(RuntimeError, match="staging"):
        config.config_from_env()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_use_psycopg3(given, expected):
    assert config.normalise_database_url(given) == expected
